// Sending one request to the upstream, for the Simple API (simple-api.ts) and the XML-RPC client
// (xmlrpc-client.ts): Basic auth for the index's origin, the total deadline and the files' allowance
// (limits.ts), retries (retry.ts), conditional requests and their 304, statuses that are errors, content
// types, gzip decoding and the cap on a decoded body. Every failure leaves as an UpstreamError (bugs
// excepted); an abort rejects with UPSTREAM_ABORTED (cause = signal.reason).
import type { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { UpstreamError, redactUrl } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConditionalHeaders, NotModified } from '../model/upstream.js';
import { payloadError, type Decoded } from './decode.js';
import {
  contentLength,
  decoderFor,
  header,
  readSerial,
  splitCredentials,
  type Http,
  type Response,
} from './http.js';
import { fileDeadlineMs, startDeadline } from './limits.js';
import { toUpstreamError, withRetries } from './retry.js';

/** Body chunks between two yields to the event loop (signals, timers, the lock's refresh) while parsing. */
const CHUNKS_PER_YIELD = 4;
/** A gzip body at most this long (Content-Length) is read whole and inflated in one call (streamBody)... */
const WHOLE_GZIP_BYTES = 64 << 10;
/** ...when it decodes to at most this much; held whole at most this long, where a stream holds a chunk. */
const WHOLE_GZIP_DECODED_BYTES = 1 << 20;
/** The pieces a body inflated whole is parsed in, as a stream's chunks would be. */
const READ_PIECE_BYTES = 64 << 10;

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const HTML_TYPES: readonly string[] = ['application/vnd.pypi.simple.v1+html', 'text/html'];

/** A non-2xx answer; carries Retry-After for the retry loop. Its `code` is UPSTREAM_STATUS. */
export class UpstreamStatusError extends UpstreamError {
  readonly retryAfter: string | null;
  constructor(url: string, status: number, retryAfter: string | null) {
    super('UPSTREAM_STATUS', `${url}: HTTP ${status}`, { url, status });
    this.name = 'UpstreamError';
    this.retryAfter = retryAfter;
  }
}

/** How a Sender sends: the index (its origin gets the index URL's credentials), the transport, the limits. */
export interface SenderOptions {
  /** The Simple API base with its `user:pass@`, if any. */
  readonly indexUrl: URL;
  readonly http: Pick<Http, 'dispatcher' | 'userAgent'>;
  readonly log: Logger;
  readonly retry: { readonly retries: number; readonly minMs: number; readonly maxMs: number };
  /** Total time one request may take, body included; a file gets more (limits.ts). */
  readonly deadlineMs: number;
}

/** A request's method, headers and body beyond the defaults (GET, gzip accepted, Basic auth by origin). */
export interface RequestSpec {
  readonly headers: Readonly<Record<string, string>>;
  /** A POST body; absent: GET. */
  readonly body?: string;
  /** Validators from the last answer: sent as If-None-Match / If-Modified-Since, and a 304 is accepted. */
  readonly conditional?: ConditionalHeaders | null;
  /** A file download with its declared size: the files' deadline allowance (limits.ts). */
  readonly file?: { readonly size: number | null };
}

/**
 * A body delimited by the connection closing (neither Content-Length nor chunked): the transport cannot tell
 * a complete body from one cut short (RFC 9112 §6.3).
 */
export function isCloseDelimited(res: Response): boolean {
  const encoding = header(res, 'transfer-encoding')?.toLowerCase() ?? '';
  return header(res, 'content-length') === null && !encoding.includes('chunked');
}

/** Sends requests to one upstream; see the file's header. */
export class Sender {
  /** The Simple API base, without credentials, query or fragment, ending in `/`. */
  readonly base: URL;
  readonly log: Logger;
  private readonly auth: string | null;

  constructor(private readonly opts: SenderOptions) {
    const split = splitCredentials(opts.indexUrl);
    this.base = split.url;
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.base.search = '';
    this.base.hash = '';
    this.auth = split.auth;
    this.log = opts.log;
  }

  /**
   * Runs one logical request with retries: `fn` is one attempt, given the response to `spec` (a 304 to a
   * conditional request never reaches it: the attempt answers NotModified).
   */
  async exchange<T>(
    url: URL,
    spec: RequestSpec,
    signal: AbortSignal,
    fn: (res: Response) => Promise<T>,
    beforeAttempt: () => void = () => {},
  ): Promise<T | NotModified> {
    const headers: Record<string, string> = { ...spec.headers };
    const conditional = spec.conditional ?? null;
    if (conditional?.etag != null) headers['if-none-match'] = conditional.etag;
    if (conditional?.lastModified != null) headers['if-modified-since'] = conditional.lastModified;
    const describe = `${spec.body === undefined ? 'GET' : 'POST'} ${redactUrl(url)}`;
    try {
      return await withRetries(
        async () => {
          beforeAttempt();
          const res = await this.send(url, signal, headers, spec);
          if (res.statusCode === 304 && conditional !== null) {
            await res.body.dump();
            return { notModified: true, serial: readSerial(res) } satisfies NotModified;
          }
          return fn(res);
        },
        { ...this.opts.retry, log: this.log, signal, describe },
      );
    } catch (err) {
      throw toUpstreamError(err, url, signal);
    }
  }

  /** Like exchange, for a request that is never conditional. */
  async call<T>(
    url: URL,
    spec: RequestSpec,
    signal: AbortSignal,
    fn: (res: Response) => Promise<T>,
  ): Promise<T> {
    return (await this.exchange(url, { ...spec, conditional: null }, signal, fn)) as T;
  }

  /**
   * Sends one request under its total deadline (limits.ts), which covers the body too: undici destroys the
   * body with the deadline's error when it passes mid-way. A file download gets the files' allowance,
   * extended when Content-Length announces more.
   */
  private async send(
    url: URL,
    signal: AbortSignal,
    headers: Record<string, string>,
    spec: RequestSpec,
  ): Promise<Response> {
    const { deadlineMs } = this.opts;
    const creds = splitCredentials(url);
    const auth = creds.auth ?? (creds.url.origin === this.base.origin ? this.auth : null);
    const totalMs = spec.file === undefined ? deadlineMs : fileDeadlineMs(deadlineMs, spec.file.size);
    const deadline = startDeadline(url, totalMs, deadlineMs, signal);
    try {
      const { origin, pathname, search } = creds.url;
      const res = await this.opts.http.dispatcher.request({
        origin,
        path: pathname + search,
        method: spec.body === undefined ? 'GET' : 'POST',
        headers: {
          'user-agent': this.opts.http.userAgent,
          'accept-encoding': 'gzip', // fetchFile asks for identity
          ...(auth === null ? {} : { authorization: auth }),
          ...headers,
        },
        signal: deadline.signal,
        ...(spec.body === undefined ? {} : { body: spec.body }),
      });
      if (spec.file !== undefined) deadline.extendTo(fileDeadlineMs(deadlineMs, contentLength(res)));
      // Read to its end, dumped or destroyed: every body closes, and the deadline with it.
      res.body.once('close', deadline.done);
      return res;
    } catch (err) {
      deadline.done();
      throw err;
    }
  }

  /** Logs a page's warnings (the parsers keep 20 and count the rest). */
  report<T>(decoded: Decoded<T>, url: URL): T {
    for (const warning of decoded.warnings)
      this.log.warn('upstream page problem', { url: redactUrl(url), warning });
    return decoded.value;
  }
}

/** A non-2xx status is UPSTREAM_STATUS (after the body is read away). */
export async function ensureOk(res: Response, url: URL): Promise<void> {
  if (res.statusCode >= 200 && res.statusCode <= 299) return;
  await res.body.dump();
  throw new UpstreamStatusError(redactUrl(url), res.statusCode, header(res, 'retry-after'));
}

/** True (the body read away) when the status is one of `statuses`: an answer that means "none here". */
export async function isAbsent(res: Response, statuses: readonly number[]): Promise<boolean> {
  if (!statuses.includes(res.statusCode)) return false;
  await res.body.dump();
  return true;
}

/**
 * The body, decoded: pages, the listing and XML-RPC ask for gzip (PyPI's listing shrinks from 30-40 MB to
 * a few), files ask for identity (their bytes are what is hashed). Any other Content-Encoding, or gzip
 * where identity was asked for, is UPSTREAM_PAYLOAD.
 */
export async function contentOf(res: Response, url: URL, asked: 'gzip' | 'identity'): Promise<Readable> {
  const encoding = header(res, 'content-encoding')?.trim().toLowerCase() ?? '';
  if (encoding === '' || encoding === 'identity') return res.body;
  if (asked === 'gzip' && isGzip(encoding)) {
    const gunzip = createGunzip();
    // A network error of the body reaches the reader as itself (and is retried as such). Piped by hand:
    // stream.pipeline makes an AbortController per call, and a DOMException when it ends.
    res.body.once('error', (err) => gunzip.destroy(err));
    res.body.pipe(gunzip);
    return gunzip;
  }
  await res.body.dump();
  throw payloadError(url, `unexpected Content-Encoding "${encoding}" (${asked} was asked for)`);
}

function isGzip(encoding: string): boolean {
  return encoding === 'gzip' || encoding === 'x-gzip';
}

/**
 * A gzip body announced (Content-Length) at most WHOLE_GZIP_BYTES long, read whole; null for any other
 * body, which is streamed. A network error of the body is thrown as itself.
 */
async function readSmallGzip(res: Response): Promise<Buffer | null> {
  if (!isGzip(header(res, 'content-encoding')?.trim().toLowerCase() ?? '')) return null;
  const length = contentLength(res);
  if (length === null || length > WHOLE_GZIP_BYTES) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
    }
  } finally {
    res.body.destroy();
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

/**
 * `gzipped` inflated in one call when it decodes to at most `limit` bytes; null when it decodes to more (it
 * is then streamed, so the cap on a decoded body stops it without holding it).
 */
function inflateWhole(gzipped: Buffer, url: URL, limit: number): Buffer | null {
  try {
    return gunzipSync(gzipped, { maxOutputLength: limit });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return null;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw payloadError(url, `gzip body does not decode: ${(err as Error).message}`, err);
    }
    throw err;
  }
}

/** Feeds `decoded` to `onChunk` in pieces of READ_PIECE_BYTES, yielding to the event loop as `consume` does. */
async function feedWhole(decoded: Buffer, onChunk: (chunk: Buffer) => void): Promise<void> {
  for (let at = 0, pieces = 0; at < decoded.length; at += READ_PIECE_BYTES) {
    onChunk(decoded.subarray(at, at + READ_PIECE_BYTES));
    if (++pieces % CHUNKS_PER_YIELD === 0 && at + READ_PIECE_BYTES < decoded.length) await yieldToLoop();
  }
}

/** Feeds `content` (from contentOf) to `onChunk`; a gzip stream that does not decode is UPSTREAM_PAYLOAD. */
async function consume(
  res: Response,
  content: Readable,
  url: URL,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  try {
    let chunks = 0;
    for await (const chunk of content as AsyncIterable<Buffer>) {
      onChunk(chunk);
      if (++chunks % CHUNKS_PER_YIELD === 0) await yieldToLoop(); // a parse never starves the loop
    }
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw payloadError(url, `gzip body does not decode: ${(err as Error).message}`, err);
    }
    throw err;
  } finally {
    content.destroy();
    res.body.destroy();
  }
}

/** 'json' or 'html' by the Content-Type (PEP 691); anything else is UPSTREAM_PAYLOAD. */
export async function pageKind(res: Response, url: URL): Promise<'json' | 'html'> {
  const type = header(res, 'content-type');
  const media = type?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === JSON_TYPE) return 'json';
  if (HTML_TYPES.includes(media)) return 'html';
  await res.body.dump();
  throw payloadError(url, type === null ? 'no Content-Type' : `unsupported Content-Type "${type}"`);
}

/**
 * Streams a body of at most `max` decoded bytes through `write` (text, decoded by the Content-Type's
 * charset): an upstream that sends an endless or absurd answer gets an UPSTREAM_PAYLOAD error, not our
 * memory. `onSize` sees the running size before each chunk is written.
 */
export async function streamBody(
  res: Response,
  url: URL,
  max: number,
  write: (text: string) => void,
  onSize: (size: number) => void = () => {},
): Promise<void> {
  const decoder = decoderFor(header(res, 'content-type'));
  let size = 0;
  const onChunk = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > max) throw payloadError(url, `the answer is larger than ${max} bytes (decoded)`);
    onSize(size);
    write(decoder.decode(chunk, { stream: true }));
  };
  // A small gzip body (a project page, mostly) is read whole and inflated in one call: a zlib stream hands
  // each write and its flush to libuv's thread pool, two thread wake-ups per page each way.
  const gzipped = await readSmallGzip(res);
  const whole = gzipped === null ? null : inflateWhole(gzipped, url, WHOLE_GZIP_DECODED_BYTES);
  if (whole !== null) {
    await feedWhole(whole, onChunk);
  } else if (gzipped !== null) {
    const gunzip = createGunzip();
    gunzip.end(gzipped);
    await consume(res, gunzip, url, onChunk);
  } else {
    await consume(res, await contentOf(res, url, 'gzip'), url, onChunk);
  }
  write(decoder.decode());
}
