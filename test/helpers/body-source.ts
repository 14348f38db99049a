// Response bodies for the fake upstream: in-memory buffers, or large deterministic generated files that are
// produced chunk by chunk and never held in memory.
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export const CHUNK_BYTES = 64 * 1024;

export interface BodySource {
  readonly size: number;
  /** The bytes in [start, end), in chunks of at most `maxChunk` bytes. Chunks are never reused by the caller. */
  chunks(start: number, end: number, maxChunk?: number): Iterable<Buffer>;
}

export function bufferBody(bytes: Buffer): BodySource {
  return {
    size: bytes.length,
    *chunks(start, end, maxChunk = CHUNK_BYTES) {
      for (let at = start; at < end; at += maxChunk) yield bytes.subarray(at, Math.min(end, at + maxChunk));
    },
  };
}

/**
 * A body of `size` bytes made of a 64 KiB pattern derived from `seed`; the first 8 bytes of every 64 KiB
 * block hold the block's index (big-endian), so a chunk written at the wrong offset changes the hash.
 */
export function generatedBody(size: number, seed: string): BodySource {
  const pattern = Buffer.alloc(CHUNK_BYTES);
  for (let i = 0; i < CHUNK_BYTES / 32; i++) {
    createHash('sha256')
      .update(`${seed}:${i}`)
      .digest()
      .copy(pattern, i * 32);
  }
  const block = (index: number): Buffer => {
    const copy = Buffer.from(pattern);
    copy.writeBigUInt64BE(BigInt(index), 0);
    return copy;
  };
  return {
    size,
    *chunks(start, end, maxChunk = CHUNK_BYTES) {
      let at = start;
      while (at < end) {
        const index = Math.floor(at / CHUNK_BYTES);
        const blockStart = index * CHUNK_BYTES;
        const from = at - blockStart;
        const to = Math.min(CHUNK_BYTES, end - blockStart, from + maxChunk);
        const bytes = block(index);
        yield from === 0 && to === CHUNK_BYTES ? bytes : bytes.subarray(from, to);
        at = blockStart + to;
      }
    },
  };
}

/** sha256 of a whole body, streaming, yielding to the event loop every 16 MiB. */
export async function hashBody(body: BodySource): Promise<string> {
  const hash = createHash('sha256');
  let sinceYield = 0;
  for (const chunk of body.chunks(0, body.size)) {
    hash.update(chunk);
    sinceYield += chunk.length;
    if (sinceYield >= 16 * 1024 * 1024) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return hash.digest('hex');
}
