// The stale-page guard (docs/protocol.md §3): a page whose X-PyPI-Last-Serial is older than the serial that made
// us fetch it is not written, is fetched again next run, and holds back neither other projects nor later
// changes. A lagging cache in front of the fake serves the old page (or a 304 for it).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDiscoveryHarness } from '../helpers/discovery-harness.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startStaleCache } from '../helpers/stale-cache.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const GLOBS = { packageMatches: ['demo-*', 'foo-*'] };

test('changelog mode: a stale page (even a stale 304) is deferred, retried, and blocks nothing', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  const cache = await startStaleCache(h.fake.baseOrigin);
  t.after(() => cache.close());
  const via = { indexUrl: cache.url };
  await h.sync(GLOBS, via);
  const before = await readFile(join(h.root, 'demo-lib/index.html'), 'utf8');

  // The cache keeps serving the page we already have, while upstream moves on.
  await cache.freeze('/simple/demo-lib/');
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1' }));
  h.fake.addFile('foo_bar', buildWheel({ name: 'foo_bar', version: '1.1' }));
  const wanted = h.fake.project('demo-lib')?.lastSerial;
  const report = await h.sync(GLOBS, via);
  assert.deepEqual(cache.hits, ['304 /simple/demo-lib/'], 'the cache answered for the old page');
  assert.deepEqual(report.deferred, ['demo-lib']);
  assert.equal(report.failures.length, 0);
  assert.equal(
    await readFile(join(h.root, 'demo-lib/index.html'), 'utf8'),
    before,
    'the stale page is not written',
  );
  assert.ok((await listTree(h.root)).includes('foo-bar/foo_bar-1.1-py3-none-any.whl'), 'other projects sync');
  let state = await h.state();
  assert.equal(state.lastSerial, h.fake.serial, 'later changes are not held back by the stale page');
  assert.deepEqual(state.discovery?.pending, { 'demo-lib': { displayName: 'demo-lib', serial: wanted } });
  assert.equal(h.log.find('upstream page is stale').length, 1);

  // Still stale: retried (no changelog row names it any more), still deferred; a later change goes through.
  h.fake.addFile('demo-app', buildWheel({ name: 'demo-app', version: '2.1' }));
  const again = await h.sync(GLOBS, via);
  assert.deepEqual(again.deferred, ['demo-lib']);
  assert.ok((await listTree(h.root)).includes('demo-app/demo_app-2.1-py3-none-any.whl'));

  // The cache catches up: the page is written with the new file.
  cache.thaw('/simple/demo-lib/');
  h.take();
  const healed = await h.sync(GLOBS, via);
  assert.deepEqual(healed.deferred, []);
  assert.ok(h.take().includes('GET /simple/demo-lib/ 200'));
  assert.match(
    await readFile(join(h.root, 'demo-lib/index.html'), 'utf8'),
    /demo_lib-1\.1-py3-none-any\.whl#sha256=/,
  );
  state = await h.state();
  assert.deepEqual(state.discovery?.pending, {});
  assert.equal(state.projects['demo-lib']?.serial, wanted);
  await h.sync(GLOBS, via);
  assert.deepEqual(h.take(), ['POST /pypi 200'], 'and then a no-op again');
});

test('listing mode: a stale 200 page is not written, not even its newer files, until upstream serves the right one', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { xmlrpc: false } });
  seedCatalogue(h.fake);
  const cache = await startStaleCache(h.fake.baseOrigin);
  t.after(() => cache.close());
  const via = { indexUrl: cache.url };
  await h.sync(GLOBS, via);
  const before = await readFile(join(h.root, 'demo-lib/index.html'), 'utf8');

  // The cache holds an intermediate page (1.1 added), upstream is further (1.2 added too).
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1' }));
  await cache.freeze('/simple/demo-lib/');
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.2' }));
  h.fake.touch('demo-app');
  const report = await h.sync(GLOBS, via);
  assert.deepEqual(cache.hits, ['200 /simple/demo-lib/']);
  assert.deepEqual(report.deferred, ['demo-lib']);
  assert.equal(report.filesFetched, 0, 'nothing of the stale page is downloaded');
  assert.equal(await readFile(join(h.root, 'demo-lib/index.html'), 'utf8'), before);
  assert.equal((await h.state()).projects['demo-app']?.serial, h.fake.project('demo-app')?.lastSerial);

  cache.thaw('/simple/demo-lib/');
  const healed = await h.sync(GLOBS, via);
  assert.deepEqual(healed.deferred, []);
  const page = await readFile(join(h.root, 'demo-lib/index.html'), 'utf8');
  assert.match(page, /demo_lib-1\.1-py3-none-any\.whl#/);
  assert.match(page, /demo_lib-1\.2-py3-none-any\.whl#/);
});
