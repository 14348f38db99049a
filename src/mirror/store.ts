// Verified file store: stream into a hidden temp file beside the target, hash while streaming, check size
// and digest against upstream, fsync, rename into place. A file that fails is never published, one that
// grows past the client's largest file (max_file_size) is cut off there, and a published file is never
// overwritten: a target that exists already is refused (unless `mayReplace`).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { IntegrityError, StoreError } from '../errors.js';
import { fileTooLarge } from '../upstream/limits.js';
import { toUpstreamError } from '../upstream/retry.js';
import type { Upstream } from '../model/upstream.js';
import { isNotFound, openNewFile, regularFileSize, tempPathFor } from '../util/fs.js';
import { createBufferedSink, diskError, LARGE_FILE_BYTES, type FileSink } from './sink.js';
import { createSlotSink } from './slots.js';

/** Digests we can check, best first (hashlib names, as they appear in PEP 503 fragments and PEP 691). */
const VERIFY_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

/** Read size when hashing a file on disk (verify, and adopting a file an interrupted run left in place). */
const HASH_READ_BYTES = 1 << 20;

export interface Expected {
  readonly hashes: Readonly<Record<string, string>>;
  readonly size: number | null;
  /**
   * May the download take the place of a file already at the target? Default false: a page may link that
   * file with its own hash, so the download fails with STORE_EXISTS instead (core metadata files, which a
   * page advertises only once recorded, pass true).
   */
  readonly mayReplace?: boolean;
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

/** A verified download in its temp file, not yet in place. */
export interface Received extends StoredFile {
  /** fdatasync, close, rename into place; on failure the temp file is removed and `target` is untouched. */
  publish(): Promise<StoredFile>;
  /** Closes and removes the temp file. */
  discard(): Promise<void>;
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
  return (await receiveVerified(upstream, url, target, expected, signal)).publish();
}

/**
 * The network half of downloadVerified: streams `url` into a temp file beside `target`, checking size and
 * digest. The connection is free when this resolves; the caller publishes (or discards) the file after it
 * has let go of its connection slot. On any failure the temp file is removed.
 */
export async function receiveVerified(
  upstream: Pick<Upstream, 'fetchFile'>,
  url: string,
  target: string,
  expected: Expected,
  signal: AbortSignal,
): Promise<Received> {
  const check = chooseVerification(expected.hashes);
  const label = target;
  const temp = tempPathFor(target);
  // The temp file opens while the request waits for its answer, off the request's critical path.
  const opening = openNewFile(temp); // 0644 whatever the umask
  opening.catch(() => {}); // awaited below
  const removeTemp = async (): Promise<void> => {
    const handle = await opening.catch(() => null);
    if (handle === null) return;
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
  };
  let body: Readable;
  let announced: number | null;
  let maxSize: number;
  try {
    const response = await upstream.fetchFile(url, signal, { size: expected.size });
    ({ body, size: announced } = response);
    maxSize = response.maxSize ?? Infinity;
  } catch (err) {
    await removeTemp();
    throw err;
  }
  // Listening from here on: an error of the body while the temp file opens is caught, not thrown.
  const ended = finished(body);
  ended.catch(() => {}); // awaited below
  let sink: FileSink | null = null;
  try {
    if (expected.size !== null && announced !== null && announced !== expected.size) {
      throw new IntegrityError(
        'INTEGRITY_SIZE',
        `${label}: upstream announced ${announced} bytes, its index says ${expected.size}`,
      );
    }
    const handle = await opening.catch((err: unknown) => {
      throw diskError(err, temp);
    });
    // The event loop receives; the sink writes (libuv's thread pool) and hashes (for a large file, the
    // hashing thread). The body pauses while the sink has too much to do, and resumes when it has room.
    const algorithms = check === null || check.algo === 'sha256' ? ['sha256'] : ['sha256', check.algo];
    const events = {
      onRoom: () => void body.resume(),
      onFailure: (err: Error) => void body.destroy(err), // ends `ended` with this error
    };
    const size = expected.size ?? announced;
    sink =
      size !== null && size >= LARGE_FILE_BYTES
        ? await createSlotSink(handle.fd, temp, algorithms, events)
        : createBufferedSink(handle.fd, temp, algorithms, events);
    const into = sink;
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (expected.size !== null && bytes > expected.size) {
        body.destroy(
          new IntegrityError('INTEGRITY_SIZE', `${label}: more than the expected ${expected.size} bytes`),
        );
      } else if (bytes > maxSize) {
        // No size declared nor announced (either would be at most maxSize): an endless body stops here.
        body.destroy(fileTooLarge(url, null, maxSize));
      } else if (!into.push(chunk)) body.pause();
    });
    await ended;
    const digests = await into.finish();
    signal.throwIfAborted();
    const sha256 = digests[0] as string; // in the order of `algorithms`
    const otherDigest = digests[1];
    if (expected.size !== null && bytes !== expected.size) {
      throw new IntegrityError('INTEGRITY_SIZE', `${label}: got ${bytes} bytes, expected ${expected.size}`);
    }
    if (announced !== null && bytes !== announced) {
      throw new IntegrityError('INTEGRITY_SIZE', `${label}: got ${bytes} bytes of ${announced} announced`);
    }
    if (check !== null) {
      const got = otherDigest ?? sha256;
      if (got !== check.hex) {
        throw new IntegrityError(
          'INTEGRITY_HASH',
          `${label}: ${check.algo} is ${got}, expected ${check.hex}`,
        );
      }
    }
    const stored: StoredFile = { sha256, size: bytes, verifiedWith: check?.algo ?? null };
    return {
      ...stored,
      publish: async () => {
        try {
          // fdatasync: the data and the file size, all that a reader of the renamed file needs.
          await handle.datasync();
          await handle.close();
          if (expected.mayReplace === true) await rename(temp, target);
          else await renameNoReplace(temp, target);
          return stored;
        } catch (err) {
          await handle.close().catch(() => {});
          await unlink(temp).catch(() => {});
          throw diskError(err, target);
        }
      },
      discard: removeTemp,
    };
  } catch (err) {
    body.destroy();
    // No write may still use the descriptor when removeTemp closes it (the number could be reused).
    await (sink as FileSink | null)?.abort();
    await removeTemp();
    throw toUpstreamError(err, url, signal);
  }
}

/**
 * Moves `temp` to `target` only if nothing is there: link() fails with EEXIST rather than replace, so no
 * instant sees a published file change. Where the file system has no hard links, a stat guards the rename.
 */
export async function renameNoReplace(temp: string, target: string): Promise<void> {
  const refuse = (): StoreError =>
    new StoreError(
      'STORE_EXISTS',
      `${target}: a file is already there; a published file is never overwritten with other bytes`,
    );
  try {
    await link(temp, target);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EEXIST') throw refuse();
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if ((await fileSize(target)) !== null) throw refuse();
    await rename(temp, target);
    return;
  }
  await unlink(temp).catch(() => {}); // published; a leftover hidden temp name is removed next run
}

/** sha256 and size of a file on disk, or null when it does not exist. */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number } | null> {
  try {
    const hash = createHash('sha256');
    let size = 0;
    // 1 MiB reads: hashing a 1 GiB file took 0.63 s instead of 0.9 s with the default 64 KiB.
    const stream = createReadStream(path, {
      highWaterMark: HASH_READ_BYTES,
      ...(signal === undefined ? {} : { signal }),
    });
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

/** Size of a regular file on disk (never through a symlink), or null when there is none. */
export const fileSize = regularFileSize;

export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
