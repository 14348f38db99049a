// Verified file store: stream into a hidden temp file beside the target, hash while streaming, check size
// and digest against upstream, fsync, rename into place. A file that fails is never published.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { IntegrityError } from '../errors.js';
import { toUpstreamError } from '../upstream/retry.js';
import type { Upstream } from '../upstream/types.js';
import { isNotFound, tempPathFor } from '../util/fs.js';

/** Digests we can check, best first (hashlib names, as they appear in PEP 503 fragments and PEP 691). */
const VERIFY_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

/** Bytes gathered before one writev: large enough to amortise the syscall, small enough to bound memory. */
const WRITE_BATCH_BYTES = 1 << 20;

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
  const handle = await open(temp, 'w', 0o644);
  try {
    const sha = createHash('sha256');
    const other = check === null || check.algo === 'sha256' ? null : createHash(check.algo);
    let bytes = 0;
    // Reading and hashing overlap with writing: chunks gather into batches of WRITE_BATCH_BYTES, and one
    // batch is written (writev) while the next one fills. One write in flight keeps the file in order.
    // (Not pipeline(): the handle must stay open for the fsync before the rename.)
    let writing: Promise<unknown> = Promise.resolve();
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      await writing;
      const chunks = batch;
      batch = [];
      batchBytes = 0;
      writing = handle.writev(chunks);
      writing.catch(() => {}); // awaited before the next batch or at the end
    };
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (expected.size !== null && bytes > expected.size) {
        throw new IntegrityError('INTEGRITY_SIZE', `${label}: more than the expected ${expected.size} bytes`);
      }
      sha.update(chunk);
      other?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    await flush();
    await writing;
    signal.throwIfAborted();
    const sha256 = sha.digest('hex');
    if (expected.size !== null && bytes !== expected.size) {
      throw new IntegrityError('INTEGRITY_SIZE', `${label}: got ${bytes} bytes, expected ${expected.size}`);
    }
    if (announced !== null && bytes !== announced) {
      throw new IntegrityError('INTEGRITY_SIZE', `${label}: got ${bytes} bytes of ${announced} announced`);
    }
    if (check !== null) {
      const got = other === null ? sha256 : other.digest('hex');
      if (got !== check.hex) {
        throw new IntegrityError(
          'INTEGRITY_HASH',
          `${label}: ${check.algo} is ${got}, expected ${check.hex}`,
        );
      }
    }
    // fdatasync: the data and the file size, all that a reader of the renamed file needs.
    await handle.datasync();
    await handle.close();
    await rename(temp, target);
    return { sha256, size: bytes, verifiedWith: check?.algo ?? null };
  } catch (err) {
    body.destroy();
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw toUpstreamError(err, url, signal);
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
