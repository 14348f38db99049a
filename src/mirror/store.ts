// Verified download, the network half of storing a file: stream the body into an invisible upload of its key
// (storage/types.ts beginFile: on the local file system a hidden temp file beside the target), hashed while
// it streams, check size and digest against upstream, then commit. A file that fails is never published,
// one that grows past the client's largest file (max_file_size) is cut off there, and a published file is
// never overwritten: a key that holds a file already is refused (unless `mayReplace`).
import { finished } from 'node:stream/promises';
import { IntegrityError } from '../errors.js';
import type { FileUpload, Storage } from '../storage/types.js';
import { fileTooLarge } from '../upstream/limits.js';
import { toUpstreamError } from '../upstream/retry.js';
import type { Upstream } from '../model/upstream.js';

/** Digests we can check, best first (hashlib names, as they appear in PEP 503 fragments and PEP 691). */
const VERIFY_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

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

/** A verified download, not yet visible under its key. */
export interface Received extends StoredFile {
  /** Makes it visible and durable (Storage FileUpload.commit); on failure it is gone and the key untouched. */
  publish(): Promise<StoredFile>;
  /** Drops it. */
  discard(): Promise<void>;
}

/**
 * Downloads `url` to the tree's `key`, verified. On any failure (network, size, digest, abort) nothing is
 * left and `key` is untouched.
 */
export async function downloadVerified(
  upstream: Upstream,
  url: string,
  storage: Storage,
  key: string,
  expected: Expected,
  signal: AbortSignal,
): Promise<StoredFile> {
  return (await receiveVerified(upstream, url, storage, key, expected, signal)).publish();
}

/**
 * The network half of downloadVerified: streams `url` into an upload of `key` (storage.beginFile), checking
 * size and digest. The connection is free when this resolves; the caller publishes (or discards) the file
 * after it has let go of its connection slot. On any failure the upload is aborted.
 */
export async function receiveVerified(
  upstream: Pick<Upstream, 'fetchFile'>,
  url: string,
  storage: Storage,
  key: string,
  expected: Expected,
  signal: AbortSignal,
): Promise<Received> {
  const check = chooseVerification(expected.hashes);
  const label = storage.describe(key);
  const {
    body,
    size: announced,
    maxSize = Infinity,
  } = await upstream.fetchFile(url, signal, {
    size: expected.size,
  });
  // Listening from here on: an error of the body while the upload begins is caught, not thrown.
  const ended = finished(body);
  ended.catch(() => {}); // awaited below
  let upload: FileUpload | null = null;
  try {
    if (expected.size !== null && announced !== null && announced !== expected.size) {
      throw new IntegrityError(
        'INTEGRITY_SIZE',
        `${label}: upstream announced ${announced} bytes, its index says ${expected.size}`,
      );
    }
    // The event loop receives; the upload writes (libuv's thread pool) and hashes (for a large file, the
    // hashing thread). The body pauses while the upload has too much to do, and resumes when it has room.
    const into = await storage.beginFile(key, {
      size: expected.size ?? announced,
      algorithms: check === null || check.algo === 'sha256' ? ['sha256'] : ['sha256', check.algo],
      events: {
        onRoom: () => void body.resume(),
        onFailure: (err: Error) => void body.destroy(err), // ends `ended` with this error
      },
    });
    upload = into;
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
        await into.commit({ mayReplace: expected.mayReplace === true, sha256 });
        return stored;
      },
      discard: () => into.abort(),
    };
  } catch (err) {
    body.destroy();
    await (upload as FileUpload | null)?.abort();
    throw toUpstreamError(err, url, signal);
  }
}
