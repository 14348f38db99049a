// The transport's promises (#10): every request ends by its total deadline however steadily bytes trickle in,
// a file stops at max_file_size, ca_file trusts a corporate CA, an untrusted certificate fails once with a
// message that says what to do, and a proxy with credentials works without its password showing anywhere.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, IntegrityError, UpstreamError } from '../../src/errors.js';
import { receiveVerified } from '../../src/mirror/store.js';
import { createHttp } from '../../src/upstream/http.js';
import { createUpstream, type UpstreamOptions } from '../../src/upstream/simple-api.js';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import {
  dist,
  listingRoute,
  projectRoutes,
  sha256Of,
  startHostileUpstream,
  type HostileUpstream,
  type Route,
} from '../helpers/hostile-upstream.js';
import { startHarness } from '../helpers/sync-harness.js';
import { makeCertificates, startAuthProxy, startTlsFront } from '../helpers/tls-upstream.js';
import { makeTempDir } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const signal = (): AbortSignal => new AbortController().signal;

async function hostile(t: TestContext, routes: Record<string, Route>): Promise<HostileUpstream> {
  const up = await startHostileUpstream({ name: t.name, routes });
  t.after(() => up.close());
  return up;
}

/** A client of `indexUrl` with a 5 s idle timeout and 3 quick retries (so that a retry would show). */
function client(t: TestContext, indexUrl: string, extra: Partial<UpstreamOptions> = {}) {
  const log = createCaptureLogger();
  const http = createHttp({ timeoutMs: 5000, workers: 2, log, env: {}, keepAliveTimeoutMs: 10 });
  t.after(() => http.close());
  const upstream = createUpstream({
    indexUrl: new URL(indexUrl),
    http,
    log,
    retries: 3,
    minDelayMs: 1,
    maxDelayMs: 5,
    ...extra,
  });
  return { upstream, log };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, `expected a failure, got ${String(err)}`);
  return err;
}

// Whitespace: valid between the tokens of JSON, HTML and XML alike, so only the deadline can end it.
const TRICKLE = { trickle: ' ', everyMs: 40 } as const;

test('a trickling answer ends at the request deadline, as one UPSTREAM_TIMEOUT naming it and the URL, not retried', async (t) => {
  const trickle = (headers: Record<string, string>, gzip = false): Route => ({
    headers,
    body: TRICKLE,
    gzip,
  });
  const json = { 'content-type': 'application/vnd.pypi.simple.v1+json' };
  const up = await hostile(t, {
    '/simple/': trickle(json),
    '/simple/json-page/': trickle(json),
    '/simple/gzip-page/': trickle({ 'content-type': 'text/html' }, true),
    '/pypi': trickle({ 'content-type': 'text/xml' }),
  });
  const { upstream } = client(t, up.url, { requestDeadlineMs: 300 });
  const cases: [string, () => Promise<unknown>][] = [
    ['/simple/', () => upstream.fetchListing(signal())],
    ['/simple/json-page/', () => upstream.fetchProject('json-page', null, signal())],
    ['/simple/gzip-page/', () => upstream.fetchProject('gzip-page', null, signal())],
    ['/pypi', () => upstream.fetchLastSerial(signal())],
  ];
  for (const [path, call] of cases) {
    const err = await failure(call());
    assert.ok(err instanceof UpstreamError && err.code === 'UPSTREAM_TIMEOUT', `${path}: ${err.message}`);
    assert.equal(
      err.message,
      `${up.origin}${path}: not complete within the request deadline of 300ms; see request_deadline`,
    );
    assert.equal(up.requests().filter((r) => r.path === path).length, 1, `${path} was not retried`);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('a trickling file ends at its deadline; no temp file is left and nothing is published', async (t) => {
  const up = await hostile(t, { '/files/x-1.0.tar.gz': { body: TRICKLE } });
  const { upstream } = client(t, up.url, { requestDeadlineMs: 300 });
  const dir = await makeTempDir(t);
  const err = await failure(
    receiveVerified(
      upstream,
      `${up.origin}/files/x-1.0.tar.gz`,
      createLocalStorage(dirname(join(dir, 'x-1.0.tar.gz'))),
      basename(join(dir, 'x-1.0.tar.gz')),
      { hashes: {}, size: null },
      signal(),
    ),
  );
  assert.ok(err instanceof UpstreamError && err.code === 'UPSTREAM_TIMEOUT', err.message);
  assert.match(err.message, /files\/x-1\.0\.tar\.gz: not complete within the request deadline of 300ms/);
  assert.deepEqual(await readdir(dir), []);
  assert.equal(up.requests().length, 1);
});

/** Serves `/big` as `mib` MiB of zeros, 64 KiB every 20 ms (about 0.33 s per MiB); with Content-Length or not. */
async function slowFileServer(t: TestContext, mib: number, announce: boolean): Promise<string> {
  const chunk = Buffer.alloc(64 * 1024);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, announce ? { 'content-length': String(mib * 1024 * 1024) } : {});
    let left = mib * 16;
    const timer = setInterval(() => {
      if (left-- > 0) res.write(chunk);
      else {
        clearInterval(timer);
        res.end();
      }
    }, 20);
    res.on('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/big`;
}

test('a file gets one more second per MiB of its declared or announced size', async (t) => {
  const mib = 3;
  const size = mib * 1024 * 1024;
  const hex = sha256Of(Buffer.alloc(size));
  const cases = [
    { name: 'announced (Content-Length)', announce: true, declared: null },
    { name: 'declared (index), chunked', announce: false, declared: size },
  ];
  for (const c of cases) {
    const url = await slowFileServer(t, mib, c.announce);
    // ~1 s of transfer against a 400 ms deadline: only the allowance (3 s for 3 MiB) lets it finish.
    const { upstream } = client(t, url, { requestDeadlineMs: 400 });
    const dir = await makeTempDir(t);
    const received = await receiveVerified(
      upstream,
      url,
      createLocalStorage(dirname(join(dir, 'big.whl'))),
      basename(join(dir, 'big.whl')),
      { hashes: { sha256: hex }, size: c.declared },
      signal(),
    );
    assert.equal(received.size, size, c.name);
    await received.discard();
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('max_file_size: an endless body of no declared size stops there; a larger declared or announced size is refused', async (t) => {
  const limit = 64 * 1024;
  const up = await hostile(t, {
    '/files/endless.tar.gz': { body: { endless: 16 * 1024 } },
    '/files/announced.tar.gz': { body: Buffer.alloc(limit + 1) },
    '/files/declared.tar.gz': { body: Buffer.alloc(limit + 1), framing: 'chunked' },
    '/files/at-limit.tar.gz': { body: Buffer.alloc(limit), framing: 'chunked' },
  });
  const { upstream } = client(t, up.url, { maxFileSize: limit });
  const dir = await makeTempDir(t);
  const fetch = (name: string, size: number | null) =>
    receiveVerified(
      upstream,
      `${up.origin}/files/${name}`,
      createLocalStorage(dirname(join(dir, name))),
      basename(join(dir, name)),
      { hashes: {}, size },
      signal(),
    );
  const refusals = [
    [
      'endless.tar.gz',
      null,
      'no size declared, and the body goes on past max_file_size (65536 bytes): refused',
    ],
    [
      'announced.tar.gz',
      null,
      'Content-Length announces 65537 bytes, more than max_file_size (65536 bytes): refused',
    ],
    [
      'declared.tar.gz',
      limit + 1,
      'the index declares 65537 bytes, more than max_file_size (65536 bytes): refused',
    ],
  ] as const;
  for (const [name, size, message] of refusals) {
    const err = await failure(fetch(name, size));
    assert.ok(err instanceof IntegrityError && err.code === 'INTEGRITY_TOO_LARGE', err.message);
    assert.equal(err.message, `${up.origin}/files/${name}: ${message}`);
    assert.deepEqual(await readdir(dir), [], `${name}: no temp file left`);
  }
  const paths = up.requests().map((r) => r.path);
  assert.equal(paths.filter((p) => p === '/files/endless.tar.gz').length, 1, 'not retried');
  assert.ok(
    !paths.includes('/files/declared.tar.gz'),
    'a declared size above the limit is not even asked for',
  );
  const atLimit = await fetch('at-limit.tar.gz', null);
  assert.equal(atLimit.size, limit);
  await atLimit.discard();
  t.diagnostic(`cases: ${refusals.length + 1}`);
});

test('TLS: an untrusted certificate fails at once with a clear message; ca_file trusts the test CA', async (t) => {
  const certs = makeCertificates(await makeTempDir(t));
  const files = [dist('tls_demo-1.0-py3-none-any.whl'), dist('tls_demo-1.0.tar.gz')];
  const up = await hostile(t, { ...listingRoute(['tls-demo']), ...projectRoutes('tls-demo', files) });
  const h = await startHarness(t);
  const cases = [
    { pair: certs.good, caFile: null, says: 'TLS: certificate is signed by an unknown authority (' },
    {
      pair: certs.wrongHost,
      caFile: certs.caFile,
      says: 'TLS: certificate is not for this host (ERR_TLS_CERT_ALTNAME_INVALID',
    },
    { pair: certs.expired, caFile: certs.caFile, says: 'TLS: certificate has expired (CERT_HAS_EXPIRED)' },
  ];
  for (const c of cases) {
    const front = await startTlsFront(t, up.origin, c.pair);
    const report = await h.sync({ caFile: c.caFile }, { indexUrl: front.url });
    assert.equal(report.listingFailed, true);
    const error = String(h.log.find('upstream listing failed').at(-1)?.fields['error']);
    assert.ok(error.startsWith(`${front.url}: ${c.says}`), error);
    assert.equal(front.connections(), 1, `${c.says}: one attempt, no retry`);
  }
  assert.match(
    String(h.log.find('upstream listing failed')[0]?.fields['error']),
    /; trust its CA with ca_file or NODE_EXTRA_CA_CERTS$/,
  );
  const front = await startTlsFront(t, up.origin, certs.good);
  const report = await h.sync({ caFile: certs.caFile }, { indexUrl: front.url });
  assert.equal(report.listingFailed, false);
  assert.equal(report.filesFetched, 2);
  assert.ok(existsSync(join(h.root, 'tls-demo', 'tls_demo-1.0.tar.gz')));
  t.diagnostic(`cases: ${cases.length + 1}`);
});

test('a proxy with credentials: the sync mirrors through it; wrong ones fail once with 407; no password is logged', async (t) => {
  const certs = makeCertificates(await makeTempDir(t));
  const files = [dist('via_proxy-1.0.tar.gz')];
  const up = await hostile(t, { ...listingRoute(['via-proxy']), ...projectRoutes('via-proxy', files) });
  const front = await startTlsFront(t, up.origin, certs.good);
  const proxy = await startAuthProxy(t, 'mirror', 'pr0xy-s3cret');
  const h = await startHarness(t);
  const target = front.origin.slice('https://'.length);
  // NO_PROXY set empty (lower case wins): loopback is proxied only when nothing exempts it.
  const env = (password: string) => ({
    HTTPS_PROXY: proxy.url('mirror', password),
    NO_PROXY: '',
    no_proxy: '',
  });

  const report = await h.sync({ caFile: certs.caFile }, { indexUrl: front.url, env: env('pr0xy-s3cret') });
  assert.equal(report.listingFailed, false);
  assert.equal(report.filesFetched, 1);
  assert.ok(
    proxy.seen.length >= 1 && proxy.seen.every((s) => s === `CONNECT ${target} 200`),
    proxy.seen.join(),
  );

  const before = proxy.seen.length;
  const refused = await h.sync({ caFile: certs.caFile }, { indexUrl: front.url, env: env('wrong-pa55') });
  assert.equal(refused.listingFailed, true);
  // One attempt each, no retry: the listing, then the page of the project already mirrored.
  assert.deepEqual(proxy.seen.slice(before), [`CONNECT ${target} 407`, `CONNECT ${target} 407`]);
  assert.deepEqual(h.log.find('retrying'), []);
  const error = String(h.log.find('upstream listing failed').at(-1)?.fields['error']);
  assert.equal(
    error,
    `${front.url}: the proxy answered HTTP 407 Proxy Authentication Required: check the user and password in ` +
      'HTTPS_PROXY (or HTTP_PROXY)',
  );
  const logged = JSON.stringify(h.log.records);
  for (const secret of [
    'pr0xy-s3cret',
    'wrong-pa55',
    Buffer.from('mirror:pr0xy-s3cret').toString('base64'),
  ]) {
    assert.ok(!logged.includes(secret), `${secret} is in the log`);
  }
  t.diagnostic('cases: 2');
});

test('ca_file that is missing, not PEM or not a certificate is a config error naming file, line, key and value', async (t) => {
  const dir = await makeTempDir(t);
  await writeFile(join(dir, 'notes.txt'), 'this is not a certificate\n');
  await writeFile(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const cases = [
    ['missing.pem', 'cannot read it: it does not exist'],
    ['notes.txt', 'it holds no PEM certificate'],
    ['broken.pem', 'its certificate 1 of 1 does not parse'],
  ] as const;
  for (const [name, problem] of cases) {
    const file = join(dir, 'pypimirror.cfg');
    await writeFile(file, `[mirror]\nmirror_file_path = ${join(dir, 'root')}\nca_file = ${name}\n`);
    const err = await failure(loadConfig(file, { cwd: dir }));
    assert.ok(err instanceof ConfigError && err.code === 'CONFIG_INVALID', err.message);
    const line = err.message.split('\n')[1] ?? '';
    assert.ok(
      line.startsWith(
        `  ${file}:3: [mirror] ca_file = "${name}": a PEM file of CA certificates (${join(dir, name)}), but ${problem}`,
      ),
      line,
    );
  }
  t.diagnostic(`cases: ${cases.length}`);
});
