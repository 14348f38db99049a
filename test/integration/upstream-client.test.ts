// The upstream client against real node:http servers (and a forward proxy) on 127.0.0.1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { test, type TestContext } from 'node:test';
import { UpstreamError } from '../../src/errors.js';
import type { LogFields, Logger } from '../../src/log.js';
import { createHttp } from '../../src/upstream/http.js';
import type { Env } from '../../src/util/env.js';
import {
  ACCEPT,
  createUpstream,
  MAX_PAGE_BYTES,
  type UpstreamOptions,
} from '../../src/upstream/simple-api.js';
import type { ProjectPage } from '../../src/model/upstream.js';
import { encodeMethodCall, parseMethodResponse } from '../../src/upstream/xmlrpc.js';

const SHA = 'ab'.repeat(32);
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string, n: number) => void;

/** A server on 127.0.0.1:0 that records every request; closed (with its sockets) after the test. */
async function serve(t: TestContext, handler: Handler): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body, seen.length);
    });
  });
  server.keepAliveTimeout = 50;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as net.AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, seen };
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}): void => {
      lines.push(JSON.stringify({ level, msg, ...fields }));
    };
  const log = {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => log,
  };
  return log;
}

function client(
  t: TestContext,
  indexUrl: string,
  extra: Partial<UpstreamOptions> & { env?: Env; timeoutMs?: number } = {},
) {
  const log = capture();
  const httpClient = createHttp({
    timeoutMs: extra.timeoutMs ?? 2000,
    workers: 2,
    log,
    env: extra.env ?? {},
    keepAliveTimeoutMs: 10,
  });
  t.after(() => httpClient.close());
  const upstream = createUpstream({
    indexUrl: new URL(indexUrl),
    http: httpClient,
    log,
    retries: 3,
    minDelayMs: 1,
    maxDelayMs: 5,
    ...extra,
  });
  return { upstream, log };
}

const signal = (): AbortSignal => new AbortController().signal;

function jsonPage(files: string[]): string {
  const entries = files.map((f) => ({
    filename: f.split('#')[0]?.split('/').at(-1), // a file name has no '#' (model/layout.ts)
    url: f,
    hashes: { sha256: SHA },
    size: 3,
  }));
  return JSON.stringify({
    meta: { 'api-version': '1.4' },
    name: 'demo-pkg',
    versions: ['1.0'],
    files: entries,
  });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  return assert.fail(`expected ${code}`);
}

test('JSON when offered: headers, serial, ETag, URL resolution, User-Agent', async (t) => {
  const up = await serve(t, (_req, res) => {
    res.writeHead(200, {
      'content-type': JSON_TYPE,
      'x-pypi-last-serial': '77',
      etag: '"e1"',
      'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT',
    });
    res.end(jsonPage(['../../files/demo_pkg-1.0.tar.gz#sha256=zz']));
  });
  const { upstream } = client(t, `${up.origin}/simple`);
  const page = (await upstream.fetchProject('Demo_Pkg', null, signal())) as ProjectPage;
  assert.equal(up.seen[0]?.url, '/simple/demo-pkg/');
  assert.equal(up.seen[0]?.headers.accept, ACCEPT);
  assert.match(
    up.seen[0]?.headers['user-agent'] ?? '',
    /^pypimirror\/\d+\.\d+\.\d+ \(\+https:\/\/github\.com\/pypimirror\/pypimirror\) node\/\d+/,
  );
  assert.equal(page.name, 'demo-pkg');
  assert.equal(page.serial, 77);
  assert.equal(page.etag, '"e1"');
  assert.equal(page.lastModified, 'Wed, 01 Jan 2025 00:00:00 GMT');
  assert.equal(page.files[0]?.url, `${up.origin}/files/demo_pkg-1.0.tar.gz`);
});

test('HTML fallback when the server only speaks text/html (project and streamed root)', async (t) => {
  const names = Array.from({ length: 300 }, (_, i) => `proj-${i}`);
  const up = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-pypi-last-serial': '5' });
    if (req.url === '/simple/') {
      for (let i = 0; i < names.length; i += 7)
        res.write(
          names
            .slice(i, i + 7)
            .map((n) => `<a href="/simple/${n}/">${n}</a>\n`)
            .join(''),
        );
      res.end('</body></html>');
    } else {
      res.end(
        `<html><body><a href="/f/demo-1.0.tar.gz#sha256=${SHA}" data-yanked="">demo-1.0.tar.gz</a></body></html>`,
      );
    }
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  const page = (await upstream.fetchProject('demo', null, signal())) as ProjectPage;
  assert.deepEqual(
    page.files.map((f) => [f.filename, f.yanked, f.hashes.sha256]),
    [['demo-1.0.tar.gz', '', SHA]],
  );
  const listing = await upstream.fetchListing(signal());
  assert.equal(listing.format, 'html');
  assert.equal(listing.serial, 5);
  assert.deepEqual(
    listing.projects.map((p) => p.name),
    names,
  );
});

test('JSON root listing', async (t) => {
  const up = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': `${JSON_TYPE}; charset=utf-8`, 'x-pypi-last-serial': '9' });
    res.end(
      JSON.stringify({
        meta: { 'api-version': '1.1', '_last-serial': 10 },
        projects: [{ name: 'A', '_last-serial': 3 }],
      }),
    );
  });
  const listing = await client(t, `${up.origin}/simple/`).upstream.fetchListing(signal());
  assert.deepEqual(listing, { projects: [{ name: 'A', serial: 3 }], serial: 10, format: 'json' });
});

test('an unknown content type is rejected, naming it', async (t) => {
  const up = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  const err = await rejectsWith(
    client(t, `${up.origin}/simple/`).upstream.fetchProject('demo', null, signal()),
    'UPSTREAM_PAYLOAD',
  );
  assert.match(err.message, /unsupported Content-Type "application\/json"/);
  assert.equal(up.seen.length, 1);
});

test('an endless project page is cut off at MAX_PAGE_BYTES with UPSTREAM_PAYLOAD, not read into memory', async (t) => {
  let sent = 0;
  const up = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': JSON_TYPE });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    // Bounded: stop after twice the limit even if the client kept reading.
    const pump = (): void => {
      while (sent < 2 * MAX_PAGE_BYTES) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
  });
  const err = await rejectsWith(
    client(t, `${up.origin}/simple/`).upstream.fetchProject('demo', null, signal()),
    'UPSTREAM_PAYLOAD',
  );
  assert.match(err.message, /larger than 67108864 bytes/);
  assert.ok(sent < 2 * MAX_PAGE_BYTES, `the client stopped reading (server sent ${sent} bytes)`);
});

test('gzip: pages, the listing and XML-RPC ask for it and decode it; files ask for identity', async (t) => {
  const listing = JSON.stringify({
    meta: { 'api-version': '1.1', '_last-serial': 9 },
    projects: [{ name: 'demo-pkg', '_last-serial': 9 }],
  });
  const up = await serve(t, (req, res) => {
    const gzip = (type: string, text: string): void => {
      res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
      res.end(gzipSync(text));
    };
    if (req.url === '/pypi')
      return gzip('text/xml', xmlRows([['demo-pkg', '1.0', 1_700_000_000, 'new release', 9]]));
    if (req.url === '/simple/') return gzip(JSON_TYPE, listing);
    if (req.url === '/simple/demo-pkg/')
      return gzip(JSON_TYPE, jsonPage(['../../files/demo_pkg-1.0.tar.gz']));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end('abc');
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  const page = (await upstream.fetchProject('demo-pkg', null, signal())) as ProjectPage;
  assert.equal(page.files[0]?.filename, 'demo_pkg-1.0.tar.gz');
  const names: string[] = [];
  await upstream.streamListing(
    { project: (p) => void names.push(p.name), restart: () => {} },
    null,
    signal(),
  );
  assert.deepEqual(names, ['demo-pkg']);
  const log = await upstream.fetchChangelogSince(8, signal());
  assert.deepEqual(log.supported ? log.rows.map((r) => r.name) : null, ['demo-pkg']);
  const file = await upstream.fetchFile(`${up.origin}/files/demo_pkg-1.0.tar.gz`, signal());
  let bytes = '';
  for await (const chunk of file.body) bytes += String(chunk);
  assert.equal(bytes, 'abc');
  assert.deepEqual(
    up.seen.map((s) => `${s.url} ${s.headers['accept-encoding']}`),
    ['/simple/demo-pkg/ gzip', '/simple/ gzip', '/pypi gzip', '/files/demo_pkg-1.0.tar.gz identity'],
  );
});

test('gzip that does not decode, a gzip bomb, a gzipped file and an encoding not asked for are UPSTREAM_PAYLOAD', async (t) => {
  // 64 MiB + 1 of spaces: about 64 KiB on the wire.
  const bomb = gzipSync(Buffer.alloc(MAX_PAGE_BYTES + 1, 0x20));
  const up = await serve(t, (req, res) => {
    const headers = { 'content-type': JSON_TYPE, 'content-encoding': 'gzip' };
    if (req.url === '/simple/corrupt/') {
      res.writeHead(200, headers);
      const body = gzipSync(jsonPage([]));
      body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
      return void res.end(body);
    }
    if (req.url === '/simple/bomb/') return void res.writeHead(200, headers).end(bomb);
    if (req.url === '/simple/brotli/') {
      return void res.writeHead(200, { ...headers, 'content-encoding': 'br' }).end('not brotli either');
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
    res.end(gzipSync('abc'));
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  const corrupt = await rejectsWith(upstream.fetchProject('corrupt', null, signal()), 'UPSTREAM_PAYLOAD');
  assert.match(corrupt.message, /gzip body does not decode/);
  const big = await rejectsWith(upstream.fetchProject('bomb', null, signal()), 'UPSTREAM_PAYLOAD');
  assert.match(big.message, /larger than 67108864 bytes \(decoded\)/);
  const br = await rejectsWith(upstream.fetchProject('brotli', null, signal()), 'UPSTREAM_PAYLOAD');
  assert.match(br.message, /unexpected Content-Encoding "br" \(gzip was asked for\)/);
  const file = await rejectsWith(
    upstream.fetchFile(`${up.origin}/files/x.tar.gz`, signal()),
    'UPSTREAM_PAYLOAD',
  );
  assert.match(file.message, /unexpected Content-Encoding "gzip" \(identity was asked for\)/);
  assert.equal(up.seen.length, 4, 'none of these is retried');
});

test('503 twice then 200 succeeds, logging two retries', async (t) => {
  const up = await serve(t, (_req, res, _b, n) => {
    res.writeHead(n <= 2 ? 503 : 200, { 'content-type': JSON_TYPE });
    res.end(n <= 2 ? 'busy' : jsonPage([]));
  });
  const { upstream, log } = client(t, `${up.origin}/simple/`);
  const page = (await upstream.fetchProject('demo-pkg', null, signal())) as ProjectPage;
  assert.deepEqual(page.files, []);
  assert.equal(up.seen.length, 3);
  assert.equal(log.lines.filter((l) => l.includes('retrying')).length, 2);
});

test('429 with Retry-After is honoured', async (t) => {
  const up = await serve(t, (_req, res, _b, n) => {
    res.writeHead(n === 1 ? 429 : 200, {
      'content-type': JSON_TYPE,
      ...(n === 1 ? { 'retry-after': '1' } : {}),
    });
    res.end(n === 1 ? '' : jsonPage([]));
  });
  const { upstream, log } = client(t, `${up.origin}/simple/`);
  const started = Date.now();
  await upstream.fetchProject('demo-pkg', null, signal());
  assert.ok(Date.now() - started >= 900, 'waited for Retry-After');
  assert.match(log.lines.find((l) => l.includes('retrying')) ?? '', /"delayMs":1000/);
});

test('a connection reset is retried', async (t) => {
  const up = await serve(t, (req, res, _b, n) => {
    if (n === 1) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': JSON_TYPE });
    res.end(jsonPage([]));
  });
  await client(t, `${up.origin}/simple/`).upstream.fetchProject('demo-pkg', null, signal());
  assert.equal(up.seen.length, 2);
});

test('an XML-RPC answer cut off mid-body is retried as a network error, not reported as bad XML', async (t) => {
  const answer = xmlRows([['demo-pkg', '1.0', 1_700_000_000, 'new release', 9]]);
  const up = await serve(t, (req, res, _b, n) => {
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(answer.length) });
    if (n === 1) {
      res.write(answer.slice(0, 40));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.end(answer);
  });
  const log = await client(t, `${up.origin}/simple/`).upstream.fetchChangelogSince(8, signal());
  assert.deepEqual(log.supported ? log.rows.map((r) => r.serial) : null, [9]);
  assert.equal(up.seen.length, 2);
});

test('a headers timeout becomes UPSTREAM_TIMEOUT after retries', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearTimeout));
  const up = await serve(t, (_req, res) => {
    timers.push(setTimeout(() => res.end(), 5000));
  });
  const { upstream } = client(t, `${up.origin}/simple/`, { timeoutMs: 150, retries: 1 });
  await rejectsWith(upstream.fetchProject('demo', null, signal()), 'UPSTREAM_TIMEOUT');
  assert.equal(up.seen.length, 2);
});

test('404 and 410 are UPSTREAM_NOT_FOUND without retries', async (t) => {
  const up = await serve(t, (req, res) => {
    res.writeHead(req.url === '/simple/gone/' ? 410 : 404);
    res.end('no');
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  const err = await rejectsWith(upstream.fetchProject('missing', null, signal()), 'UPSTREAM_NOT_FOUND');
  assert.equal(err.status, 404);
  await rejectsWith(upstream.fetchProject('gone', null, signal()), 'UPSTREAM_NOT_FOUND');
  assert.equal(up.seen.length, 2);
  const file = await rejectsWith(upstream.fetchFile(`${up.origin}/f/x.whl`, signal()), 'UPSTREAM_STATUS');
  assert.equal(file.status, 404);
});

test('conditional request answered 304', async (t) => {
  const up = await serve(t, (req, res) => {
    const fresh =
      req.headers['if-none-match'] === '"v1"' &&
      req.headers['if-modified-since'] === 'Wed, 01 Jan 2025 00:00:00 GMT';
    res.writeHead(fresh ? 304 : 200, { 'x-pypi-last-serial': '12', 'content-type': JSON_TYPE });
    res.end(fresh ? undefined : jsonPage([]));
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  const cond = { etag: '"v1"', lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' };
  assert.deepEqual(await upstream.fetchProject('demo-pkg', cond, signal()), {
    notModified: true,
    serial: 12,
  });
});

test('redirects: 301 page (links resolve against the final URL), 302 file to another origin without credentials', async (t) => {
  const other = await serve(t, (_req, res) => res.end('abc'));
  const up = await serve(t, (req, res) => {
    if (req.url === '/simple/demo-pkg/') {
      res.writeHead(301, { location: '/real/demo-pkg/' });
      res.end();
    } else if (req.url === '/real/demo-pkg/') {
      res.writeHead(200, { 'content-type': JSON_TYPE });
      res.end(jsonPage(['../../files/demo_pkg-1.0.tar.gz', '/moved/x-1.tar.gz']));
    } else if (req.url === '/moved/x-1.tar.gz') {
      res.writeHead(302, { location: `${other.origin}/store/x-1.tar.gz` });
      res.end();
    } else {
      res.end('abc');
    }
  });
  const { upstream, log } = client(t, `http://alice:s3cr3t@${up.origin.slice(7)}/simple/`);
  const page = (await upstream.fetchProject('demo-pkg', null, signal())) as ProjectPage;
  assert.equal(page.files[0]?.url, `${up.origin}/files/demo_pkg-1.0.tar.gz`);
  const basic = `Basic ${Buffer.from('alice:s3cr3t').toString('base64')}`;
  assert.ok(up.seen.every((s) => s.headers.authorization === basic));

  const moved = await upstream.fetchFile(page.files[1]?.url ?? '', signal());
  assert.equal(
    await moved.body
      .setEncoding('utf8')
      .toArray()
      .then((a) => a.join('')),
    'abc',
  );
  assert.equal(moved.size, 3);
  assert.equal(other.seen[0]?.url, '/store/x-1.tar.gz');
  assert.equal(other.seen[0]?.headers.authorization, undefined);
  const direct = await upstream.fetchFile(`${other.origin}/store/y.whl`, signal());
  await direct.body.resume().toArray();
  assert.equal(other.seen[1]?.headers.authorization, undefined);
  assert.ok(log.lines.every((l) => !l.includes('s3cr3t')));
});

test('Basic auth: the password is in no log line and no error message', async (t) => {
  const up = await serve(t, (req, res) => {
    res.writeHead(req.headers.authorization === undefined ? 401 : 503);
    res.end();
  });
  const { upstream, log } = client(t, `http://bob:hunter2@${up.origin.slice(7)}/simple/`, { retries: 2 });
  const errors: unknown[] = [];
  for (const p of [
    upstream.fetchProject('demo', null, signal()),
    upstream.fetchListing(signal()),
    upstream.fetchFile(`${up.origin}/f/x.whl`, signal()),
  ]) {
    errors.push(await p.catch((e: unknown) => e));
  }
  assert.equal(up.seen.length, 9);
  assert.ok(log.lines.length >= 6);
  const b64 = Buffer.from('bob:hunter2').toString('base64');
  for (const text of [...log.lines, ...errors.map((e) => `${String(e)} ${(e as UpstreamError).url}`)]) {
    assert.ok(!text.includes('hunter2') && !text.includes(b64), text);
  }
  assert.ok(
    errors.every((e) => e instanceof UpstreamError && e.code === 'UPSTREAM_STATUS' && e.status === 503),
  );
});

/** A forward proxy: CONNECT tunnels (refused for *.invalid) and absolute-form requests; records what it saw. */
async function proxy(t: TestContext): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const fwd = http.request(target, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(fwd);
  });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    sockets.add(socket);
    const [host, port] = (req.url ?? '').split(':');
    if (host === undefined || host.endsWith('.invalid')) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket).on('error', () => {});
      socket.pipe(upstream).on('error', () => {});
    });
    sockets.add(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

test('HTTP_PROXY is used; NO_PROXY bypasses it; HTTPS_PROXY routes https', async (t) => {
  const up = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': JSON_TYPE });
    res.end(jsonPage([]));
  });
  const port = up.origin.split(':').at(-1);
  const px = await proxy(t);
  await client(t, `${up.origin}/simple/`, { env: { HTTP_PROXY: px.url } }).upstream.fetchProject(
    'demo-pkg',
    null,
    signal(),
  );
  assert.deepEqual(px.seen, [`CONNECT 127.0.0.1:${port}`]);
  assert.equal(up.seen.length, 1);

  await client(t, `${up.origin}/simple/`, {
    env: { http_proxy: px.url, NO_PROXY: '127.0.0.1' },
  }).upstream.fetchProject('demo-pkg', null, signal());
  assert.equal(px.seen.length, 1, 'NO_PROXY bypassed the proxy');
  assert.equal(up.seen.length, 2);

  const { upstream } = client(t, 'https://pypi.invalid/simple/', {
    env: { HTTPS_PROXY: px.url },
    retries: 0,
  });
  const refused = await rejectsWith(upstream.fetchProject('demo', null, signal()), 'UPSTREAM_PROXY');
  assert.equal(refused.status, 403);
  assert.deepEqual(px.seen.slice(1), ['CONNECT pypi.invalid:443']);
});

test('abort surfaces as UPSTREAM_ABORTED with the reason as cause, promptly', async (t) => {
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearTimeout));
  const up = await serve(t, (_req, res) => {
    timers.push(setTimeout(() => res.end(), 5000));
  });
  const ctl = new AbortController();
  const reason = new Error('shutting down');
  setTimeout(() => ctl.abort(reason), 30);
  const started = Date.now();
  const err = await rejectsWith(
    client(t, `${up.origin}/simple/`).upstream.fetchProject('demo', null, ctl.signal),
    'UPSTREAM_ABORTED',
  );
  assert.equal(err.cause, reason);
  assert.ok(Date.now() - started < 1000);
});

function xmlRows(rows: (string | number | null)[][]): string {
  const v = (x: string | number | null): string =>
    x === null
      ? '<value><nil/></value>'
      : typeof x === 'number'
        ? `<value><int>${x}</int></value>`
        : `<value><string>${x}</string></value>`;
  const arr = rows.map((r) => `<value><array><data>${r.map(v).join('')}</data></array></value>`).join('\n');
  return `<?xml version='1.0'?><methodResponse><params><param><value><array><data>${arr}</data></array></value></param></params></methodResponse>`;
}

test('XML-RPC changelog_since_serial pages until a short page', async (t) => {
  const all = Array.from({ length: 7 }, (_, i) => [
    `p${i}`,
    i % 2 ? null : '1.0',
    1_700_000_000 + i,
    'new release',
    101 + i,
  ]);
  const up = await serve(t, (req, res, body) => {
    if (req.url !== '/pypi' || req.method !== 'POST') return void res.writeHead(404).end();
    const since = Number(/<int>(\d+)<\/int>/.exec(body)?.[1]);
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(xmlRows(all.filter((r) => (r[4] as number) > since).slice(0, 3)));
  });
  const { upstream } = client(t, `${up.origin}/simple/`, { changelogPageSize: 3 });
  const log = await upstream.fetchChangelogSince(100, signal());
  assert.equal(log.supported, true);
  assert.deepEqual(
    log.rows.map((r) => r.serial),
    [101, 102, 103, 104, 105, 106, 107],
  );
  assert.deepEqual(log.rows[1], {
    name: 'p1',
    version: null,
    timestamp: 1_700_000_001,
    action: 'new release',
    serial: 102,
  });
  assert.deepEqual(
    up.seen.map((s) => /<int>(\d+)</.exec(s.body)?.[1]),
    ['100', '103', '106'],
  );
  assert.equal(up.seen[0]?.headers['content-type'], 'text/xml');
});

test('XML-RPC unsupported: 404, 405 and a method-not-found fault', async (t) => {
  const fault = `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>-32601</int></value></member><member><name>faultString</name><value><string>method not found</string></value></member></struct></value></fault></methodResponse>`;
  const up = await serve(t, (_req, res, _b, n) => {
    if (n === 3) {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(fault);
    } else res.writeHead(n === 1 ? 404 : 405).end();
  });
  const { upstream } = client(t, `${up.origin}/simple/`);
  for (let i = 0; i < 3; i++)
    assert.deepEqual(await upstream.fetchChangelogSince(1, signal()), { rows: [], supported: false });
});

test('XML-RPC encoding and parsing', () => {
  assert.equal(
    encodeMethodCall('m', [5, 'a<&', true, 2 ** 40]),
    '<?xml version="1.0"?>\n<methodCall><methodName>m</methodName><params><param><value><int>5</int></value></param><param><value><string>a&lt;&amp;</string></value></param><param><value><boolean>1</boolean></value></param><param><value><i8>1099511627776</i8></value></param></params></methodCall>',
  );
  const parsed = parseMethodResponse(
    '<methodResponse><params><param><value><struct><member><name>a</name><value>plain &amp; text</value></member><member><name>b</name><value><array><data><value><boolean>1</boolean></value><value><double>1.5</double></value></data></array></value></member></struct></value></param></params></methodResponse>',
  );
  assert.deepEqual(parsed, { value: { a: 'plain & text', b: [true, 1.5] } });
  assert.throws(() => parseMethodResponse('<html></html>'), /not an XML-RPC methodResponse/);
});
