// Raw deflate with a bound on the output: a zip member's bytes (archive.ts), refused beyond the size the
// member declares, so that a small compressed member cannot inflate into gigabytes.
import { inflateRaw, inflateRawSync } from 'node:zlib';

/**
 * Members that declare at most this many bytes are inflated on the event loop: a wheel's METADATA is a few
 * KiB, which zlib inflates in microseconds, where a stream on libuv's thread pool cost 0.17 ms each (its
 * state, a hand-off to the pool and back). The output is bounded by the declared size either way.
 */
const INLINE_INFLATE_BYTES = 256 << 10;

/** Raw-deflate `raw`, refusing output beyond `limit` bytes; null when it is not valid deflate data. */
export async function inflateBounded(raw: Buffer, limit: number): Promise<Buffer | null> {
  const options = { maxOutputLength: Math.max(limit, 1) };
  if (limit <= INLINE_INFLATE_BYTES) {
    try {
      return inflateRawSync(raw, options);
    } catch {
      return null;
    }
  }
  return new Promise((resolve) => {
    inflateRaw(raw, options, (err, result) => {
      resolve(err === null ? result : null);
    });
  });
}
