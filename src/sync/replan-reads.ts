// Reads ahead what a re-plan of many projects from their records needs (run.ts, issue #14 part 4): each
// project's record and the names in its directory, on a thread of its own (replan-read-worker.ts), in
// batches, a bounded window ahead of the projects being planned. On the event loop, a record cost four
// thread-pool round trips (open, fstat, read, close) and a listing one more, each a switch between threads
// on a small machine: most of a 100 000-project re-plan. Only for a local tree and many projects; anything
// the thread could not read is read again the usual way, which fails the project as it would have.
import { parseRecord } from '../mirror/state.js';
import type { ProjectRecord } from '../model/record.js';
import { recordKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import type { ReplanRead, ReplanReadReply, ReplanReadRequest } from './replan-read-worker.js';

/** Projects per message to the thread. */
const BATCH = 64;
/** Batches asked for ahead of the last one taken: a bound on the records held, read and not yet planned. */
const BATCHES_AHEAD = 8;
/** Fewer re-planned projects than this are read the usual way (the thread costs a start and its memory). */
const MIN_PROJECTS = 1000;

/** What was read ahead of one project: its record (null: none) and the regular files in its directory. */
interface ReadAhead {
  readonly record: ProjectRecord | null;
  readonly files: readonly string[];
}

export interface ReplanReads {
  /** What was read ahead for `name`, or null: then read it the usual way. A record that is not one throws. */
  take(name: string): Promise<ReadAhead | null>;
  /** Ends the thread. */
  close(): Promise<void>;
}

/**
 * The reads ahead of `names` (the order they will be taken in, roughly), or null when they are read the
 * usual way: a tree that is not local, or fewer than `minProjects`.
 */
export function startReplanReads(
  storage: Storage,
  names: readonly string[],
  minProjects = MIN_PROJECTS,
): ReplanReads | null {
  const root = storage.localRoot();
  if (root === null || names.length === 0 || names.length < minProjects) return null;
  // No Node options from the command line for this thread (as the hashing thread).
  const { Worker } = process.getBuiltinModule('node:worker_threads'); // loaded when needed, as hashing-thread.ts
  const worker = new Worker(new URL('./replan-read-worker.js', import.meta.url), { execArgv: [] });
  const batchOf = new Map<string, number>();
  names.forEach((name, i) => batchOf.set(name, Math.floor(i / BATCH)));
  const batches = new Map<number, Promise<Map<string, ReplanRead>>>();
  const waiting = new Map<number, (reads: Map<string, ReplanRead>) => void>();
  let isFailed = false;
  const failAll = (): void => {
    isFailed = true;
    for (const resolve of waiting.values()) resolve(new Map());
    waiting.clear();
  };
  worker.on('message', (reply: ReplanReadReply) => {
    waiting.get(reply.batch)?.(new Map(reply.reads.map((r) => [r.name, r])));
    waiting.delete(reply.batch);
  });
  worker.on('error', failAll);
  worker.on('exit', failAll);
  let requested = 0;
  const requestUpTo = (last: number): void => {
    for (; requested <= last && requested * BATCH < names.length; requested++) {
      const batch = requested;
      const request: ReplanReadRequest = {
        batch,
        root,
        names: names.slice(batch * BATCH, (batch + 1) * BATCH),
      };
      batches.set(
        batch,
        new Promise((resolve) => {
          if (isFailed) return resolve(new Map());
          waiting.set(batch, resolve);
          worker.postMessage(request);
        }),
      );
    }
  };
  requestUpTo(BATCHES_AHEAD - 1);
  return {
    async take(name) {
      const batch = batchOf.get(name);
      if (batch === undefined) return null;
      batchOf.delete(name);
      requestUpTo(batch + BATCHES_AHEAD);
      const reads = (await batches.get(batch)) ?? new Map<string, ReplanRead>();
      const read = reads.get(name);
      reads.delete(name);
      if (reads.size === 0) batches.delete(batch);
      if (read === undefined || read.error !== undefined) return null;
      const where = storage.describe(recordKey(name));
      return {
        record: read.record === null ? null : parseRecord(read.record, name, where),
        files: read.files,
      };
    },
    async close() {
      worker.off('exit', failAll);
      await worker.terminate();
    },
  };
}
