// The event loop's side of the hashing thread (hash-worker.ts): starts the worker, numbers the streams it
// hashes, sends it the slots of a SlotPool (slot-pool.ts) and gives each slot back to the pool once hashed.
// The worker keeps the process alive only while a stream is being hashed (an idle daemon, or a sync that
// has finished, does not wait for it), and its owner ends it once idle (slots.ts SlotResources).
import type { HashReply, HashRequest } from './hash-worker.js';
import type { SlotPool } from './slot-pool.js';

interface ThreadStream {
  onFailure(err: Error): void;
  finish?: { resolve(digests: string[]): void; reject(err: Error): void };
}

/** One hashing thread, shared by the streams of one owner (slots.ts SlotResources). */
export interface HashingThread {
  /** A new stream hashed with `algorithms`; `onFailure` if the thread fails before its digests are out. */
  start(algorithms: readonly string[], onFailure: (err: Error) => void): number;
  /** Hashes `length` bytes of `slot` as the stream's next bytes; the pool's slot is unref'd once done. */
  hash(id: number, pool: SlotPool, slot: number, length: number): void;
  /** The stream's digests, after every slot sent before. */
  end(id: number): Promise<string[]>;
  abort(id: number): void;
  /** `pool` is gone: the thread lets go of its memory. */
  forget(pool: SlotPool): void;
  /** Ends the thread, which no stream uses any more (its owner starts another when one is needed). */
  close(): void;
}

/**
 * Starts a hashing thread. `onFailed` is called once if it fails or exits: its streams have failed, and
 * the next download needs a new thread.
 */
export function startHashingThread(onFailed: (thread: HashingThread) => void): HashingThread {
  // No Node options from the command line (--input-type, --require, loaders: not for this thread); V8 flags
  // such as --single-threaded-gc are the process's, and apply here anyway.
  // node:worker_threads loads with the first thread: a run with no large file (a no-op) does without it,
  // ~1.5 ms of its start (issue #14 part 3).
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { execArgv: [] });
  worker.unref();
  const streams = new Map<number, ThreadStream>();
  /** Slots sent and not yet hashed, all of one pool (a pool is replaced only once all its slots are free). */
  const outstanding = new Set<number>();
  let sentPool: SlotPool | null = null;
  let nextId = 1;
  let isClosing = false;
  const post = (message: HashRequest): void => worker.postMessage(message);
  const remove = (id: number): void => {
    if (streams.delete(id) && streams.size === 0) worker.unref();
  };
  const thread: HashingThread = {
    start(algorithms, onFailure) {
      const id = nextId++;
      if (streams.size === 0) worker.ref();
      streams.set(id, { onFailure });
      post({ id, start: algorithms });
      return id;
    },
    hash(id, pool, slot, length) {
      if (sentPool !== pool) {
        sentPool = pool;
        post({ memory: pool.memory });
      }
      outstanding.add(slot);
      post({ id, slot, length });
    },
    end(id) {
      const stream = streams.get(id);
      if (stream === undefined) return Promise.reject(new Error('hashing thread: no such stream'));
      return new Promise((resolve, reject) => {
        stream.finish = { resolve, reject };
        post({ id, end: true });
      });
    },
    abort(id) {
      if (!streams.has(id)) return;
      remove(id);
      post({ id, abort: true });
    },
    forget(pool) {
      if (sentPool !== pool) return;
      sentPool = null;
      post({ memory: null });
    },
    close() {
      isClosing = true;
      void worker.terminate();
    },
  };
  const fail = (err: Error): void => {
    onFailed(thread);
    const failed = [...streams.values()];
    streams.clear();
    worker.unref();
    const pool = sentPool;
    sentPool = null;
    for (const stream of failed) {
      stream.onFailure(err);
      stream.finish?.reject(err);
    }
    const slots = [...outstanding];
    outstanding.clear();
    for (const slot of slots) pool?.unref(slot);
  };
  worker.on('message', (reply: HashReply) => {
    if ('slot' in reply) {
      outstanding.delete(reply.slot);
      sentPool?.unref(reply.slot);
    } else {
      const stream = streams.get(reply.id);
      remove(reply.id);
      stream?.finish?.resolve(reply.digests);
    }
  });
  worker.on('error', (err) => fail(new Error(`hashing thread failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => {
    if (!isClosing) fail(new Error(`hashing thread exited with code ${code}`));
  });
  return thread;
}
