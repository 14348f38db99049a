// Where a download's bytes go while it streams: into its temp file, and through the digests that verify it.
// Two kinds: this file's, for files below LARGE_FILE_BYTES (or of unknown size), which writes the received
// chunks themselves and hashes on the event loop; and slots.ts's, for large files.
import { fdatasync, writev } from 'node:fs';
import { IntegrityError, StoreError } from '../errors.js';
import { createHash } from './hash.js';

/** Files at least this large go through slots.ts (direct writes, hashing thread). */
export const LARGE_FILE_BYTES = 8 << 20;

/** Files of a known size at most this large are held whole, then written in one call (createHeldSink). */
export const SMALL_FILE_BYTES = 64 << 10;

/** Bytes written between two background fdatasyncs of a file written through the page cache. */
const BACKGROUND_FLUSH_BYTES = 32 << 20;

/** Received bytes gathered into one pwritev on libuv's thread pool while another write of the file runs. */
const WRITE_BATCH_BYTES = 1 << 20;

/** Writes of one file in flight at once. They are positional, so they may finish in any order. */
const WRITES_IN_FLIGHT = 2;

/** Received bytes waiting for a write above which the source is paused (the socket then stops being read). */
const WRITE_QUEUE_BYTES = 4 << 20;

/** A download's bytes on their way into its temp file and its digests. */
export interface FileSink {
  /** Takes the next bytes of the file. false: pause the source until `onRoom`. */
  push(chunk: Buffer): boolean;
  /**
   * After the source ended: resolves, once every byte is written to the temp file (not yet fdatasynced),
   * with the hex digests in the order the algorithms were named; rejects with the first failure.
   */
  finish(): Promise<string[]>;
  /** A failed download: drops what is queued; resolves once no write uses the temp file's descriptor. */
  abort(): Promise<void>;
}

export interface SinkEvents {
  /** A paused source may go on. */
  onRoom(): void;
  /** Writing or hashing failed (the disk, or the hashing thread): the download fails with `err`. */
  onFailure(err: Error): void;
}

/** A failure of the local disk, named by path and errno code (ENOSPC, EIO, EROFS, ...). */
export function diskError(err: unknown, path: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const what = err instanceof Error ? err.message : String(err);
  // Node's messages start with the code ("ENOSPC: no space left on device, write"); others get it added.
  const text = typeof code !== 'string' || what.startsWith(code) ? what : `${code}: ${what}`;
  return new StoreError('STORE_IO', `${path}: ${text}`, { cause: err });
}

/**
 * The sink for files below LARGE_FILE_BYTES: hashes each chunk on the event loop and writes the chunks
 * themselves (no copy) through the page cache, with a background fdatasync every BACKGROUND_FLUSH_BYTES so
 * that the kernel writes the file back during the download rather than all at the end.
 */
export function createBufferedSink(
  fd: number,
  path: string,
  algorithms: readonly string[],
  events: SinkEvents,
): FileSink {
  const hashes = algorithms.map((algo) => createHash(algo));
  const writer = createFileWriter(fd, path, events);
  let pushed = 0;
  let flushedAt = 0;
  let flushing: Promise<void> | null = null;
  return {
    push(chunk) {
      for (const hash of hashes) hash.update(chunk);
      pushed += chunk.length;
      if (flushing === null && pushed - flushedAt >= BACKGROUND_FLUSH_BYTES) {
        flushedAt = pushed;
        flushing = new Promise<void>((resolve, reject) =>
          fdatasync(fd, (err) => (err === null ? resolve() : reject(diskError(err, path)))),
        ).finally(() => (flushing = null));
        flushing.catch(() => {}); // awaited in finish and abort
      }
      return writer.push(chunk);
    },
    async finish() {
      await writer.drained();
      if (flushing !== null) await flushing;
      return hashes.map((h) => h.digest('hex'));
    },
    async abort() {
      await writer.idle();
      await (flushing as Promise<void> | null)?.catch(() => {});
    },
  };
}

/** A small file's sink (createHeldSink): its bytes are held, not written. */
export interface HeldSink extends FileSink {
  /** After `finish` resolved: the file's bytes (once; the sink then holds nothing). */
  take(): Buffer;
}

/**
 * The sink for a file of a known size of at most SMALL_FILE_BYTES: hashes each chunk on the event loop and
 * holds the chunks, for the upload to write in one call when it commits (local.ts). A body longer than
 * `size` fails as soon as it is, so no more than `size` bytes are ever held.
 */
export function createHeldSink(
  path: string,
  size: number,
  algorithms: readonly string[],
  events: SinkEvents,
): HeldSink {
  const hashes = algorithms.map((algo) => createHash(algo));
  let held: Buffer[] = [];
  let pushed = 0;
  let failure: Error | null = null;
  let bytes: Buffer | null = null;
  return {
    push(chunk) {
      if (failure !== null) return true;
      pushed += chunk.length;
      if (pushed > size) {
        held = [];
        failure = new IntegrityError('INTEGRITY_SIZE', `${path}: more than the expected ${size} bytes`);
        events.onFailure(failure);
        return true;
      }
      for (const hash of hashes) hash.update(chunk);
      held.push(chunk);
      return true;
    },
    async finish() {
      if (failure !== null) throw failure;
      bytes = held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held);
      held = [];
      return hashes.map((h) => h.digest('hex'));
    },
    take() {
      if (bytes === null) throw new Error(`${path}: the held bytes were taken, or never finished`);
      const taken = bytes;
      bytes = null;
      return taken;
    },
    async abort() {
      held = [];
      bytes = null;
    },
  };
}

/** Appends a download's chunks to its temp file, with positional writes on libuv's thread pool. */
interface FileWriter {
  /** Queues `chunk` after the bytes pushed before it. false: the queue is full, pause the source until onRoom. */
  push(chunk: Buffer): boolean;
  /** Writes what is queued; resolves once every pushed byte is in the file, or rejects with the failure. */
  drained(): Promise<void>;
  /** Drops what is queued; resolves once no write is in flight (failures ignored). */
  idle(): Promise<void>;
}

/**
 * Chunks gather into batches of WRITE_BATCH_BYTES; up to WRITES_IN_FLIGHT batches are written at once with
 * pwritev, each at its own offset, while the event loop goes on receiving and hashing. Measured on 1 GiB
 * (README "Benchmark"): with the file served by nginx, 1.4-1.6 s against 2.2-2.4 s for write(2) from the
 * event loop, which then stopped receiving while the kernel copied each chunk into the page cache.
 */
function createFileWriter(fd: number, path: string, events: SinkEvents): FileWriter {
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
