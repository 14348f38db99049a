// Retries with exponential backoff and full jitter, honouring Retry-After (undici RetryHandler: 500 ms minimum),
// and the one table that classifies failures by undici / errno `code` (undici docs/api/Errors.md).
import { PypimirrorError, StoreError, UpstreamError, redactUrl } from '../errors.js';
import type { Logger } from '../log.js';

/** A Retry-After longer than this is cut to it. */
export const RETRY_AFTER_CAP_MS = 60_000;
export const DEFAULT_RETRIES = 4;
export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 30_000;

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
/** Transient network failures (undici RetryHandler's default list, plus DNS EAI_AGAIN and truncated bodies). */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
]);

export interface RetryDelayOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** The Retry-After header of the failed response: delay-seconds or an HTTP date. */
  readonly retryAfter?: string | null;
  /** [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** Epoch ms; Date.now by default (for HTTP-date Retry-After). */
  readonly now?: () => number;
}

/** Retry-After as a delay in ms (≥ 0), or null when absent or unparsable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  const v = value?.trim() ?? '';
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`) has letters; Date.parse alone would accept "-5".
  const at = /[a-z]/i.test(v) ? Date.parse(v) : NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/**
 * The delay before retry number `attempt` (1 = the first retry): Retry-After when given (capped at
 * RETRY_AFTER_CAP_MS), else a uniformly random delay in [0, min(maxMs, minMs·2^(attempt-1))) ("full jitter").
 */
export function retryDelayMs(attempt: number, opts: RetryDelayOptions): number {
  const fromHeader = parseRetryAfterMs(opts.retryAfter, (opts.now ?? Date.now)());
  if (fromHeader !== null) return Math.min(fromHeader, RETRY_AFTER_CAP_MS);
  const ceiling = Math.min(opts.maxMs, opts.minMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor((opts.random ?? Math.random)() * ceiling);
}

function codeOf(err: unknown): string | null {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : null;
}

/** The error and its causes (and AggregateError members), at most 8 deep. */
function* chain(err: unknown): Generator<unknown> {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e !== undefined && e !== null; depth++) {
    yield e;
    if (e instanceof AggregateError) yield* e.errors.slice(0, 8);
    e = e instanceof Error ? e.cause : undefined;
  }
}

/** Default retry policy: 5xx, 429 and 408 answers, timeouts, resets and refused connections; never 4xx. */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof StoreError) return false; // a full or failing disk stays so for the next attempt
  if (err instanceof UpstreamError) {
    if (err.code === 'UPSTREAM_TIMEOUT' || err.code === 'UPSTREAM_NETWORK') return true;
    const s = err.status;
    return err.code === 'UPSTREAM_STATUS' && s !== null && (s >= 500 || s === 429 || s === 408);
  }
  for (const e of chain(err)) {
    const code = codeOf(e);
    if (code !== null && (TIMEOUT_CODES.has(code) || TRANSIENT_CODES.has(code))) return true;
  }
  return false;
}

/** A `retryAfter` string carried by the error (see UpstreamStatusError in simple-api.ts), or null. */
export function getRetryAfter(err: unknown): string | null {
  const v =
    typeof err === 'object' && err !== null ? (err as { retryAfter?: unknown }).retryAfter : undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * Maps a failure to an UpstreamError: UPSTREAM_ABORTED when `signal` has aborted (cause = signal.reason),
 * UPSTREAM_TIMEOUT / UPSTREAM_NETWORK by undici or errno code. Other errors (bugs) are returned unchanged.
 */
export function toUpstreamError(err: unknown, url: string | URL, signal?: AbortSignal): unknown {
  const where = redactUrl(url);
  if (signal?.aborted === true) {
    if (err instanceof UpstreamError && err.code === 'UPSTREAM_ABORTED') return err;
    return new UpstreamError('UPSTREAM_ABORTED', `${where}: aborted`, { url: where, cause: signal.reason });
  }
  if (err instanceof PypimirrorError) return err; // already classified (integrity, local disk, upstream)
  for (const e of chain(err)) {
    const code = codeOf(e);
    if (code === null) continue;
    const message = `${where}: ${code}: ${e instanceof Error ? e.message : String(e)}`;
    if (TIMEOUT_CODES.has(code))
      return new UpstreamError('UPSTREAM_TIMEOUT', message, { url: where, cause: err });
    if (
      TRANSIENT_CODES.has(code) ||
      /^E[A-Z]+$|^(UND_ERR|HPE_|ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|.*_CERT)/.test(code)
    ) {
      return new UpstreamError('UPSTREAM_NETWORK', message, { url: where, cause: err });
    }
  }
  return err;
}

/** Sleeps, rejecting with `signal.reason` as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  /** Retries after the first attempt (so at most retries + 1 calls). */
  readonly retries: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** What is attempted, for the log, e.g. `GET https://…` (redacted again here). */
  readonly describe: string;
  /** Default: isRetryableError. */
  readonly isRetryable?: (err: unknown) => boolean;
  readonly random?: () => number;
}

/**
 * Calls `fn(attempt)` (attempt 0, 1, …) until it resolves, the error is not retryable, the retries are used
 * up, or the signal aborts. Throws the last error of `fn`, or `signal.reason` when aborted before/between attempts.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const isRetryable = opts.isRetryable ?? isRetryableError;
  for (let attempt = 0; ; attempt++) {
    opts.signal.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal.aborted || attempt >= opts.retries || !isRetryable(err)) throw err;
      const delayMs = retryDelayMs(attempt + 1, {
        minMs: opts.minMs,
        maxMs: opts.maxMs,
        retryAfter: getRetryAfter(err),
        ...(opts.random === undefined ? {} : { random: opts.random }),
      });
      opts.log.warn('upstream request failed, retrying', {
        request: redactUrl(opts.describe),
        attempt: attempt + 1,
        retries: opts.retries,
        delayMs,
        error: err instanceof Error ? err.message : String(err),
        ...(codeOf(err) === null ? {} : { code: codeOf(err) }),
      });
      await sleep(delayMs, opts.signal);
    }
  }
}
