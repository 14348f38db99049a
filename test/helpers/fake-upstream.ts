// A fake PyPI on 127.0.0.1: PEP 503 HTML / PEP 691 JSON simple pages with serials, ETags and redirects,
// files (with PEP 658 .metadata), XML-RPC changelog, faults on demand, and a request log.
// The model and page rendering live in fake-upstream-model.ts / fake-upstream-pages.ts.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { type BodySource, bufferBody, generatedBody, hashBody } from './body-source.js';
import type { PathMatcher } from './fake-upstream-faults.js';
import { FaultRegistry, pause } from './fake-upstream-faults.js';
import type { Reply } from './fake-upstream-http.js';
import {
  encodedPackagesPath,
  failReply,
  fileReply,
  packagesPathOf,
  isNotModified,
  NO_FAULTS,
  readBody,
  redirect,
  safeDecode,
  sendReply,
  text,
} from './fake-upstream-http.js';
import type {
  FakeFile,
  FakeProject,
  FileInput,
  JournalEntry,
  ProjectStatusValue,
} from './fake-upstream-model.js';
import { normalize, UpstreamModel } from './fake-upstream-model.js';
import type { FormatsOption, PageFormat, RenderContext } from './fake-upstream-pages.js';
import * as pages from './fake-upstream-pages.js';
import { answerXmlRpc } from './fake-upstream-xmlrpc.js';
import type { RequestLogEntry } from './request-log.js';
import { RequestLog } from './request-log.js';

export type {
  FakeFile,
  FakeProject,
  FileInput,
  JournalEntry,
  ProjectStatusValue,
} from './fake-upstream-model.js';
export type { PathMatcher } from './fake-upstream-faults.js';
export type { RequestLogEntry } from './request-log.js';
export { normalize } from './fake-upstream-model.js';

export interface FakeUpstreamOptions {
  /** `both` (default): negotiate; `html-only`: plain PEP 503 (always text/html, no serials); `json-only`. */
  readonly formats?: FormatsOption;
  /** How pages link files (and the root links projects). Default `relative`. */
  readonly fileUrls?: 'relative' | 'absolute';
  /** Pages link files at this origin (`http://host:port`), as pypi.org links files.pythonhosted.org; the
   * fake does not serve them there. Default: the fake's own origin. */
  readonly filesOrigin?: string;
  /** `/files/<project>/<filename>` (default) or PyPI-like `/packages/ab/cd/<rest-of-sha256>/<filename>`. */
  readonly filePaths?: 'files' | 'packages';
  /** Pages link `/files/...`, which answers 302 to the `/packages/...` path. Default false. */
  readonly redirectFiles?: boolean;
  /** XML-RPC at POST /pypi; false answers 404 like a plain index. Default true. */
  readonly xmlrpc?: boolean;
  /** PyPI's JSON API at GET /pypi/<project>/json (its `releases` with upload times); false answers 404. Default true. */
  readonly jsonApi?: boolean;
  /** Rows per changelog_since_serial call. Default 50 000 (PyPI). */
  readonly changelogCap?: number;
  /** Delay before every response. Default 0. */
  readonly latencyMs?: number;
  /** PEP 629 version on pages. Default `1.4`. */
  readonly apiVersion?: string;
  /** Serial before the first mutation. Default 0. */
  readonly initialSerial?: number;
  /** Honour `Range: bytes=` on files (206/416). Default true. */
  readonly ranges?: boolean;
  /** Clock in ms (upload times, journal timestamps, Last-Modified). Default Date.now. */
  readonly now?: () => number;
  /** Like PyPI: pages, the listing and XML-RPC answers gzipped when the client accepts gzip (never
   * files). Default true. */
  readonly gzip?: boolean;
}

export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const fake = new FakeUpstream(options);
  await fake.listen();
  return fake;
}

export class FakeUpstream {
  private readonly log = new RequestLog();
  /** Every request, in arrival order (emptied by resetLog). */
  readonly requests: RequestLogEntry[] = this.log.entries;
  latencyMs: number;
  changelogCap: number;
  private readonly model: UpstreamModel;
  private readonly faults = new FaultRegistry();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly closing = new AbortController();
  /** Rendered page bodies by `<normalized or ''>|<format>`, dropped on mutation. */
  private readonly cache = new Map<string, string>();
  /** Pages pinned to an old version (freezePage), by normalised name or '' for the root. */
  private readonly frozen = new Map<string, { versions: Map<PageFormat, PageVersion>; remaining: number }>();
  private readonly formats: FormatsOption;
  private origin = '';
  private closed = false;
  /** Connections numbered from 1 as their first request arrives (keep-alive shows as reuse of a number). */
  private readonly connectionIds = new WeakMap<object, number>();
  private connectionsAccepted = 0;

  constructor(private readonly options: FakeUpstreamOptions) {
    this.latencyMs = options.latencyMs ?? 0;
    this.changelogCap = options.changelogCap ?? 50_000;
    this.formats = options.formats ?? 'both';
    this.model = new UpstreamModel(options.initialSerial ?? 0, options.now ?? Date.now);
    this.model.onChange = (normalized) => {
      for (const format of ALL_FORMATS) {
        this.cache.delete(`|${format}`);
        this.cache.delete(`${normalized}|${format}`);
      }
    };
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The index base URL, `http://127.0.0.1:PORT/simple/`. */
  get url(): string {
    return `${this.origin}/simple/`;
  }
  get baseOrigin(): string {
    return this.origin;
  }
  get xmlrpcUrl(): string {
    return `${this.origin}/pypi`;
  }
  /** The global serial (highest journal serial). */
  get serial(): number {
    return this.model.serial;
  }
  get journal(): readonly JournalEntry[] {
    return this.model.journal;
  }

  // ---- mutations: each journals and bumps the serial -------------------------------------------------

  addProject(name: string, dists: readonly FileInput[] = []): FakeProject {
    const project = this.model.createProject(name);
    for (const dist of dists) this.model.addBufferFile(name, dist);
    return project;
  }
  /** Adds a file; creates the project if needed. */
  addFile(project: string, dist: FileInput): FakeFile {
    return this.model.addBufferFile(project, dist);
  }
  /** A generated deterministic file of `sizeBytes`, streamed on demand; its sha256 is computed now. */
  async addBigFile(
    project: string,
    filename: string,
    sizeBytes: number,
    options: Omit<FileInput, 'filename' | 'bytes'> & { readonly seed?: string } = {},
  ): Promise<FakeFile> {
    const body = generatedBody(sizeBytes, options.seed ?? filename);
    const sha256 = await hashBody(body);
    return this.model.addFile(project, { ...options, filename }, body, sha256);
  }
  removeFile(project: string, filename: string): void {
    this.model.removeFile(project, filename);
  }
  removeProject(name: string): void {
    this.model.removeProject(name);
  }
  /**
   * Forgets the catalogue (projects, files, journal) and keeps the serial: a changelog since it is empty until
   * the next mutation, and a page or file of a forgotten project is a 404. For the scale bench, whose mirror's
   * setup alone reads its 1 000 000 files: held, they were 1 GB of the bench's heap, beside the upstream it
   * serves the scenarios from.
   */
  forgetCatalogue(): void {
    this.model.forgetCatalogue();
    this.cache.clear();
    this.frozen.clear();
  }
  /** Yanks a file; no reason (or '') = yanked without reason. */
  yank(project: string, filename: string, reason?: string): void {
    this.model.yank(project, filename, reason);
  }
  unyank(project: string, filename: string): void {
    this.model.unyank(project, filename);
  }
  setProjectStatus(project: string, status: ProjectStatusValue, reason?: string): void {
    this.model.setStatus(project, status, reason);
  }
  /** Bumps the project's serial without changing its files (like a role change on PyPI). */
  touch(project: string, action = 'add Maintainer fake-user'): void {
    this.model.touch(project, action);
  }

  // ---- model helpers ----------------------------------------------------------------------------------

  project(name: string): FakeProject | undefined {
    return this.model.get(name);
  }
  file(project: string, filename: string): FakeFile {
    return this.model.requireFile(project, filename);
  }
  sha256(project: string, filename: string): string {
    return this.file(project, filename).sha256;
  }
  /** Absolute URL of the project page. */
  projectUrl(name: string): string {
    return `${this.url}${normalize(name)}/`;
  }
  /** Absolute URL the pages link for this file (before any redirect). */
  fileUrl(project: string, filename: string): string {
    return (this.options.filesOrigin ?? this.origin) + this.linkedPath(this.file(project, filename));
  }
  /** The PyPI-like `/packages/ab/cd/<rest>/<filename>` path (served in every mode). */
  packagesPath(project: string, filename: string): string {
    return packagesPathOf(this.file(project, filename));
  }

  // ---- faults ------------------------------------------------------------------------------------------

  /** Answer `status` (e.g. 503, 429) with an optional Retry-After. */
  fail(path: PathMatcher, o: { status: number; times?: number; retryAfter?: number | string }): void {
    const retry = o.retryAfter === undefined ? {} : { retryAfter: o.retryAfter };
    this.faults.add(path, { kind: 'fail', status: o.status, ...retry }, o.times);
  }
  /** Destroy the socket with a TCP reset, mid-status-line (default) or after half of the body. */
  reset(path: PathMatcher, o: { times?: number; phase?: 'headers' | 'body' } = {}): void {
    this.faults.add(path, { kind: 'reset', phase: o.phase ?? 'headers' }, o.times);
  }
  /** Full Content-Length, but only `bytes` (default half) of the body, then FIN. */
  truncate(path: PathMatcher, o: { times?: number; bytes?: number } = {}): void {
    this.faults.add(
      path,
      o.bytes === undefined ? { kind: 'truncate' } : { kind: 'truncate', bytes: o.bytes },
      o.times,
    );
  }
  /** Right length, one byte flipped in the middle. */
  corrupt(path: PathMatcher, o: { times?: number } = {}): void {
    this.faults.add(path, { kind: 'corrupt' }, o.times);
  }
  /** Wait `ms` before the headers (default) or in the middle of the body. */
  delay(path: PathMatcher, ms: number, o: { times?: number; phase?: 'headers' | 'body' } = {}): void {
    this.faults.add(path, { kind: 'delay', ms, phase: o.phase ?? 'headers' }, o.times);
  }
  /** Send bodies at most this fast. */
  throttle(path: PathMatcher, bytesPerSec: number, o: { times?: number } = {}): void {
    this.faults.add(path, { kind: 'throttle', bytesPerSec }, o.times);
  }
  /**
   * Keeps serving the root page (name null) or a project page exactly as it is now (body, serial header,
   * validators) for `times` requests (default: until clearFaults), whatever changes: a lagging CDN.
   */
  freezePage(name: string | null, o: { times?: number } = {}): void {
    const project = name === null ? undefined : this.model.require(name);
    const versions = new Map<PageFormat, PageVersion>();
    for (const format of ALL_FORMATS) versions.set(format, this.currentPage(format, project));
    this.frozen.set(project?.normalized ?? '', { versions, remaining: o.times ?? Infinity });
  }
  /** Removes every fault and frozen page. */
  clearFaults(): void {
    this.faults.clear();
    this.frozen.clear();
  }

  /** Stops listening and destroys every connection, keep-alive ones included. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await stopped;
  }

  // ---- request log -------------------------------------------------------------------------------------

  resetLog(): void {
    this.log.reset();
  }
  /** Body bytes sent (since the last resetLog), optionally only for matching requests. */
  bytesSent(filter?: (r: RequestLogEntry) => boolean): number {
    return this.log.bytesSent(filter);
  }
  /** TCP connections that have carried at least one request since the server started. */
  connectionCount(): number {
    return this.connectionsAccepted;
  }
  /** Requests currently in flight. */
  inFlight(): number {
    return this.log.inFlight();
  }
  /** The largest number of (matching) requests that were in flight at the same moment. */
  maxConcurrent(filter?: (r: RequestLogEntry) => boolean): number {
    return this.log.maxConcurrent(filter);
  }
  /** Resolves with the first logged request matching `predicate` (checks every 5 ms, up to timeoutMs). */
  waitForRequest(predicate: (r: RequestLogEntry) => boolean, timeoutMs = 10_000): Promise<RequestLogEntry> {
    return this.log.waitFor(predicate, timeoutMs);
  }

  // ---- serving -----------------------------------------------------------------------------------------

  private connectionOf(socket: object): number {
    let id = this.connectionIds.get(socket);
    if (id === undefined) {
      id = ++this.connectionsAccepted;
      this.connectionIds.set(socket, id);
    }
    return id;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry = this.log.start(
      req.method ?? 'GET',
      req.url ?? '/',
      req.headers,
      this.connectionOf(req.socket),
    );
    const requestDone = new AbortController();
    res.on('close', () => {
      entry.endedAt = performance.now();
      entry.aborted = !res.writableFinished;
      requestDone.abort();
    });
    const signal = AbortSignal.any([requestDone.signal, this.closing.signal]);
    try {
      if (this.latencyMs > 0 && !(await pause(this.latencyMs, signal))) return;
      const url = new URL(req.url ?? '/', this.origin);
      const faults = this.faults.take(url.pathname);
      if (faults.headerDelayMs > 0 && !(await pause(faults.headerDelayMs, signal))) return;
      const shaping = faults.shaping;
      entry.fault = shaping?.kind;
      if (shaping?.kind === 'reset' && shaping.phase === 'headers') {
        res.socket?.write('HTTP/1.1 200 OK\r\nContent-Ty');
        res.socket?.resetAndDestroy();
        return;
      }
      const reply =
        shaping?.kind === 'fail' ? failReply(shaping.status, shaping.retryAfter) : await this.route(req, url);
      entry.status = reply.status;
      await sendReply(req, res, reply, faults, signal, (count) => this.log.addBytes(entry, count));
    } catch (error) {
      if (!res.headersSent) {
        entry.status = 500;
        await sendReply(req, res, text(500, String(error)), NO_FAULTS, signal, () => {});
      } else {
        res.destroy();
      }
    }
  }

  private async route(req: IncomingMessage, url: URL): Promise<Reply> {
    const path = url.pathname;
    if (path === '/pypi') {
      if (this.options.xmlrpc === false) return text(404, 'Not Found');
      if (req.method !== 'POST') return text(405, 'Method Not Allowed');
      const xml = answerXmlRpc(this.model, await readBody(req, 1 << 20), this.changelogCap);
      const headers: Record<string, string> = { 'Content-Type': 'text/xml' };
      return { status: 200, headers, body: this.encoded(req, headers, Buffer.from(xml)) };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'Method Not Allowed');
    const api = /^\/pypi\/([^/]+)\/json$/.exec(path);
    if (api !== null) {
      const project = this.options.jsonApi === false ? undefined : this.model.get(safeDecode(api[1] ?? ''));
      if (project === undefined) return text(404, 'Not Found');
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        'X-PyPI-Last-Serial': String(project.lastSerial),
      };
      const json = pages.renderJsonApi(
        project,
        (f) => (this.options.filesOrigin ?? this.origin) + this.linkedPath(f),
      );
      return { status: 200, headers, body: this.encoded(req, headers, Buffer.from(json)) };
    }
    if (path === '/simple') return redirect(301, '/simple/' + url.search);
    if (path === '/simple/') return this.page(req, url, undefined);
    const simple = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (simple !== null) {
      const segment = safeDecode(simple[1] ?? '');
      if (simple[2] === '') return redirect(301, `/simple/${simple[1]}/${url.search}`);
      const project = this.model.get(segment);
      if (project === undefined) return text(404, 'Not Found');
      if (segment !== project.normalized) return redirect(301, `/simple/${project.normalized}/${url.search}`);
      return this.page(req, url, project);
    }
    return fileReply(req, path, this.model.filesByName, this.options);
  }

  private page(req: IncomingMessage, url: URL, project: FakeProject | undefined): Reply {
    const format = pages.negotiateFormat(req.headers.accept, url.searchParams.get('format'), this.formats);
    if (format === undefined) return text(406, 'Not Acceptable');
    const scope = project?.normalized ?? '';
    const frozen = this.frozen.get(scope);
    if (frozen !== undefined && (frozen.remaining -= 1) <= 0) this.frozen.delete(scope);
    const { body, serial, modifiedMs } = frozen?.versions.get(format) ?? this.currentPage(format, project);
    const etag = `"${createHash('sha256').update(`${scope}|${format}`).update(body).digest('hex').slice(0, 32)}"`;
    const headers: Record<string, string> = {
      'Content-Type': pages.CONTENT_TYPES[format],
      ETag: etag,
      'Last-Modified': new Date(modifiedMs).toUTCString(),
    };
    if (this.formats !== 'html-only') {
      headers['Vary'] = 'Accept';
      headers['X-PyPI-Last-Serial'] = String(serial);
    }
    if (project === undefined) this.model.rootModifiedSeen = true;
    else project.modifiedSeen = true;
    if (isNotModified(req.headers, etag, modifiedMs)) return { status: 304, headers };
    return { status: 200, headers, body: this.encoded(req, headers, Buffer.from(body)) };
  }

  /** `body`, gzipped when the client accepts gzip and the option allows (headers updated to say so). */
  private encoded(req: IncomingMessage, headers: Record<string, string>, body: Buffer): BodySource {
    if (this.options.gzip === false) return bufferBody(body);
    headers['Vary'] =
      headers['Vary'] === undefined ? 'Accept-Encoding' : `${headers['Vary']}, Accept-Encoding`;
    if (!acceptsGzip(req.headers['accept-encoding'])) return bufferBody(body);
    headers['Content-Encoding'] = 'gzip';
    return bufferBody(gzipSync(body));
  }

  private currentPage(format: PageFormat, project: FakeProject | undefined): PageVersion {
    const key = `${project?.normalized ?? ''}|${format}`;
    let body = this.cache.get(key);
    if (body === undefined) {
      body = this.render(format, project);
      this.cache.set(key, body);
    }
    return project === undefined
      ? { body, serial: this.model.serial, modifiedMs: this.model.rootModifiedMs }
      : { body, serial: project.lastSerial, modifiedMs: project.modifiedMs };
  }

  private render(format: PageFormat, project: FakeProject | undefined): string {
    const absolute = this.options.fileUrls === 'absolute';
    const ctx: RenderContext = {
      apiVersion: this.options.apiVersion ?? '1.4',
      withSerials: this.formats !== 'html-only',
      projectHref: (normalized) => (absolute ? `${this.url}${normalized}/` : `${normalized}/`),
      fileHref: (file) =>
        (this.options.filesOrigin ?? (absolute ? this.origin : '../..')) + this.linkedPath(file),
    };
    if (project === undefined) {
      return format === 'json'
        ? pages.renderRootJson(this.model, ctx)
        : pages.renderRootHtml(this.model, ctx);
    }
    return format === 'json' ? pages.renderProjectJson(project, ctx) : pages.renderProjectHtml(project, ctx);
  }

  private linkedPath(file: FakeFile): string {
    const viaFiles = this.options.redirectFiles === true || (this.options.filePaths ?? 'files') === 'files';
    return viaFiles
      ? `/files/${file.project}/${encodeURIComponent(file.filename)}`
      : encodedPackagesPath(file);
  }
}

const ALL_FORMATS: readonly PageFormat[] = ['json', 'v1-html', 'html'];

/** Whether an Accept-Encoding header accepts gzip (`gzip` or `*` with a q above 0). */
function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((item) => {
    const [name = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

interface PageVersion {
  readonly body: string;
  readonly serial: number;
  readonly modifiedMs: number;
}
