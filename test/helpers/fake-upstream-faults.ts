// Faults on demand for the fake upstream, and the body pump that carries them out (truncation, corruption,
// mid-body resets and pauses, throttling), with backpressure so big bodies are never buffered.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BodySource } from './body-source.js';
import { CHUNK_BYTES } from './body-source.js';

/** Exact path (`/simple/foo/`; a full URL is reduced to its path), a RegExp, or a predicate on the path. */
export type PathMatcher = string | RegExp | ((path: string) => boolean);

export type Fault =
  | { readonly kind: 'fail'; readonly status: number; readonly retryAfter?: number | string }
  | { readonly kind: 'reset'; readonly phase: 'headers' | 'body' }
  | { readonly kind: 'truncate'; readonly bytes?: number }
  | { readonly kind: 'corrupt' }
  | { readonly kind: 'delay'; readonly ms: number; readonly phase: 'headers' | 'body' }
  | { readonly kind: 'throttle'; readonly bytesPerSec: number };

interface Rule {
  readonly matches: (path: string) => boolean;
  readonly fault: Fault;
  remaining: number;
}

/** What applies to one request: at most one shaping fault, plus every matching delay and throttle. */
export interface ActiveFaults {
  readonly shaping: Exclude<Fault, { kind: 'delay' | 'throttle' }> | undefined;
  readonly headerDelayMs: number;
  readonly bodyDelayMs: number;
  readonly bytesPerSec: number | undefined;
}

export class FaultRegistry {
  private rules: Rule[] = [];

  add(path: PathMatcher, fault: Fault, times: number | undefined): void {
    if (times !== undefined && (!Number.isInteger(times) || times < 1)) {
      throw new Error(`fault times must be a positive integer, got ${times}`);
    }
    this.rules.push({ matches: toPredicate(path), fault, remaining: times ?? Infinity });
  }

  clear(): void {
    this.rules = [];
  }

  /** Picks and consumes the faults for a request to `path`. */
  take(path: string): ActiveFaults {
    let shaping: ActiveFaults['shaping'];
    let headerDelayMs = 0;
    let bodyDelayMs = 0;
    let bytesPerSec: number | undefined;
    for (const rule of this.rules) {
      if (rule.remaining <= 0 || !rule.matches(path)) continue;
      const fault = rule.fault;
      if (fault.kind === 'delay') {
        if (fault.phase === 'headers') headerDelayMs += fault.ms;
        else bodyDelayMs += fault.ms;
      } else if (fault.kind === 'throttle') {
        bytesPerSec = Math.min(bytesPerSec ?? Infinity, fault.bytesPerSec);
      } else if (shaping === undefined) {
        shaping = fault;
      } else {
        continue;
      }
      rule.remaining -= 1;
    }
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return { shaping, headerDelayMs, bodyDelayMs, bytesPerSec };
  }
}

function toPredicate(path: PathMatcher): (path: string) => boolean {
  if (typeof path === 'function') return path;
  if (path instanceof RegExp) return (p) => path.test(p);
  const exact = /^https?:\/\//.test(path) ? new URL(path).pathname : path;
  return (p) => p === exact;
}

export interface PumpPlan {
  readonly body: BodySource;
  /** Byte range [start, end) of the body to send. */
  readonly start: number;
  readonly end: number;
  readonly faults: ActiveFaults;
  readonly signal: AbortSignal;
  readonly onBytes: (count: number) => void;
}

/**
 * Writes the planned range to `res`, honouring backpressure. Returns when the body is sent, the socket was
 * cut on purpose, or the client went away.
 */
export async function pumpBody(res: ServerResponse, plan: PumpPlan): Promise<void> {
  const { body, start, end, faults, signal } = plan;
  const length = end - start;
  const shaping = faults.shaping;
  const cutAfter =
    shaping?.kind === 'truncate'
      ? Math.min(shaping.bytes ?? Math.floor(length / 2), Math.max(0, length - 1))
      : shaping?.kind === 'reset'
        ? Math.floor(length / 2)
        : length;
  const corruptAt = shaping?.kind === 'corrupt' && length > 0 ? start + Math.floor(length / 2) : -1;
  const pauseAt = faults.bodyDelayMs > 0 ? Math.floor(length / 2) : -1;
  const rate = faults.bytesPerSec;
  const maxChunk =
    rate === undefined ? CHUNK_BYTES : Math.max(1, Math.min(CHUNK_BYTES, Math.floor(rate / 20)));
  const startedAt = performance.now();
  let sent = 0;
  let paused = false;
  const flush: FlushTracker = { last: Promise.resolve() };

  for (const raw of body.chunks(start, start + cutAfter, maxChunk)) {
    if (res.destroyed || signal.aborted) return;
    if (!paused && pauseAt >= 0 && sent + raw.length > pauseAt) {
      const head = raw.subarray(0, pauseAt - sent);
      if (head.length > 0 && !(await write(res, head, signal, flush))) return;
      sent += head.length;
      plan.onBytes(head.length);
      paused = true;
      if (!(await pause(faults.bodyDelayMs, signal))) return;
      const tail = raw.subarray(head.length);
      if (!(await write(res, corruptChunk(tail, start + sent, corruptAt), signal, flush))) return;
      sent += tail.length;
      plan.onBytes(tail.length);
    } else {
      if (!(await write(res, corruptChunk(raw, start + sent, corruptAt), signal, flush))) return;
      sent += raw.length;
      plan.onBytes(raw.length);
    }
    if (rate !== undefined) {
      const dueMs = (sent / rate) * 1000 - (performance.now() - startedAt);
      if (dueMs > 0 && !(await pause(dueMs, signal))) return;
    }
  }
  if (shaping?.kind === 'truncate') {
    res.flushHeaders();
    res.socket?.end(); // a socket's end() flushes what was written first, then sends FIN
  } else if (shaping?.kind === 'reset') {
    res.flushHeaders();
    await Promise.race([flush.last, pause(1000, signal)]);
    res.socket?.resetAndDestroy();
  } else if (!res.destroyed) {
    res.end();
  }
}

/** Flips one byte if `corruptAt` falls inside the chunk (on a copy: chunks may alias the model's bytes). */
function corruptChunk(chunk: Buffer, offset: number, corruptAt: number): Buffer {
  if (corruptAt < offset || corruptAt >= offset + chunk.length) return chunk;
  const copy = Buffer.from(chunk);
  copy[corruptAt - offset] = (copy[corruptAt - offset] ?? 0) ^ 0xff;
  return copy;
}

/** Writes a chunk; waits for 'drain' when the socket buffer is full. false = the response went away. */
async function write(
  res: ServerResponse,
  chunk: Buffer,
  signal: AbortSignal,
  flush: FlushTracker,
): Promise<boolean> {
  if (res.destroyed || signal.aborted) return false;
  let accepted = true;
  flush.last = new Promise<void>((resolve) => {
    accepted = res.write(chunk, () => resolve());
  });
  if (accepted) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      signal.removeEventListener('abort', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
    signal.addEventListener('abort', onClose);
  });
}

interface FlushTracker {
  /** Settles when the last written chunk reached the kernel. */
  last: Promise<void>;
}

/** Sleeps; false when aborted. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
