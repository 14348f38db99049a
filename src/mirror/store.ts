// Verified file store: stream into a hidden temp file beside the target, hash while streaming, check size
// and digest against upstream, fsync, rename into place. A file that fails is never published.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../errors.js';
import type { Upstream } from '../upstream/types.js';
import { isNotFound, tempPathFor } from '../util/fs.js';

/** Digests we can check, best first (hashlib names, as they appear in PEP 503 fragments and PEP 691). */
const VERIFY_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

export interface Expected {
  readonly hashes: Readonly<Record<string, string>>;
  readonly size: number | null;
}

export interface StoredFile {
  readonly sha256: string;
  readonly size: number;
  /** The upstream digest that was checked, or null when upstream gave none we support. */
  readonly verifiedWith: string | null;
}

/** Picks the digest to verify against: sha256 when upstream gave it, else the strongest we support. */
export function chooseVerification(
  hashes: Readonly<Record<string, string>>,
): { algo: string; hex: string } | null {
  for (const algo of VERIFY_ALGORITHMS) {
    const hex = hashes[algo];
    if (hex !== undefined) return { algo, hex };
  }
  return null;
}

/** Hashes and counts bytes passing through; fails as soon as more than `maxBytes` arrive. */
class Meter extends Transform {
  bytes = 0;
  readonly sha256: Hash = createHash('sha256');
  readonly check: Hash | null;
  constructor(
    checkAlgo: string | null,
    private readonly maxBytes: number | null,
    private readonly label: string,
  ) {
    super();
    this.check = checkAlgo === null || checkAlgo === 'sha256' ? null : createHash(checkAlgo);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.maxBytes !== null && this.bytes > this.maxBytes) {
      done(
        new IntegrityError('INTEGRITY_SIZE', `${this.label}: more than the expected ${this.maxBytes} bytes`),
      );
      return;
    }
    this.sha256.update(chunk);
    this.check?.update(chunk);
    done(null, chunk);
  }
}

/**
 * Downloads `url` to `target`, verified. On any failure (network, size, digest, abort) the temp file is
 * removed and `target` is untouched.
 */
export async function downloadVerified(
  upstream: Upstream,
  url: string,
  target: string,
  expected: Expected,
  signal: AbortSignal,
): Promise<StoredFile> {
  const check = chooseVerification(expected.hashes);
  const label = target;
  const { body, size: announced } = await upstream.fetchFile(url, signal);
  if (expected.size !== null && announced !== null && announced !== expected.size) {
    body.destroy();
    throw new IntegrityError(
      'INTEGRITY_SIZE',
      `${label}: upstream announced ${announced} bytes, its index says ${expected.size}`,
    );
  }
  const temp = tempPathFor(target);
  const meter = new Meter(check?.algo ?? null, expected.size, label);
  const handle = await open(temp, 'w', 0o644);
  try {
    await pipeline(body, meter, handle.createWriteStream({ autoClose: false }), { signal });
    const sha256 = meter.sha256.digest('hex');
    if (expected.size !== null && meter.bytes !== expected.size) {
      throw new IntegrityError(
        'INTEGRITY_SIZE',
        `${label}: got ${meter.bytes} bytes, expected ${expected.size}`,
      );
    }
    if (announced !== null && meter.bytes !== announced) {
      throw new IntegrityError(
        'INTEGRITY_SIZE',
        `${label}: got ${meter.bytes} bytes of ${announced} announced`,
      );
    }
    if (check !== null) {
      const got = check.algo === 'sha256' ? sha256 : (meter.check as Hash).digest('hex');
      if (got !== check.hex) {
        throw new IntegrityError(
          'INTEGRITY_HASH',
          `${label}: ${check.algo} is ${got}, expected ${check.hex}`,
        );
      }
    }
    await handle.sync();
    await handle.close();
    await rename(temp, target);
    return { sha256, size: meter.bytes, verifiedWith: check?.algo ?? null };
  } catch (err) {
    body.destroy();
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** sha256 and size of a file on disk, or null when it does not exist. */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number } | null> {
  try {
    const hash = createHash('sha256');
    let size = 0;
    const stream = createReadStream(path, signal === undefined ? {} : { signal });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { sha256: hash.digest('hex'), size };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Size of a file on disk, or null when it does not exist. */
export async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
