// A hostile (or merely broken) upstream index on 127.0.0.1 whose every answer is data: a Scenario maps paths to
// Replies (status, headers, a body that may be huge, endless or trickling, gzip, and how the body is framed).
// The attack tests (test/attack/) describe each finding of the attack review as a scenario and run the real
// CLI against it. Big bodies are generated as they are sent, with backpressure, never built whole.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';

export type Body =
  | string
  | Buffer
  /** head + repeat × times + tail, streamed. */
  | { readonly repeat: string; readonly times: number; readonly head?: string; readonly tail?: string }
  /** One byte of `trickle` every `everyMs`, cycling, until the client leaves. */
  | { readonly trickle: string; readonly everyMs: number }
  /** Zero bytes in chunks of this many, until the client leaves. */
  | { readonly endless: number };

export interface Reply {
  /** Default 200. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Body;
  /** Gzip the body on the fly (Content-Encoding: gzip). */
  readonly gzip?: boolean;
  /**
   * How the end of the body is told: `length` (Content-Length; the default for a string or Buffer without gzip),
   * `chunked` (the default otherwise), or `close` (neither: the connection closes at the end, as in HTTP/1.0).
   */
  readonly framing?: 'length' | 'chunked' | 'close';
}

export interface RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  /** 1-based count of requests to this path, this one included. */
  readonly count: number;
}

/** One Reply for every request; an array answers in turn and repeats its last entry; a function decides. */
export type Route = Reply | readonly Reply[] | ((req: RequestInfo) => Reply);

export interface Scenario {
  readonly name: string;
  /** Exact paths (`/simple/`, `/simple/foo/`, `/pypi`, `/files/foo-1.0.tar.gz`); any other path answers 404. */
  readonly routes: Readonly<Record<string, Route>>;
}

export interface HostileUpstream {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** `${origin}/simple/`, the index_url. */
  readonly url: string;
  requests(): readonly { readonly method: string; readonly path: string }[];
  /** Swaps the answers (between runs); request counts per path start again. */
  setScenario(scenario: Scenario): void;
  close(): Promise<void>;
}

/** Bytes per write of a generated body. */
const CHUNK = 64 * 1024;

export const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
export const HTML_TYPE = 'text/html; charset=utf-8';

function isAttached(req: IncomingMessage): boolean {
  return !req.socket.destroyed;
}

async function write(out: Writable, chunk: string | Buffer): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return false;
  if (!out.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
    });
  }
  return !out.destroyed;
}

/** Sends `body` into `out`, generating big, endless and trickling bodies as the client takes them. */
async function pump(out: Writable, body: Body, req: IncomingMessage): Promise<void> {
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    await write(out, body);
  } else if ('repeat' in body) {
    if (body.head !== undefined && !(await write(out, body.head))) return;
    const perChunk = Math.max(1, Math.floor(CHUNK / Math.max(1, Buffer.byteLength(body.repeat))));
    const block = body.repeat.repeat(perChunk);
    let left = body.times;
    while (left > 0 && isAttached(req)) {
      const n = Math.min(left, perChunk);
      if (!(await write(out, n === perChunk ? block : body.repeat.repeat(n)))) return;
      left -= n;
    }
    if (body.tail !== undefined) await write(out, body.tail);
  } else if ('trickle' in body) {
    const bytes = Buffer.from(body.trickle);
    for (let i = 0; isAttached(req); i++) {
      if (!(await write(out, bytes.subarray(i % bytes.length, (i % bytes.length) + 1)))) return;
      await sleep(body.everyMs);
    }
  } else {
    const zeros = Buffer.alloc(body.endless);
    while (isAttached(req)) if (!(await write(out, zeros))) return;
  }
}

function isFixed(body: Body | undefined): body is string | Buffer | undefined {
  return body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
}

async function answer(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  const body = reply.body ?? '';
  const framing = reply.framing ?? (isFixed(body) && reply.gzip !== true ? 'length' : 'chunked');
  const headers: Record<string, string | number> = { ...reply.headers };
  if (reply.gzip === true) headers['content-encoding'] = 'gzip';
  if (framing === 'length') {
    if (!isFixed(body) || reply.gzip === true) throw new Error('framing "length" needs a fixed, plain body');
    headers['content-length'] = Buffer.byteLength(body ?? '');
  }
  if (framing === 'close') {
    // No Content-Length and no chunking: the body ends when the connection does (RFC 9112 §6.3 item 8).
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    headers['connection'] = 'close';
  }
  res.writeHead(reply.status ?? 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (reply.gzip === true) {
    const gzip = createGzip();
    gzip.pipe(res);
    res.on('close', () => gzip.destroy());
    await pump(gzip, body, req);
    if (!gzip.destroyed) gzip.end();
    await once(res, 'close').catch(() => {});
  } else {
    await pump(res, body, req);
    if (!res.destroyed) res.end();
  }
}

function pick(route: Route, info: RequestInfo): Reply {
  if (typeof route === 'function') return route(info);
  if (Array.isArray(route)) {
    const list = route as readonly Reply[];
    return list[Math.min(info.count, list.length) - 1] ?? { status: 500 };
  }
  return route as Reply;
}

export async function startHostileUpstream(scenario: Scenario): Promise<HostileUpstream> {
  let current = scenario;
  let counts = new Map<string, number>();
  const log: { method: string; path: string }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    log.push({ method: req.method ?? 'GET', path });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      const route = current.routes[path];
      const reply: Reply =
        route === undefined
          ? { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' }
          : pick(route, { method: req.method ?? 'GET', path, body: Buffer.concat(chunks).toString(), count });
      answer(req, res, reply).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/simple/`,
    requests: () => [...log],
    setScenario(next) {
      current = next;
      counts = new Map();
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

// ---- page builders ------------------------------------------------------------------------------------

export interface FakeDist {
  readonly filename: string;
  readonly bytes: Buffer;
}

/** A small file with deterministic bytes (not a real wheel: the mirror only hashes files). */
export function dist(filename: string, content: string = `contents of ${filename}\n`): FakeDist {
  return { filename, bytes: Buffer.from(content) };
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface ProjectRouteOptions {
  /** PEP 503 HTML instead of PEP 691 JSON. */
  readonly html?: boolean;
  /** The hash the page claims (default: the real one). */
  readonly sha256?: (f: FakeDist) => string;
  /** PEP 792 project status. */
  readonly status?: string;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The body of a project page listing `files` (linked as `/files/<filename>`), JSON or HTML. */
export function projectPage(
  project: string,
  files: readonly FakeDist[],
  opts: ProjectRouteOptions = {},
): Reply {
  const hashOf = opts.sha256 ?? ((f: FakeDist) => sha256Of(f.bytes));
  if (opts.html === true) {
    const status =
      opts.status === undefined
        ? ''
        : `<meta name="pypi:project-status" content="${escapeHtml(opts.status)}">`;
    const links = files
      .map(
        (f) =>
          `<a href="/files/${encodeURIComponent(f.filename)}#sha256=${hashOf(f)}">${escapeHtml(f.filename)}</a><br>`,
      )
      .join('\n');
    return {
      headers: { 'content-type': HTML_TYPE },
      body: `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">${status}<title>Links for ${escapeHtml(project)}</title></head><body>\n${links}\n</body></html>\n`,
    };
  }
  const json = {
    meta: { 'api-version': '1.4' },
    name: project,
    files: files.map((f) => ({
      filename: f.filename,
      url: `/files/${encodeURIComponent(f.filename)}`,
      hashes: { sha256: hashOf(f) },
      size: f.bytes.length,
    })),
    ...(opts.status === undefined ? {} : { 'project-status': { status: opts.status } }),
  };
  return { headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(json) };
}

/** `/simple/<project>/` (the page) and `/files/<filename>` for each file. */
export function projectRoutes(
  project: string,
  files: readonly FakeDist[],
  opts: ProjectRouteOptions = {},
): Record<string, Route> {
  const routes: Record<string, Route> = {
    [`/simple/${normalize(project)}/`]: projectPage(project, files, opts),
  };
  for (const f of files) {
    routes[`/files/${encodeURIComponent(f.filename)}`] = {
      headers: { 'content-type': 'application/octet-stream' },
      body: f.bytes,
    };
  }
  return routes;
}

/** `/simple/`: the root listing of `projects`, JSON or HTML. */
export function listingRoute(
  projects: readonly string[],
  opts: { html?: boolean } = {},
): Record<string, Route> {
  if (opts.html === true) {
    const links = projects.map((p) => `<a href="/simple/${normalize(p)}/">${escapeHtml(p)}</a>`).join('\n');
    return {
      '/simple/': {
        headers: { 'content-type': HTML_TYPE },
        body: `<!DOCTYPE html>\n<html><body>\n${links}\n</body></html>\n`,
      },
    };
  }
  const json = { meta: { 'api-version': '1.4' }, projects: projects.map((name) => ({ name })) };
  return { '/simple/': { headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(json) } };
}

/** PEP 503 normalisation. */
export function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
