// Digests of a download as it streams: on the event loop, or for a large file on a hashing thread, so that
// on a machine with a second core, receiving (event loop), hashing (this thread) and copying into the page
// cache (libuv's thread pool) overlap. Measured on 1 GiB served by nginx on loopback (README "Benchmark").
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-worker.js';

/** Files at least this large are hashed on the hashing thread (when there is more than one core). */
export const OFFLOAD_MIN_BYTES = 8 << 20;

/** Bytes copied into one batch for the hashing thread (one copy, then transferred, not cloned). */
const BATCH_BYTES = 1 << 20;

/** Batch buffers kept for reuse while any stream is hashed (the hashing thread sends each back once hashed). */
const SPARE_BATCHES = 16;

/** Bytes sent to the hashing thread and not yet hashed above which the source should pause. */
const IN_FLIGHT_BYTES = 8 << 20;

export interface StreamHasher {
  /** Hashes `chunk` after the bytes before it. false: too much in flight, pause until `onRoom`. */
  update(chunk: Buffer): boolean;
  /** The hex digests of everything updated, in the order of `algorithms`. */
  digest(): Promise<string[]>;
  /** Drops the stream (a failed download); no digest follows. */
  abort(): void;
}

/**
 * A hasher for `algorithms` (hashlib names). `size` is the size the download is expected to have (null:
 * unknown); large ones go to the hashing thread. `onRoom` is called when a paused source may go on;
 * `onFailure` when the hashing thread failed (a bug or an exhausted machine; the download then fails).
 */
export function createStreamHasher(
  algorithms: readonly string[],
  size: number | null,
  events: { onRoom(): void; onFailure(err: Error): void },
): StreamHasher {
  if (size === null || size < OFFLOAD_MIN_BYTES || availableParallelism() < 2) {
    const hashes = algorithms.map((algo) => createHash(algo));
    return {
      update(chunk) {
        for (const hash of hashes) hash.update(chunk);
        return true;
      },
      digest: () => Promise.resolve(hashes.map((h) => h.digest('hex'))),
      abort() {},
    };
  }
  return offloaded(algorithms, events);
}

function offloaded(
  algorithms: readonly string[],
  events: { onRoom(): void; onFailure(err: Error): void },
): StreamHasher {
  const thread = hashingThread();
  const id = thread.nextId++;
  let memory: ArrayBuffer | null = null; // the batch being filled
  let batch = Buffer.alloc(0); // a view of `memory`
  let batched = 0;
  let inFlight = 0;
  let isFull = false;
  let finish: { resolve(digests: string[]): void; reject(err: Error): void } | null = null;
  let failure: Error | null = null;
  const send = (): void => {
    if (memory === null) return;
    thread.post({ id, data: memory, length: batched }, [memory]);
    inFlight += batched;
    memory = null;
    batched = 0;
  };
  thread.add(id, {
    onReply(reply) {
      if ('acked' in reply) {
        inFlight -= reply.acked;
        if (isFull && inFlight < IN_FLIGHT_BYTES) {
          isFull = false;
          events.onRoom();
        }
      } else {
        thread.remove(id);
        finish?.resolve(reply.digests);
      }
    },
    onFailure(err) {
      failure = err;
      finish?.reject(err);
      events.onFailure(err);
    },
  });
  thread.post({ id, start: algorithms });
  return {
    update(chunk) {
      if (failure !== null) return true;
      // One copy, into the batch buffer (the chunk itself goes on to the file writer).
      for (let at = 0; at < chunk.length;) {
        if (memory === null) {
          memory = thread.takeBuffer();
          batch = Buffer.from(memory);
        }
        const copied = chunk.copy(batch, batched, at);
        batched += copied;
        at += copied;
        if (batched === batch.length) send();
      }
      if (inFlight >= IN_FLIGHT_BYTES) isFull = true;
      return !isFull;
    },
    digest() {
      if (failure !== null) return Promise.reject(failure);
      send();
      return new Promise((resolve, reject) => {
        finish = { resolve, reject };
        thread.post({ id, end: true });
      });
    },
    abort() {
      if (memory !== null) thread.giveBack(memory);
      memory = null;
      if (!thread.remove(id)) return;
      thread.post({ id, abort: true });
    },
  };
}

interface ThreadStream {
  onReply(reply: HashReply): void;
  onFailure(err: Error): void;
}

interface HashingThread {
  nextId: number;
  add(id: number, stream: ThreadStream): void;
  /** false if the stream was not there (finished, failed or removed before). */
  remove(id: number): boolean;
  post(message: HashRequest, transfer?: ArrayBuffer[]): void;
  /** Memory for a batch of BATCH_BYTES, reused when some is spare. */
  takeBuffer(): ArrayBuffer;
  /** Memory back from the hashing thread (or never used). */
  giveBack(data: ArrayBuffer): void;
}

let current: HashingThread | null = null;

/**
 * The process's hashing thread, started on first use. It keeps the process alive only while a stream is
 * being hashed (an idle daemon, or a sync that has finished, does not wait for it).
 */
function hashingThread(): HashingThread {
  if (current !== null) return current;
  // No Node options from the command line (--input-type, --require, loaders: not for this thread); V8 flags
  // such as --single-threaded-gc are the process's, and apply here anyway.
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { execArgv: [] });
  worker.unref();
  const streams = new Map<number, ThreadStream>();
  const spares: ArrayBuffer[] = [];
  const thread: HashingThread = {
    nextId: 1,
    add(id, stream) {
      if (streams.size === 0) worker.ref();
      streams.set(id, stream);
    },
    remove(id) {
      if (!streams.delete(id)) return false;
      if (streams.size === 0) {
        worker.unref();
        spares.length = 0; // an idle daemon holds no batch memory
      }
      return true;
    },
    post: (message, transfer) => worker.postMessage(message, transfer),
    takeBuffer: () => spares.pop() ?? new ArrayBuffer(BATCH_BYTES),
    giveBack: (data) => {
      if (streams.size > 0 && spares.length < SPARE_BATCHES && data.byteLength === BATCH_BYTES)
        spares.push(data);
    },
  };
  const fail = (err: Error): void => {
    if (current === thread) current = null; // the next download starts a new thread
    const failed = [...streams.values()];
    streams.clear();
    worker.unref();
    for (const stream of failed) stream.onFailure(err);
  };
  worker.on('message', (reply: HashReply) => {
    if ('acked' in reply) thread.giveBack(reply.data); // also for a stream aborted meanwhile
    streams.get(reply.id)?.onReply(reply);
  });
  worker.on('error', (err) => fail(new Error(`hashing thread failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => fail(new Error(`hashing thread exited with code ${code}`)));
  current = thread;
  return thread;
}
