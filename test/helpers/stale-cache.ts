// A lagging CDN in front of the fake upstream (docs/protocol.md §3: PyPI's pages come through a cache that can
// serve an old page for a while). Everything is passed through, except paths that were frozen: those get
// the response captured at freeze time, old X-PyPI-Last-Serial included (and a 304 for its ETag).
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ACCEPT } from '../../src/upstream/simple-api.js';

export interface StaleCache {
  /** The index base URL through the cache: `http://127.0.0.1:PORT/simple/`. */
  readonly url: string;
  /** From now on, `path` is answered with what upstream answers for it now, until thaw(path). */
  freeze(path: string): Promise<void>;
  thaw(path: string): void;
  /** `status path` of every answer the cache gave from a frozen copy. */
  readonly hits: string[];
  close(): Promise<void>;
}

interface Frozen {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const KEPT_HEADERS = ['content-type', 'etag', 'last-modified', 'x-pypi-last-serial', 'vary'];

function keep(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

export async function startStaleCache(upstreamOrigin: string): Promise<StaleCache> {
  const target = new URL(upstreamOrigin);
  const frozen = new Map<string, Frozen>();
  const hits: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const copy = req.method === 'GET' ? frozen.get(path) : undefined;
    if (copy !== undefined) {
      const etag = copy.headers['etag'];
      const isMatch = etag !== undefined && req.headers['if-none-match'] === etag;
      hits.push(`${isMatch ? 304 : copy.status} ${path}`);
      if (isMatch) res.writeHead(304, copy.headers).end();
      else
        res
          .writeHead(copy.status, { ...copy.headers, 'content-length': String(copy.body.length) })
          .end(copy.body);
      return;
    }
    const forward = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path,
        headers: { ...req.headers, host: target.host },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/simple/`,
    hits,
    async freeze(path) {
      const res = await fetch(new URL(path, upstreamOrigin), { headers: { accept: ACCEPT } });
      frozen.set(path, {
        status: res.status,
        headers: keep(Object.fromEntries(res.headers)),
        body: Buffer.from(await res.arrayBuffer()),
      });
    },
    thaw(path) {
      frozen.delete(path);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
