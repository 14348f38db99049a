// The fake upstream's request log: what was asked, what was answered, when, and how much was sent.
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RequestLogEntry {
  readonly method: string;
  /** Path and query as requested. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Status sent; 0 when the socket was reset before any status line. */
  status: number;
  /** performance.now() ms. */
  readonly startedAt: number;
  /** undefined while in flight. */
  endedAt: number | undefined;
  /** Body bytes written. */
  bytesSent: number;
  /** The response did not complete (client went away, or a fault cut it). */
  aborted: boolean;
  /** The shaping fault applied, if any. */
  fault: string | undefined;
  /** Which TCP connection carried it: 1 for the server's first connection, 2 for the next, ... */
  readonly connection: number;
}

export class RequestLog {
  /** Every request, in arrival order (the array is kept across resets). */
  readonly entries: RequestLogEntry[] = [];
  private totalBytes = 0;

  start(method: string, path: string, headers: IncomingHttpHeaders, connection: number): RequestLogEntry {
    const entry: RequestLogEntry = {
      method,
      path,
      headers,
      status: 0,
      startedAt: performance.now(),
      endedAt: undefined,
      bytesSent: 0,
      aborted: false,
      fault: undefined,
      connection,
    };
    this.entries.push(entry);
    return entry;
  }

  addBytes(entry: RequestLogEntry, count: number): void {
    entry.bytesSent += count;
    this.totalBytes += count;
  }

  reset(): void {
    this.entries.length = 0;
    this.totalBytes = 0;
  }

  /** Body bytes sent since the last reset, optionally only for matching requests. */
  bytesSent(filter?: (r: RequestLogEntry) => boolean): number {
    if (filter === undefined) return this.totalBytes;
    return this.entries.filter(filter).reduce((sum, r) => sum + r.bytesSent, 0);
  }

  inFlight(): number {
    return this.entries.filter((r) => r.endedAt === undefined).length;
  }

  /** The largest number of (matching) requests in flight at the same moment. */
  maxConcurrent(filter: (r: RequestLogEntry) => boolean = () => true): number {
    const events: [number, number][] = [];
    for (const r of this.entries.filter(filter)) events.push([r.startedAt, 1], [r.endedAt ?? Infinity, -1]);
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // at equal times, ends before starts
    let current = 0;
    let max = 0;
    for (const [, delta] of events) max = Math.max(max, (current += delta));
    return max;
  }

  /** The first entry matching `predicate`, checking every 5 ms for up to `timeoutMs`. */
  async waitFor(predicate: (r: RequestLogEntry) => boolean, timeoutMs: number): Promise<RequestLogEntry> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.entries.find(predicate);
      if (found !== undefined) return found;
      if (performance.now() >= deadline)
        throw new Error(`fake upstream: no matching request within ${timeoutMs} ms`);
      await sleep(5);
    }
  }
}
