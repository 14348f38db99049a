// A one-permit gate, taken without waiting or awaited with an AbortSignal: at most one large project page is
// decoded at a time (simple-api.ts), so `workers` pages in flight cannot add up their sizes.

export interface Gate {
  /** Takes the permit if it is free. */
  tryAcquire(): boolean;
  /** Resolves once the permit is yours; rejects with `signal.reason` if the signal aborts first. */
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
}

export function createGate(): Gate {
  let isTaken = false;
  const waiting: (() => void)[] = [];
  return {
    tryAcquire() {
      if (isTaken) return false;
      isTaken = true;
      return true;
    },
    acquire(signal) {
      if (!isTaken) {
        isTaken = true;
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const grant = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const at = waiting.indexOf(grant);
          if (at >= 0) waiting.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.push(grant);
      });
    },
    release() {
      const next = waiting.shift();
      if (next !== undefined)
        next(); // handed over: stays taken
      else isTaken = false;
    },
  };
}
