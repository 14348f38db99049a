// One bounded pool for every upstream request, fair across projects (issue: large projects must not
// starve small ones). Waiting tasks are kept in one queue per key, served round-robin.

export interface Pool {
  /** Runs `task` when a slot is free; tasks of different keys take turns. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  readonly size: number;
  /** Tasks running now. */
  readonly active: number;
}

interface Waiter {
  start: () => void;
}

export function createPool(size: number): Pool {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`pool size must be a positive integer, got ${size}`);
  let active = 0;
  const queues = new Map<string, Waiter[]>(); // insertion order = round-robin order

  const next = (): void => {
    while (active < size && queues.size > 0) {
      const [key, queue] = queues.entries().next().value as [string, Waiter[]];
      const waiter = queue.shift();
      queues.delete(key);
      if (queue.length > 0) queues.set(key, queue); // to the back of the line
      if (waiter !== undefined) {
        active++;
        waiter.start();
      }
    }
  };

  return {
    size,
    get active() {
      return active;
    },
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const start = (): void => {
          task()
            .then(resolve, reject)
            .finally(() => {
              active--;
              next();
            });
        };
        const queue = queues.get(key);
        if (queue === undefined) queues.set(key, [{ start }]);
        else queue.push({ start });
        next();
      });
    },
  };
}

export interface Semaphore {
  /** Resolves when one of the `limit` permits is yours; give it back with release(). */
  acquire(): Promise<void>;
  release(): void;
}

/** A counting semaphore (first come, first served). */
export function createSemaphore(limit: number): Semaphore {
  let free = limit;
  const waiting: (() => void)[] = [];
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve();
      }
      return new Promise((resolve) => waiting.push(resolve));
    },
    release: () => {
      const next = waiting.shift();
      if (next !== undefined) next();
      else free++;
    },
  };
}

/** Permits shared by keys (projects): see createKeyedPermits. */
export interface KeyedPermits {
  /** Resolves when one of the permits is `key`'s; give it back with release(key). */
  acquire(key: string): Promise<void>;
  release(key: string): void;
}

/**
 * `limit` permits shared by keys: one key holds at most half of them, so that the others find one free at
 * once, and a permit given back goes to the waiting key that holds the fewest (the first to ask among
 * equals), so a key that holds many never keeps one that holds none waiting long.
 */
export function createKeyedPermits(limit: number): KeyedPermits {
  const perKey = Math.max(1, Math.floor(limit / 2));
  let free = limit;
  const held = new Map<string, number>();
  const waiting: { readonly key: string; readonly grant: () => void }[] = [];
  const heldBy = (key: string): number => held.get(key) ?? 0;
  const give = (key: string): void => {
    free--;
    held.set(key, heldBy(key) + 1);
  };
  /** Grants free permits to the waiting keys below their share, those that hold the fewest first. */
  const grant = (): void => {
    while (free > 0) {
      let next = -1;
      for (let i = 0; i < waiting.length; i++) {
        const count = heldBy((waiting[i] as { key: string }).key);
        if (count < perKey && (next < 0 || count < heldBy((waiting[next] as { key: string }).key))) next = i;
      }
      if (next < 0) return;
      const [chosen] = waiting.splice(next, 1) as [{ key: string; grant: () => void }];
      give(chosen.key);
      chosen.grant();
    }
  };
  return {
    acquire(key) {
      if (free > 0 && heldBy(key) < perKey) {
        give(key);
        return Promise.resolve();
      }
      return new Promise((resolve) => waiting.push({ key, grant: resolve }));
    },
    release(key) {
      const left = heldBy(key) - 1;
      if (left > 0) held.set(key, left);
      else held.delete(key);
      free++;
      grant();
    },
  };
}

/**
 * Runs `fn` for every item with two windows: at most `startLimit` items in their first phase (until
 * `fn` calls `started()`, or ends), and at most `totalLimit` in flight in all. For the sync: reading a
 * record and fetching a page are the first phase; once a project has its plan it frees its start slot
 * and downloads in the shared pool, so a small project never waits for a big one's files to finish.
 * Rejects with the first error once every started item has settled.
 */
export async function forEachWindowed<T>(
  items: Iterable<T>,
  startLimit: number,
  totalLimit: number,
  fn: (item: T, started: () => void) => Promise<void>,
): Promise<void> {
  const starting = createSemaphore(startLimit);
  const inFlight = createSemaphore(Math.max(totalLimit, startLimit));
  const running = new Set<Promise<void>>();
  let firstError: { error: unknown } | null = null;
  for (const item of items) {
    if (firstError !== null) break;
    await inFlight.acquire();
    await starting.acquire();
    let isStarted = false;
    const started = (): void => {
      if (!isStarted) {
        isStarted = true;
        starting.release();
      }
    };
    const task: Promise<void> = fn(item, started)
      .catch((error: unknown) => {
        firstError ??= { error };
      })
      .finally(() => {
        started();
        inFlight.release();
        running.delete(task);
      });
    running.add(task);
  }
  await Promise.all(running);
  if (firstError !== null) throw (firstError as { error: unknown }).error;
}
