// The upstream client reading project pages as they stream in, against the hostile fixture: a close-delimited
// HTML page without </html> is marked isMaybeTruncated (the deletion guards' input), and large pages are
// decoded one at a time without failing any of them.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import {
  dist,
  HTML_TYPE,
  projectPage,
  type Reply,
  type Route,
  startHostileUpstream,
} from '../helpers/hostile-upstream.js';
import { createHttp } from '../../src/upstream/http.js';
import { createUpstream, LARGE_PAGE_BYTES } from '../../src/upstream/simple-api.js';
import type { ProjectPage } from '../../src/model/upstream.js';

async function upstreamFor(t: TestContext, routes: Record<string, Route>) {
  const up = await startHostileUpstream({ name: t.name, routes });
  t.after(() => up.close());
  const log = createCaptureLogger();
  const http = createHttp({ timeoutMs: 5000, workers: 8, log, env: {}, keepAliveTimeoutMs: 10 });
  t.after(() => http.close());
  return createUpstream({ indexUrl: new URL(up.url), http, log, retries: 0 });
}

async function page(t: TestContext, reply: Reply): Promise<ProjectPage> {
  const upstream = await upstreamFor(t, { '/simple/demo/': reply });
  const answer = await upstream.fetchProject('demo', null, AbortSignal.timeout(20_000));
  assert.ok(!('notModified' in answer));
  return answer;
}

const files = [dist('demo-1.0.tar.gz'), dist('demo-2.0.tar.gz')];
const full = projectPage('demo', files, { html: true });
const fullBody = String(full.body);
const cutBody = fullBody.slice(0, fullBody.indexOf('<a href', fullBody.indexOf('<a href') + 1));

test('isMaybeTruncated: a close-delimited HTML page without </html>, and nothing else', async (t) => {
  const cases: readonly [string, Reply, boolean][] = [
    ['close-delimited, cut', { ...full, body: cutBody, framing: 'close' }, true],
    ['close-delimited, gzip, cut', { ...full, body: cutBody, framing: 'close', gzip: true }, true],
    ['close-delimited, whole', { ...full, framing: 'close' }, false],
    ['Content-Length, cut', { ...full, body: cutBody, framing: 'length' }, false],
    ['chunked, cut', { ...full, body: cutBody, framing: 'chunked' }, false],
    ['JSON, close-delimited', { ...projectPage('demo', files), framing: 'close' }, false],
  ];
  for (const [name, reply, expected] of cases) {
    const got = await page(t, reply);
    assert.equal(got.isMaybeTruncated === true, expected, name);
    assert.equal(got.files.length, name.includes('cut') ? 1 : 2, name);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('eight large pages at once are all read (one large page decoded at a time)', async (t) => {
  const pad = 'x'.repeat(60_000);
  const routes: Record<string, Route> = {};
  const names = Array.from({ length: 8 }, (_, i) => `big${i}`);
  for (const name of names) {
    const entry = `<a href="/files/${name}-1.0.tar.gz" data-pad="${pad}">x</a>\n`;
    routes[`/simple/${name}/`] = {
      headers: { 'content-type': HTML_TYPE },
      gzip: true,
      body: {
        head: '<html><body>',
        repeat: entry,
        times: Math.ceil((2 * LARGE_PAGE_BYTES) / entry.length),
        tail: '</body></html>',
      },
    };
  }
  const upstream = await upstreamFor(t, routes);
  const pages = await Promise.all(
    names.map((n) => upstream.fetchProject(n, null, AbortSignal.timeout(60_000))),
  );
  for (const [i, p] of pages.entries()) {
    assert.ok(!('notModified' in p));
    assert.deepEqual(
      p.files.map((f) => f.filename),
      [`${names[i]}-1.0.tar.gz`],
    );
  }
});
