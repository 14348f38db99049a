// Retries with exponential backoff and full jitter, honouring Retry-After (undici RetryHandler: 500 ms minimum),
// and the one table that classifies failures by undici / errno `code` (nodejs/undici:docs/docs/api/Errors.md). A
// certificate that is not trusted, a proxy that refuses us and a request past its total deadline are not
// transient: one attempt, and a message that says what to fix.
import { PypimirrorError, StoreError, UpstreamError, redactUrl, type UpstreamErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { RequestDeadlineError } from './limits.js';

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
  'ERR_TLS_HANDSHAKE_TIMEOUT',
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

/** OpenSSL's verdicts on a certificate chain that leads to no trusted root. */
const UNKNOWN_AUTHORITY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/** What is wrong with the TLS connection, for a person, or null when `code` is not a TLS failure. */
function describeTls(code: string, message: string): string | null {
  if (TIMEOUT_CODES.has(code)) return null; // ERR_TLS_HANDSHAKE_TIMEOUT: slow, not refused
  if (UNKNOWN_AUTHORITY_CODES.has(code)) {
    return `certificate is signed by an unknown authority (${code}); trust its CA with ca_file or NODE_EXTRA_CA_CERTS`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `certificate is not for this host (${code}: ${message})`;
  if (code === 'CERT_HAS_EXPIRED') return `certificate has expired (${code})`;
  if (code === 'CERT_NOT_YET_VALID') return `certificate is not valid yet (${code})`;
  if (/^(ERR_TLS_|ERR_SSL_|CERT_)|_CERT(_|$)|^UNABLE_TO_/.test(code)) return `${message} (${code})`;
  return null;
}

/**
 * The status a proxy refused us with, or null. undici says it only in the message: `Proxy response (407) !==
 * 200 when HTTP Tunneling` (CONNECT, for https) or `Proxy Authentication Required (407)` (plain http).
 */
function proxyStatus(e: unknown): number | null {
  const message = e instanceof Error ? e.message : '';
  const status = /^Proxy (?:response|Authentication Required) \((\d{3})\)/.exec(message)?.[1];
  return status === undefined ? null : Number(status);
}

function describeProxy(status: number): string {
  return status === 407
    ? 'the proxy answered HTTP 407 Proxy Authentication Required: check the user and password in HTTPS_PROXY ' +
        '(or HTTP_PROXY)'
    : `the proxy answered HTTP ${status} instead of connecting`;
}

/** A TLS or proxy failure in the chain of `err`, classified; null when there is none. */
function classifyRefusal(
  err: unknown,
): { code: UpstreamErrorCode; status: number | null; detail: string } | null {
  for (const e of chain(err)) {
    const code = codeOf(e);
    const tls = code === null ? null : describeTls(code, e instanceof Error ? e.message : String(e));
    if (tls !== null) return { code: 'UPSTREAM_TLS', status: null, detail: `TLS: ${tls}` };
    const status = proxyStatus(e);
    if (status !== null) return { code: 'UPSTREAM_PROXY', status, detail: describeProxy(status) };
  }
  return null;
}

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

/**
 * Default retry policy: 5xx, 429 and 408 answers, idle timeouts, resets and refused connections; never 4xx,
 * TLS failures, a proxy's 4xx, or a request past its total deadline (which a retry would only repeat).
 */
export function isRetryableError(err: unknown): boolean {
  if (err instanceof StoreError) return false; // a full or failing disk stays so for the next attempt
  if (err instanceof RequestDeadlineError) return false;
  if (err instanceof UpstreamError) {
    if (err.code === 'UPSTREAM_TIMEOUT' || err.code === 'UPSTREAM_NETWORK') return true;
    const s = err.status;
    if (err.code === 'UPSTREAM_PROXY') return s !== null && s >= 500;
    return err.code === 'UPSTREAM_STATUS' && s !== null && (s >= 500 || s === 429 || s === 408);
  }
  const refusal = classifyRefusal(err);
  if (refusal !== null) {
    return refusal.code === 'UPSTREAM_PROXY' && refusal.status !== null && refusal.status >= 500;
  }
  for (const e of chain(err)) {
    const code = codeOf(e);
    if (code !== null && (TIMEOUT_CODES.has(code) || TRANSIENT_CODES.has(code))) return true;
  }
  return false;
}

/** A `retryAfter` string carried by the error (see UpstreamStatusError in send.ts), or null. */
function getRetryAfter(err: unknown): string | null {
  const v =
    typeof err === 'object' && err !== null ? (err as { retryAfter?: unknown }).retryAfter : undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * Maps a failure to an UpstreamError: UPSTREAM_ABORTED when `signal` has aborted (cause = signal.reason),
 * UPSTREAM_TLS / UPSTREAM_PROXY for an untrusted certificate or a refusing proxy, UPSTREAM_TIMEOUT /
 * UPSTREAM_NETWORK by undici or errno code. Other errors (bugs) are returned unchanged.
 */
export function toUpstreamError(err: unknown, url: string | URL, signal?: AbortSignal): unknown {
  const where = redactUrl(url);
  if (signal?.aborted === true) {
    if (err instanceof UpstreamError && err.code === 'UPSTREAM_ABORTED') return err;
    return new UpstreamError('UPSTREAM_ABORTED', `${where}: aborted`, { url: where, cause: signal.reason });
  }
  if (err instanceof PypimirrorError) return err; // already classified (integrity, local disk, upstream)
  const refusal = classifyRefusal(err);
  if (refusal !== null) {
    const { code, status, detail } = refusal;
    return new UpstreamError(code, `${where}: ${detail}`, { url: where, status, cause: err });
  }
  for (const e of chain(err)) {
    const code = codeOf(e);
    if (code === null) continue;
    const message = `${where}: ${code}: ${e instanceof Error ? e.message : String(e)}`;
    if (TIMEOUT_CODES.has(code))
      return new UpstreamError('UPSTREAM_TIMEOUT', message, { url: where, cause: err });
    if (TRANSIENT_CODES.has(code) || /^E[A-Z]+$|^(UND_ERR|HPE_)/.test(code)) {
      return new UpstreamError('UPSTREAM_NETWORK', message, { url: where, cause: err });
    }
  }
  return err;
}

/** Sleeps, rejecting with `signal.reason` as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
