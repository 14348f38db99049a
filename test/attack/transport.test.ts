// Attack suite, transport (#10 "What broke" 4): the built CLI against the hostile upstream. A trickle of bytes
// ends at request_deadline, an endless file body stops at max_file_size leaving no temp file, both in bounded
// memory; the upstream behind HTTPS with a CA of the test's own is trusted through NODE_EXTRA_CA_CERTS or
// ca_file, and reached through a proxy with credentials whose password appears nowhere in the output.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  runCliMeasured,
  writeAttackConfig,
  type MeasuredRun,
  startScenario,
  assertBounded,
} from '../helpers/attack.js';
import { dist, listingRoute, projectRoutes, type Scenario } from '../helpers/hostile-upstream.js';
import { makeCertificates, startAuthProxy, startTlsFront } from '../helpers/tls-upstream.js';
import { makeTempDir } from '../helpers/tree.js';

/** `pypimirror sync -v` with a config of `values` (index_url and mirror_file_path given), measured. */
async function sync(
  t: TestContext,
  values: Readonly<Record<string, string>>,
  env: Record<string, string> = {},
): Promise<{ run: MeasuredRun; root: string }> {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const config = await writeAttackConfig(dir, { mirror_file_path: root, ...values });
  const run = await runCliMeasured(t, ['sync', config, '-v'], { env });
  assertBounded(run, 'sync');
  return { run, root };
}

/** Every file under `dir`, hidden ones included (a temp file is `.name.<random>.tmp`). */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('a trickling listing, page and file end at request_deadline, each as one clear error', async (t) => {
  const trickle = { body: { trickle: ' ', everyMs: 300 } } as const;
  const good = [dist('slow_file-1.0.tar.gz')];
  // [name, routes, the paths that trickle]
  const cases: [string, Scenario['routes'], string[]][] = [
    [
      'listing',
      { '/simple/': { headers: { 'content-type': 'application/vnd.pypi.simple.v1+json' }, ...trickle } },
      ['/simple/'],
    ],
    [
      'page and file',
      {
        ...listingRoute(['slow-page', 'slow-file']),
        '/simple/slow-page/': { headers: { 'content-type': 'text/html' }, ...trickle },
        ...projectRoutes('slow-file', good, { html: true }),
        '/files/slow_file-1.0.tar.gz': trickle,
      },
      ['/simple/slow-page/', '/files/slow_file-1.0.tar.gz'],
    ],
  ];
  for (const [name, routes, trickled] of cases) {
    const up = await startScenario(t, { name, routes });
    const { run } = await sync(t, { index_url: up.url, request_deadline: '2s', timeout: '10s' });
    assert.equal(run.code, 1, run.output);
    for (const path of trickled) {
      assert.ok(
        run.output.includes(`${up.origin}${path}: not complete within the request deadline of 2s`),
        `${name}: ${path}\n${run.output}`,
      );
      assert.equal(up.requests().filter((r) => r.path === path).length, 1, `${path} not retried`);
    }
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('an endless file body of no declared size stops at max_file_size; no temp file, nothing published', async (t) => {
  const file = dist('endless-1.0.tar.gz');
  const up = await startScenario(t, {
    name: 'endless file',
    routes: {
      ...listingRoute(['endless']),
      ...projectRoutes('endless', [file], { html: true }), // HTML: no size declared
      '/files/endless-1.0.tar.gz': { body: { endless: 64 * 1024 } },
    },
  });
  const { run, root } = await sync(t, { index_url: up.url, max_file_size: '1M' });
  assert.equal(run.code, 1, run.output);
  assert.ok(
    run.output.includes(
      `${up.origin}/files/endless-1.0.tar.gz: no size declared, and the body goes on past max_file_size (1048576 bytes): refused`,
    ),
    run.output,
  );
  const files = await allFiles(root);
  assert.deepEqual(
    files.filter((f) => f.includes('endless-1.0')),
    [],
    'no temp file, nothing published',
  );
  assert.equal(up.requests().filter((r) => r.path === '/files/endless-1.0.tar.gz').length, 1, 'not retried');
  t.diagnostic('cases: 1');
});

test('HTTPS with the test CA: refused clearly without it; trusted through NODE_EXTRA_CA_CERTS or ca_file', async (t) => {
  const certs = makeCertificates(await makeTempDir(t));
  const files = [dist('tls_demo-1.0.tar.gz')];
  const up = await startScenario(t, {
    name: 'tls',
    routes: { ...listingRoute(['tls-demo']), ...projectRoutes('tls-demo', files) },
  });
  const front = await startTlsFront(t, up.origin, certs.good);

  const untrusted = await sync(t, { index_url: front.url });
  assert.equal(untrusted.run.code, 1);
  assert.match(
    untrusted.run.output,
    /TLS: certificate is signed by an unknown authority \([A-Z_]+\); trust its CA with ca_file or NODE_EXTRA_CA_CERTS/,
  );
  for (const [name, values, env] of [
    ['NODE_EXTRA_CA_CERTS', {}, { NODE_EXTRA_CA_CERTS: certs.caFile }],
    ['ca_file', { ca_file: certs.caFile }, {}],
  ] as const) {
    const { run, root } = await sync(t, { index_url: front.url, ...values }, env);
    assert.equal(run.code, 0, `${name}:\n${run.output}`);
    assert.ok(
      (await allFiles(root)).some((f) => f.endsWith('tls-demo/tls_demo-1.0.tar.gz')),
      name,
    );
  }
  t.diagnostic('cases: 3');
});

test('through a CONNECT proxy with credentials: mirrors; wrong ones fail with 407; the password is nowhere in the output', async (t) => {
  const certs = makeCertificates(await makeTempDir(t));
  const files = [dist('via_proxy-1.0.tar.gz')];
  const up = await startScenario(t, {
    name: 'proxy',
    routes: { ...listingRoute(['via-proxy']), ...projectRoutes('via-proxy', files) },
  });
  const front = await startTlsFront(t, up.origin, certs.good);
  const proxy = await startAuthProxy(t, 'mirror', 'Pr0xyPa55w0rd');
  const values = { index_url: front.url, ca_file: certs.caFile };
  // NO_PROXY emptied: the upstream is 127.0.0.1, which a NO_PROXY of the machine would exempt.
  const env = (password: string) => ({
    HTTPS_PROXY: proxy.url('mirror', password),
    NO_PROXY: '',
    no_proxy: '',
  });

  const good = await sync(t, values, env('Pr0xyPa55w0rd'));
  assert.equal(good.run.code, 0, good.run.output);
  assert.ok((await allFiles(good.root)).some((f) => f.endsWith('via-proxy/via_proxy-1.0.tar.gz')));
  assert.ok(proxy.seen.length > 0 && proxy.seen.every((s) => s.endsWith(' 200')), proxy.seen.join());

  const before = proxy.seen.length;
  const bad = await sync(t, values, env('WrongPa55'));
  assert.equal(bad.run.code, 1, bad.run.output);
  assert.match(bad.run.output, /the proxy answered HTTP 407 Proxy Authentication Required/);
  assert.ok(proxy.seen.slice(before).every((s) => s.endsWith(' 407')));
  assert.ok(proxy.seen.length - before <= 2, `one attempt per request: ${proxy.seen.slice(before).join()}`);
  for (const output of [good.run.output, bad.run.output]) {
    assert.match(output, /http:\/\/\*\*\*@127\.0\.0\.1:\d+/, 'the proxy is logged, redacted');
    for (const secret of [
      'Pr0xyPa55w0rd',
      'WrongPa55',
      Buffer.from('mirror:Pr0xyPa55w0rd').toString('base64'),
    ]) {
      assert.ok(!output.includes(secret), `${secret} in the output`);
    }
  }
  t.diagnostic('cases: 2');
});
