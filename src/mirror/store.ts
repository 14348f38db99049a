// Verified file store: stream into a hidden temp file beside the target, hash while streaming, check size
// and digest against upstream, fsync, rename into place. A file that fails is never published.
import { createHash } from 'node:crypto';
import { createReadStream, writev } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { IntegrityError, StoreError } from '../errors.js';
import { toUpstreamError } from '../upstream/retry.js';
import { createStreamHasher, type StreamHasher } from './hasher.js';
import type { Upstream } from '../upstream/types.js';
import { isNotFound, tempPathFor } from '../util/fs.js';

/** Digests we can check, best first (hashlib names, as they appear in PEP 503 fragments and PEP 691). */
const VERIFY_ALGORITHMS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

/** Read size when hashing a file on disk (verify, and adopting a file an interrupted run left in place). */
const HASH_READ_BYTES = 1 << 20;

/** Bytes written between two background fdatasyncs of a file being downloaded. */
const BACKGROUND_FLUSH_BYTES = 32 << 20;

/** Received bytes gathered into one pwritev on libuv's thread pool while another write of the file runs. */
const WRITE_BATCH_BYTES = 1 << 20;

/** Writes of one file in flight at once. They are positional, so they may finish in any order. */
const WRITES_IN_FLIGHT = 2;

/** Received bytes waiting for a write above which the body is paused (the socket then stops being read). */
const WRITE_QUEUE_BYTES = 4 << 20;

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
  upstream: Upstream,
  url: string,
  target: string,
  expected: Expected,
  signal: AbortSignal,
): Promise<Received> {
  const check = chooseVerification(expected.hashes);
  const label = target;
  const temp = tempPathFor(target);
  // The temp file opens while the request waits for its answer, off the request's critical path.
  const opening = open(temp, 'w', 0o644);
  opening.catch(() => {}); // awaited below
  const removeTemp = async (): Promise<void> => {
    const handle = await opening.catch(() => null);
    if (handle === null) return;
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
  };
  let body: Readable;
  let announced: number | null;
  try {
    ({ body, size: announced } = await upstream.fetchFile(url, signal));
  } catch (err) {
    await removeTemp();
    throw err;
  }
  // Listening from here on: an error of the body while the temp file opens is caught, not thrown.
  const ended = finished(body);
  ended.catch(() => {}); // awaited below
  // One background fdatasync at a time while the body streams, so that the kernel writes the file back
  // during the download instead of all at once at the end (the final fdatasync then waits for the tail only).
  let flushing: Promise<void> | null = null;
  let writer: FileWriter | null = null;
  let hasher: StreamHasher | null = null;
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
    // The event loop receives; libuv's thread pool copies into the page cache; a large file is hashed on the
    // hashing thread (hasher.ts). The body pauses while either has too much to do, and resumes when neither.
    const busy = new Set<'writing' | 'hashing'>();
    const wait = (on: 'writing' | 'hashing'): void => {
      if (busy.size === 0) body.pause();
      busy.add(on);
    };
    const goOn = (on: 'writing' | 'hashing'): void => {
      if (busy.delete(on) && busy.size === 0) body.resume();
    };
    const stop = (err: Error): void => void body.destroy(err); // ends `ended` with this error
    writer = createFileWriter(handle.fd, temp, { onRoom: () => goOn('writing'), onFailure: stop });
    const into = writer;
    const algorithms = check === null || check.algo === 'sha256' ? ['sha256'] : ['sha256', check.algo];
    hasher = createStreamHasher(algorithms, expected.size ?? announced, {
      onRoom: () => goOn('hashing'),
      onFailure: stop,
    });
    const hashes = hasher;
    let bytes = 0;
    let flushedAt = 0;
    const onChunk = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (expected.size !== null && bytes > expected.size) {
        throw new IntegrityError('INTEGRITY_SIZE', `${label}: more than the expected ${expected.size} bytes`);
      }
      if (!hashes.update(chunk)) wait('hashing');
      if (!into.push(chunk)) wait('writing');
      if (flushing === null && bytes - flushedAt >= BACKGROUND_FLUSH_BYTES) {
        flushedAt = bytes;
        flushing = handle
          .datasync()
          .catch((err: unknown) => {
            throw diskError(err, temp);
          })
          .finally(() => (flushing = null));
        flushing.catch(() => {}); // awaited before the final fdatasync
      }
    };
    body.on('data', (chunk: Buffer) => {
      try {
        onChunk(chunk);
      } catch (err) {
        body.destroy(err as Error); // ends `ended` with this error
      }
    });
    await ended;
    const [digests] = await Promise.all([hashes.digest(), into.drained()]);
    if (flushing !== null) await flushing;
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
          await rename(temp, target);
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
    (hasher as StreamHasher | null)?.abort();
    // No write may still use the descriptor when removeTemp closes it (the number could be reused).
    await (writer as FileWriter | null)?.idle();
    await (flushing as Promise<void> | null)?.catch(() => {});
    await removeTemp();
    throw toUpstreamError(err, url, signal);
  }
}

/** A failure of the local disk, named by path and errno code (ENOSPC, EIO, EROFS, ...). */
function diskError(err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const what = err instanceof Error ? err.message : String(err);
  // Node's messages start with the code ("ENOSPC: no space left on device, write"); others get it added.
  const text = typeof code !== 'string' || what.startsWith(code) ? what : `${code}: ${what}`;
  return new StoreError('STORE_IO', `${path}: ${text}`, { cause: err });
}

/** Appends a download's chunks to its temp file, with positional writes on libuv's thread pool. */
interface FileWriter {
  /** Queues `chunk` after the bytes pushed before it. false: the queue is full, pause the source until onRoom. */
  push(chunk: Buffer): boolean;
  /** Writes what is queued; resolves once every pushed byte is in the file, or rejects with the failure. */
  drained(): Promise<void>;
  /** Resolves once no write is in flight (failures ignored): the descriptor may then be closed. */
  idle(): Promise<void>;
}

/**
 * Chunks gather into batches of WRITE_BATCH_BYTES; up to WRITES_IN_FLIGHT batches are written at once with
 * pwritev, each at its own offset, while the event loop goes on receiving and hashing. Measured on 1 GiB
 * (README "Benchmark"): with the file served by nginx, 1.4-1.6 s against 2.2-2.4 s for write(2) from the
 * event loop, which then stopped receiving while the kernel copied each chunk into the page cache.
 */
function createFileWriter(
  fd: number,
  path: string,
  events: { onRoom(): void; onFailure(err: StoreError): void },
): FileWriter {
  let queue: Buffer[] = [];
  let queued = 0;
  let position = 0;
  let inFlight = 0;
  let isEnding = false;
  let isFull = false;
  let failure: StoreError | null = null;
  let waiters: (() => void)[] = [];

  const fail = (err: unknown): void => {
    if (failure !== null) return;
    failure = diskError(err, path);
    events.onFailure(failure);
  };
  const write = (buffers: Buffer[], at: number, length: number): void => {
    inFlight++;
    writev(fd, buffers, at, (err, written) => {
      inFlight--;
      if (err !== null) fail(err);
      else if (written === 0) fail(new Error(`wrote 0 of ${length} bytes at offset ${at}`));
      else if (written < length) {
        // A short write (the disk filled up, a file size limit): the rest, which then fails with the reason.
        write(rest(buffers, written), at + written, length - written);
        return;
      }
      pump();
    });
  };
  const pump = (): void => {
    while (
      failure === null &&
      queued > 0 &&
      inFlight < WRITES_IN_FLIGHT &&
      (inFlight === 0 || isEnding || queued >= WRITE_BATCH_BYTES)
    ) {
      let length = 0;
      let count = 0;
      while (count < queue.length && length < WRITE_BATCH_BYTES) length += (queue[count++] as Buffer).length;
      const batch = queue.slice(0, count);
      queue = queue.slice(count);
      queued -= length;
      write(batch, position, length);
      position += length;
    }
    if (isFull && (queued < WRITE_QUEUE_BYTES || failure !== null)) {
      isFull = false;
      if (failure === null) events.onRoom();
    }
    if (inFlight === 0 && (queued === 0 || failure !== null)) {
      const settled = waiters;
      waiters = [];
      for (const wake of settled) wake();
    }
  };
  const settle = (): Promise<void> =>
    inFlight === 0 && (queued === 0 || failure !== null)
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push(resolve));

  return {
    push(chunk) {
      if (failure !== null || chunk.length === 0) return true;
      queue.push(chunk);
      queued += chunk.length;
      pump();
      if (queued >= WRITE_QUEUE_BYTES) isFull = true;
      return !isFull;
    },
    async drained() {
      isEnding = true;
      pump();
      await settle();
      if (failure !== null) throw failure;
    },
    async idle() {
      queue = [];
      queued = 0;
      await settle();
    },
  };
}

/** `buffers` without their first `skip` bytes. */
function rest(buffers: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const buffer of buffers) {
    if (left >= buffer.length) left -= buffer.length;
    else {
      out.push(left === 0 ? buffer : buffer.subarray(left));
      left = 0;
    }
  }
  return out;
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
