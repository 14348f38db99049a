// The Upstream (types.ts) over the Simple API (docs/protocol.md §1-§3): content negotiation, conditional requests,
// serial headers, Basic auth for the index origin, retries; statuses and undici errors become UpstreamErrors.
// Aborts: every method rejects with UpstreamError 'UPSTREAM_ABORTED' (cause = signal.reason); a body stream
// returned by fetchFile is destroyed with signal.reason (undici), which toUpstreamError maps the same way.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { request } from 'undici';
import { UpstreamError, redactUrl } from '../errors.js';
import type { Logger } from '../log.js';
import { isValidProjectName, normalizeName } from '../plan/names.js';
import { payloadError, type Decoded } from './decode.js';
import { createListingHtmlParser, createProjectHtmlParser } from './html.js';
import { createListingJsonParser } from './listing-stream.js';
import { createGate } from './gate.js';
import { jsonApiUrl, readUploadTimes } from './json-api.js';
import { fileDeadlineMs, fileTooLarge, startDeadline } from './limits.js';
import { createPageJsonDecoder } from './page-stream.js';
import {
  contentLength,
  decoderFor,
  finalUrl,
  header,
  readSerial,
  splitCredentials,
  strongLastModified,
  type Http,
  type Response,
} from './http.js';
import {
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MIN_DELAY_MS,
  DEFAULT_RETRIES,
  toUpstreamError,
  withRetries,
} from './retry.js';
import type {
  ChangelogResult,
  ConditionalHeaders,
  FileRequestOptions,
  FileResponse,
  ListedProject,
  ListingSummary,
  ListingVisitor,
  NotModified,
  ProjectListing,
  ProjectPage,
  Upstream,
} from './types.js';
import {
  createMethodResponseParser,
  encodeMethodCall,
  isMethodNotFound,
  pageChangelog,
  XmlRpcFormatError,
  type XmlRpcValue,
} from './xmlrpc.js';

/** The largest project page read, decoded (PyPI's largest project pages are a few MB). */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** The largest XML-RPC answer read, decoded (a changelog page of 50 000 rows is about 10 MB). */
const MAX_XMLRPC_BYTES = 32 * 1024 * 1024;
/**
 * A page larger than this (decoded) is read only while no other such page is: with `workers` pages in flight,
 * at most one large one is decoded at a time, so memory stays bounded whatever the pages.
 */
export const LARGE_PAGE_BYTES = 4 * 1024 * 1024;
/** Body chunks between two yields to the event loop (signals, timers, the lock's refresh) while parsing. */
const CHUNKS_PER_YIELD = 4;

/**
 * A body delimited by the connection closing (neither Content-Length nor chunked): the transport cannot tell
 * a complete body from one cut short (RFC 9112 §6.3).
 */
function isCloseDelimited(res: Response): boolean {
  const encoding = header(res, 'transfer-encoding')?.toLowerCase() ?? '';
  return header(res, 'content-length') === null && !encoding.includes('chunked');
}

/** Thrown inside an attempt when a page turns out large while another large page is being read. */
class LargePageWait extends Error {}

export const ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const HTML_TYPES: readonly string[] = ['application/vnd.pypi.simple.v1+html', 'text/html'];

export interface UpstreamOptions {
  /** The Simple API base, e.g. `https://pypi.org/simple/`; `user:pass@` becomes Basic auth for its origin. */
  readonly indexUrl: URL;
  readonly http: Pick<Http, 'dispatcher' | 'userAgent'>;
  readonly log: Logger;
  /** Retries after the first attempt (default 4); delays from minDelayMs (500) doubling up to maxDelayMs (30 s). */
  readonly retries?: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** PyPI returns at most 50 000 changelog rows per call; a shorter page ends the paging. */
  readonly changelogPageSize?: number;
  /** Paging stops after this many calls (default 100); the caller resumes from the last row's serial. */
  readonly changelogMaxPages?: number;
  /**
   * Total time one request may take, body included (default 15 min, `request_deadline`); a file gets one more
   * second per MiB of its declared or announced size (limits.ts).
   */
  readonly requestDeadlineMs?: number;
  /** The largest file fetched (default 10 GiB, `max_file_size`); fetchFile hands it on as `maxSize`. */
  readonly maxFileSize?: number;
}

const DEFAULT_REQUEST_DEADLINE_MS = 15 * 60_000;
const DEFAULT_MAX_FILE_SIZE = 10 * 1024 ** 3;

/** The Upstream over the Simple API (fetchChangelogSince is now part of Upstream itself). */
export type SimpleUpstream = Upstream;

/** A non-2xx answer; carries Retry-After for the retry loop. Its `code` is UPSTREAM_STATUS. */
export class UpstreamStatusError extends UpstreamError {
  readonly retryAfter: string | null;
  constructor(url: string, status: number, retryAfter: string | null) {
    super('UPSTREAM_STATUS', `${url}: HTTP ${status}`, { url, status });
    this.name = 'UpstreamError';
    this.retryAfter = retryAfter;
  }
}

export function createUpstream(opts: UpstreamOptions): SimpleUpstream {
  const { log } = opts;
  const split = splitCredentials(opts.indexUrl);
  const base = split.url;
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  const retry = {
    retries: opts.retries ?? DEFAULT_RETRIES,
    minMs: opts.minDelayMs ?? DEFAULT_MIN_DELAY_MS,
    maxMs: opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    log,
  };
  const deadlineMs = opts.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS;
  const maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const pageSize = opts.changelogPageSize ?? 50_000;
  const maxPages = opts.changelogMaxPages ?? 100;

  /**
   * Sends one request under its total deadline (limits.ts), which covers the body too: undici destroys the
   * body with the deadline's error when it passes mid-way. `file` (a file download, with its declared size)
   * gets the files' allowance, extended when Content-Length announces more.
   */
  async function send(
    url: URL,
    signal: AbortSignal,
    headers: Record<string, string>,
    body?: string,
    file?: { readonly size: number | null },
  ): Promise<Response> {
    const creds = splitCredentials(url);
    const auth = creds.auth ?? (creds.url.origin === base.origin ? split.auth : null);
    const totalMs = file === undefined ? deadlineMs : fileDeadlineMs(deadlineMs, file.size);
    const deadline = startDeadline(url, totalMs, deadlineMs, signal);
    try {
      const res = await request(creds.url, {
        dispatcher: opts.http.dispatcher,
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          'user-agent': opts.http.userAgent,
          'accept-encoding': 'gzip', // fetchFile asks for identity
          ...(auth === null ? {} : { authorization: auth }),
          ...headers,
        },
        signal: deadline.signal,
        ...(body === undefined ? {} : { body }),
      });
      if (file !== undefined) deadline.extendTo(fileDeadlineMs(deadlineMs, contentLength(res)));
      // Read to its end, dumped or destroyed: every body closes, and the deadline with it.
      res.body.once('close', deadline.done);
      return res;
    } catch (err) {
      deadline.done();
      throw err;
    }
  }

  /** Runs one logical request with retries; every failure leaves as an UpstreamError (bugs excepted). */
  async function attempt<T>(url: URL, method: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const describe = `${method} ${redactUrl(url)}`;
    try {
      return await withRetries(fn, { ...retry, signal, describe });
    } catch (err) {
      throw toUpstreamError(err, url, signal);
    }
  }

  async function fail(res: Response, url: URL): Promise<never> {
    await res.body.dump();
    throw new UpstreamStatusError(redactUrl(url), res.statusCode, header(res, 'retry-after'));
  }

  async function ensureOk(res: Response, url: URL): Promise<void> {
    if (res.statusCode < 200 || res.statusCode > 299) await fail(res, url);
  }

  /**
   * The body, decoded: pages, the listing and XML-RPC ask for gzip (PyPI's listing shrinks from 30-40 MB to
   * a few), files ask for identity (their bytes are what is hashed). Any other Content-Encoding, or gzip
   * where identity was asked for, is UPSTREAM_PAYLOAD.
   */
  async function contentOf(res: Response, url: URL, asked: 'gzip' | 'identity'): Promise<Readable> {
    const encoding = header(res, 'content-encoding')?.trim().toLowerCase() ?? '';
    if (encoding === '' || encoding === 'identity') return res.body;
    if (asked === 'gzip' && (encoding === 'gzip' || encoding === 'x-gzip')) {
      const gunzip = createGunzip();
      // A network error of the body reaches the reader as itself (and is retried as such).
      pipeline(res.body, gunzip).catch(() => {}); // the reader of `gunzip` gets the error
      return gunzip;
    }
    await res.body.dump();
    throw payloadError(url, `unexpected Content-Encoding "${encoding}" (${asked} was asked for)`);
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

  /** 'json' or 'html' by the Content-Type; anything else is UPSTREAM_PAYLOAD. */
  async function pageKind(res: Response, url: URL): Promise<'json' | 'html'> {
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
  async function streamBody(
    res: Response,
    url: URL,
    max: number,
    write: (text: string) => void,
    onSize: (size: number) => void = () => {},
  ): Promise<void> {
    const decoder = decoderFor(header(res, 'content-type'));
    let size = 0;
    await consume(res, await contentOf(res, url, 'gzip'), url, (chunk) => {
      size += chunk.length;
      if (size > max) throw payloadError(url, `the answer is larger than ${max} bytes (decoded)`);
      onSize(size);
      write(decoder.decode(chunk, { stream: true }));
    });
    write(decoder.decode());
  }

  /** Logs a page's warnings (the parsers keep 20 and count the rest). */
  function report<T>(decoded: Decoded<T>, url: URL): T {
    for (const warning of decoded.warnings)
      log.warn('upstream page problem', { url: redactUrl(url), warning });
    return decoded.value;
  }

  const largePages = createGate();

  /**
   * Streams the root listing into `visitor`: JSON through the streaming parser (listing-stream.ts), HTML
   * through the streaming root-page parser; nothing but the current entry is held.
   */
  async function streamListing(
    visitor: ListingVisitor,
    conditional: ConditionalHeaders | null,
    signal: AbortSignal,
  ): Promise<ListingSummary | NotModified> {
    const headers: Record<string, string> = { accept: ACCEPT };
    if (conditional?.etag != null) headers['if-none-match'] = conditional.etag;
    if (conditional?.lastModified != null) headers['if-modified-since'] = conditional.lastModified;
    return attempt(base, 'GET', signal, async () => {
      visitor.restart();
      const res = await send(base, signal, headers);
      if (res.statusCode === 304 && conditional !== null) {
        await res.body.dump();
        return { notModified: true, serial: readSerial(res) };
      }
      await ensureOk(res, base);
      const kind = await pageKind(res, base);
      const at = finalUrl(res, base);
      let count = 0;
      const deliver = (p: ListedProject): void => {
        count++;
        visitor.project(p);
      };
      const jsonParser = kind === 'json' ? createListingJsonParser(deliver, at) : null;
      const parser = jsonParser ?? createListingHtmlParser(deliver, at);
      await streamBody(res, base, Infinity, (text) => parser.write(text));
      parser.end();
      report({ value: null, warnings: parser.warnings }, at);
      const bodySerial = jsonParser?.serial ?? null;
      return {
        count,
        serial: bodySerial ?? readSerial(res),
        format: kind,
        etag: header(res, 'etag'),
        lastModified: strongLastModified(res),
      };
    });
  }

  async function fetchListing(signal: AbortSignal): Promise<ProjectListing> {
    let projects: ListedProject[] = [];
    const visitor: ListingVisitor = {
      project: (p) => void projects.push(p),
      restart: () => void (projects = []),
    };
    const summary = await streamListing(visitor, null, signal);
    if ('notModified' in summary) throw new Error('unconditional listing answered 304');
    return { projects, serial: summary.serial, format: summary.format };
  }

  async function fetchProject(
    name: string,
    conditional: ConditionalHeaders | null,
    signal: AbortSignal,
  ): Promise<ProjectPage | NotModified> {
    if (!isValidProjectName(name)) throw new TypeError(`Not a valid project name: ${JSON.stringify(name)}`);
    const normalized = normalizeName(name);
    const url = new URL(`${normalized}/`, base);
    const headers: Record<string, string> = { accept: ACCEPT };
    if (conditional?.etag != null) headers['if-none-match'] = conditional.etag;
    if (conditional?.lastModified != null) headers['if-modified-since'] = conditional.lastModified;
    let holdsLarge = false;
    const once = (): Promise<ProjectPage | NotModified> =>
      attempt(url, 'GET', signal, async () => {
        const res = await send(url, signal, headers);
        if (res.statusCode === 304 && conditional !== null) {
          await res.body.dump();
          return { notModified: true, serial: readSerial(res) };
        }
        if (res.statusCode === 404 || res.statusCode === 410) {
          await res.body.dump();
          throw new UpstreamError('UPSTREAM_NOT_FOUND', `${redactUrl(url)}: HTTP ${res.statusCode}`, {
            url: redactUrl(url),
            status: res.statusCode,
          });
        }
        await ensureOk(res, url);
        const kind = await pageKind(res, url);
        const at = finalUrl(res, url);
        const parser =
          kind === 'json' ? createPageJsonDecoder(at, normalized) : createProjectHtmlParser(at, normalized);
        await streamBody(
          res,
          at,
          MAX_PAGE_BYTES,
          (text) => parser.write(text),
          (size) => {
            if (size <= LARGE_PAGE_BYTES || holdsLarge) return;
            if (!largePages.tryAcquire()) throw new LargePageWait();
            holdsLarge = true;
          },
        );
        const body = report(parser.end(), at);
        const isMaybeTruncated = 'isClosed' in parser && !parser.isClosed && isCloseDelimited(res);
        return {
          ...body,
          serial: readSerial(res),
          etag: header(res, 'etag'),
          lastModified: strongLastModified(res),
          ...(isMaybeTruncated ? { isMaybeTruncated } : {}),
        };
      });
    try {
      for (;;) {
        try {
          return await once();
        } catch (err) {
          if (!(err instanceof LargePageWait)) throw err;
          // Another large page is being read: wait for it, then read this one from the start.
          await largePages.acquire(signal).catch((reason: unknown) => {
            throw toUpstreamError(reason, url, signal);
          });
          holdsLarge = true;
        }
      }
    } finally {
      if (holdsLarge) largePages.release();
    }
  }

  async function fetchFile(
    url: string,
    signal: AbortSignal,
    options: FileRequestOptions = {},
  ): Promise<FileResponse> {
    const target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw payloadError(target, 'not an http(s) URL');
    }
    const declared = options.size ?? null;
    if (declared !== null && declared > maxFileSize) {
      throw fileTooLarge(target, `the index declares ${declared} bytes`, maxFileSize);
    }
    return attempt(target, 'GET', signal, async () => {
      const res = await send(target, signal, { accept: '*/*', 'accept-encoding': 'identity' }, undefined, {
        size: declared,
      });
      await ensureOk(res, target);
      const body = await contentOf(res, target, 'identity');
      const size = contentLength(res);
      if (size !== null && size > maxFileSize) {
        body.destroy();
        throw fileTooLarge(target, `Content-Length announces ${size} bytes`, maxFileSize);
      }
      return { body, size, maxSize: maxFileSize };
    });
  }

  /** One XML-RPC call to `<origin>/pypi`; null when the endpoint or method does not exist. */
  async function callXmlRpc(
    method: string,
    params: number[],
    signal: AbortSignal,
  ): Promise<{ value: XmlRpcValue } | null> {
    const url = new URL('/pypi', base.origin);
    return attempt(url, 'POST', signal, async () => {
      const res = await send(
        url,
        signal,
        { 'content-type': 'text/xml', accept: 'text/xml' },
        encodeMethodCall(method, params),
      );
      if (res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 501) {
        await res.body.dump();
        return null;
      }
      await ensureOk(res, url);
      const parser = createMethodResponseParser(url);
      let parsed;
      try {
        await streamBody(res, url, MAX_XMLRPC_BYTES, (text) => parser.write(text)); // a network error is retried
        parsed = parser.end();
      } catch (err) {
        if (!(err instanceof XmlRpcFormatError)) throw err; // payload, network, abort
        throw payloadError(url, `XML-RPC ${method}: ${err.message}`, err);
      }
      if (!('fault' in parsed)) return parsed;
      if (isMethodNotFound(parsed.fault)) return null;
      if (/too ?many ?requests|\b429\b/i.test(parsed.fault.message))
        throw new UpstreamStatusError(redactUrl(url), 429, null);
      throw payloadError(url, `XML-RPC ${method} fault ${parsed.fault.code}: ${parsed.fault.message}`);
    });
  }

  async function fetchChangelogSince(
    serial: number,
    signal: AbortSignal,
    options: { readonly maxPages?: number } = {},
  ): Promise<ChangelogResult> {
    const pages = options.maxPages ?? maxPages;
    let requests = 0;
    let lastBatch = 0;
    const call = async (since: number): Promise<{ value: XmlRpcValue } | null> => {
      requests++;
      const result = await callXmlRpc('changelog_since_serial', [since], signal);
      lastBatch = result !== null && Array.isArray(result.value) ? result.value.length : 0;
      return result;
    };
    const log = await pageChangelog(call, serial, {
      pageSize,
      maxPages: pages,
      url: new URL('/pypi', base.origin),
    });
    if (!log.supported) return log;
    return { ...log, requests, isTruncated: requests >= pages && lastBatch >= pageSize };
  }

  async function fetchLastSerial(signal: AbortSignal): Promise<number | null> {
    const url = new URL('/pypi', base.origin);
    const result = await callXmlRpc('changelog_last_serial', [], signal);
    if (result === null) return null;
    if (!Number.isSafeInteger(result.value) || (result.value as number) < 0) {
      throw payloadError(
        url,
        `changelog_last_serial: expected an integer ≥ 0, got ${JSON.stringify(result.value)}`,
      );
    }
    return result.value as number;
  }

  /** The JSON API's upload times (json-api.ts); null on 404, as on any index that has no JSON API. */
  async function fetchUploadTimes(
    name: string,
    signal: AbortSignal,
  ): Promise<ReadonlyMap<string, string> | null> {
    const url = jsonApiUrl(base, normalizeName(name));
    return attempt(url, 'GET', signal, async () => {
      const res = await send(url, signal, { accept: 'application/json' });
      if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump();
        return null;
      }
      await ensureOk(res, url);
      const parts: string[] = [];
      await streamBody(res, url, MAX_PAGE_BYTES, (text) => void parts.push(text));
      try {
        return readUploadTimes(JSON.parse(parts.join('')));
      } catch (err) {
        throw payloadError(url, `the JSON API answer is not JSON: ${(err as Error).message}`, err);
      }
    });
  }

  return {
    fetchListing,
    streamListing,
    fetchProject,
    fetchFile,
    fetchChangelogSince,
    fetchLastSerial,
    fetchUploadTimes,
  };
}
