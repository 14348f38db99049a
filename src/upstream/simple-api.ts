// The Upstream (model/upstream.ts) over the Simple API (docs/protocol.md §1-§3): the root listing (streamed), project
// pages (PEP 691 JSON or PEP 503 HTML, one large page decoded at a time), files, and the JSON API's upload
// times; `createUpstream` puts them together with the XML-RPC client (xmlrpc-client.ts) over one Sender
// (send.ts), which does the sending: retries, deadlines, conditional requests, statuses, decoding, caps.
// Aborts: every method rejects with UpstreamError 'UPSTREAM_ABORTED' (cause = signal.reason); a body stream
// returned by fetchFile is destroyed with signal.reason (undici), which toUpstreamError maps the same way.
import { UpstreamError, redactUrl } from '../errors.js';
import type { Logger } from '../log.js';
import { isValidProjectName, normalizeName } from '../model/names.js';
import { keepHeapSmall } from '../util/heap-tier.js';
import { payloadError } from './decode.js';
import { createGate, type Gate } from './gate.js';
import {
  contentLength,
  finalUrl,
  header,
  readSerial,
  strongLastModified,
  type Http,
  type Response,
} from './http.js';
import { jsonApiUrl, readUploadTimes } from './json-api.js';
import { fileTooLarge } from './limits.js';
import { createListingJsonParser } from './listing-stream.js';
import { createPageJsonDecoder } from './page-stream.js';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, DEFAULT_RETRIES, toUpstreamError } from './retry.js';
import { contentOf, ensureOk, isAbsent, isCloseDelimited, pageKind, Sender, streamBody } from './send.js';
import type {
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
} from '../model/upstream.js';
import { createXmlRpcClient } from './xmlrpc-client.js';

/** The largest project page read, decoded (PyPI's largest project pages are a few MB). */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/**
 * A page larger than this (decoded) is read only while no other such page is: with `workers` pages in flight,
 * at most one large one is decoded at a time, so memory stays bounded whatever the pages.
 */
export const LARGE_PAGE_BYTES = 4 * 1024 * 1024;

export const ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';

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

/** Thrown inside an attempt when a page turns out large while another large page is being read. */
class LargePageWait extends Error {}

export function createUpstream(opts: UpstreamOptions): Upstream {
  const sender = new Sender({
    indexUrl: opts.indexUrl,
    http: opts.http,
    log: opts.log,
    retry: {
      retries: opts.retries ?? DEFAULT_RETRIES,
      minMs: opts.minDelayMs ?? DEFAULT_MIN_DELAY_MS,
      maxMs: opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    },
    deadlineMs: opts.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINE_MS,
  });
  const maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const largePages = createGate();
  return {
    fetchListing: (signal) => fetchListing(sender, signal),
    streamListing: (visitor, conditional, signal) => streamListing(sender, visitor, conditional, signal),
    fetchProject: (name, conditional, signal) => fetchProject(sender, largePages, name, conditional, signal),
    fetchFile: (url, signal, options) => fetchFile(sender, maxFileSize, url, signal, options),
    fetchUploadTimes: (name, signal) => fetchUploadTimes(sender, name, signal),
    ...createXmlRpcClient(sender, {
      pageSize: opts.changelogPageSize ?? 50_000,
      maxPages: opts.changelogMaxPages ?? 100,
    }),
  };
}

/**
 * The HTML parsers (html.ts), and htmlparser2 with them, loaded when the first HTML page or listing is
 * parsed: an upstream that answers in JSON, as PyPI does, never loads them.
 */
function htmlParsers(): Promise<typeof import('./html.js')> {
  return import('./html.js');
}

/**
 * Streams the root listing into `visitor`: JSON through the streaming parser (listing-stream.ts), HTML
 * through the streaming root-page parser; nothing but the current entry is held.
 */
function streamListing(
  sender: Sender,
  visitor: ListingVisitor,
  conditional: ConditionalHeaders | null,
  signal: AbortSignal,
): Promise<ListingSummary | NotModified> {
  const { base } = sender;
  const spec = { headers: { accept: ACCEPT }, conditional };
  const readListing = async (res: Response): Promise<ListingSummary> => {
    await ensureOk(res, base);
    const kind = await pageKind(res, base);
    const at = finalUrl(res, base);
    let count = 0;
    const deliver = (p: ListedProject): void => {
      count++;
      visitor.project(p);
    };
    const jsonParser = kind === 'json' ? createListingJsonParser(deliver, at) : null;
    const parser = jsonParser ?? (await htmlParsers()).createListingHtmlParser(deliver, at);
    await streamBody(res, base, Infinity, (text) => parser.write(text));
    parser.end();
    sender.report({ value: null, warnings: parser.warnings }, at);
    return {
      count,
      serial: jsonParser?.serial ?? readSerial(res),
      format: kind,
      etag: header(res, 'etag'),
      lastModified: strongLastModified(res),
    };
  };
  return sender.exchange(base, spec, signal, readListing, () => visitor.restart());
}

async function fetchListing(sender: Sender, signal: AbortSignal): Promise<ProjectListing> {
  let projects: ListedProject[] = [];
  const visitor: ListingVisitor = {
    project: (p) => void projects.push(p),
    restart: () => void (projects = []),
  };
  const summary = await streamListing(sender, visitor, null, signal);
  if ('notModified' in summary) throw new Error('unconditional listing answered 304');
  return { projects, serial: summary.serial, format: summary.format };
}

/** A project's page; one larger than LARGE_PAGE_BYTES waits for `largePages` and is read again whole. */
async function fetchProject(
  sender: Sender,
  largePages: Gate,
  name: string,
  conditional: ConditionalHeaders | null,
  signal: AbortSignal,
): Promise<ProjectPage | NotModified> {
  if (!isValidProjectName(name)) throw new TypeError(`Not a valid project name: ${JSON.stringify(name)}`);
  keepHeapSmall(); // a run that reads pages keeps a small heap (util/heap-tier.ts)
  const normalized = normalizeName(name);
  const url = new URL(`${normalized}/`, sender.base);
  const spec = { headers: { accept: ACCEPT }, conditional };
  let holdsLarge = false;
  const onSize = (size: number): void => {
    if (size <= LARGE_PAGE_BYTES || holdsLarge) return;
    if (!largePages.tryAcquire()) throw new LargePageWait();
    holdsLarge = true;
  };
  const once = (): Promise<ProjectPage | NotModified> =>
    sender.exchange(url, spec, signal, async (res) => {
      if (await isAbsent(res, [404, 410])) {
        const where = redactUrl(url);
        throw new UpstreamError('UPSTREAM_NOT_FOUND', `${where}: HTTP ${res.statusCode}`, {
          url: where,
          status: res.statusCode,
        });
      }
      await ensureOk(res, url);
      const kind = await pageKind(res, url);
      const at = finalUrl(res, url);
      const parser =
        kind === 'json'
          ? createPageJsonDecoder(at, normalized)
          : (await htmlParsers()).createProjectHtmlParser(at, normalized);
      await streamBody(res, at, MAX_PAGE_BYTES, (text) => parser.write(text), onSize);
      const body = sender.report(parser.end(), at);
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
  sender: Sender,
  maxFileSize: number,
  url: string,
  signal: AbortSignal,
  options: FileRequestOptions = {},
): Promise<FileResponse> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw payloadError(target, 'not an http(s) URL');
  }
  keepHeapSmall(); // a run that downloads keeps a small heap (util/heap-tier.ts)
  const declared = options.size ?? null;
  if (declared !== null && declared > maxFileSize) {
    throw fileTooLarge(target, `the index declares ${declared} bytes`, maxFileSize);
  }
  const spec = { headers: { accept: '*/*', 'accept-encoding': 'identity' }, file: { size: declared } };
  return sender.call(target, spec, signal, async (res) => {
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

/** The JSON API's upload times (json-api.ts); null on 404, as on any index that has no JSON API. */
async function fetchUploadTimes(
  sender: Sender,
  name: string,
  signal: AbortSignal,
): Promise<ReadonlyMap<string, string> | null> {
  const url = jsonApiUrl(sender.base, normalizeName(name));
  return sender.call(url, { headers: { accept: 'application/json' } }, signal, async (res) => {
    if (await isAbsent(res, [404, 410])) return null;
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
