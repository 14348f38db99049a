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

/** Maps `items` through `fn` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let index = 0;
  const worker = async (): Promise<void> => {
    while (index < items.length) {
      const i = index++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
