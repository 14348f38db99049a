// Change discovery against the fake upstream, counting requests: each mode's no-op and K-change cost, new and
// deleted projects in every mode, changelog paging, fallbacks and what `check` says.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeDiscovery } from '../../src/sync/discover.js';
import { makeConfig } from '../helpers/config.js';
import { startDiscoveryHarness } from '../helpers/discovery-harness.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const GLOBS = { packageMatches: ['demo-*', 'foo-*', 'zope.*'] };
const wheel = (name: string, version: string): ReturnType<typeof buildWheel> => buildWheel({ name, version });
const sorted = (lines: string[]): string[] => [...lines].sort();

test('changelog: a no-op is one XML-RPC call; K changes cost 1 + K pages + the new files', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  const first = await h.sync(GLOBS);
  assert.equal(first.failures.length, 0);
  assert.ok(h.take().includes('GET /simple/ 200'), 'the first run reads the listing');
  let state = await h.state();
  assert.equal(state.lastSerial, h.fake.serial);
  assert.equal(state.discovery?.mode, 'listing-serial');

  const noop = await h.sync(GLOBS);
  assert.deepEqual(h.take(), ['POST /pypi 200']);
  assert.equal(noop.requests, 1);
  assert.equal(noop.projectsChanged, 0);
  assert.equal((await h.state()).discovery?.mode, 'changelog');

  // K = 2 selected projects change; an unselected one changes too.
  h.fake.addFile('demo-lib', wheel('demo-lib', '1.1'));
  h.fake.yank('demo-app', 'demo_app-2.0-py3-none-any.whl');
  h.fake.touch('unrelated');
  const changed = await h.sync(GLOBS);
  const lib = new URL(h.fake.fileUrl('demo-lib', 'demo_lib-1.1-py3-none-any.whl')).pathname;
  assert.deepEqual(
    sorted(h.take()),
    sorted([
      'POST /pypi 200',
      'GET /simple/demo-lib/ 200',
      'GET /simple/demo-app/ 200',
      `GET ${lib} 200`, // its .metadata comes from the wheel (PEP 658: the same bytes)
    ]),
  );
  assert.equal(changed.requests, 4);
  assert.equal(changed.projectsChanged, 2);
  assert.match(await readFile(join(h.root, 'demo-app/index.html'), 'utf8'), /data-yanked=""/);
  state = await h.state();
  assert.equal(state.lastSerial, h.fake.serial, 'the stored serial moves to the last row');
  assert.equal(state.projects['demo-lib']?.serial, h.fake.project('demo-lib')?.lastSerial);
});

test('changelog: new matching projects are mirrored; deleted ones go without a page fetch', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  await h.sync(GLOBS);
  h.take();
  h.fake.addProject('demo-new', [wheel('demo-new', '0.1')]);
  h.fake.addProject('other-new', [wheel('other-new', '0.1')]);
  h.fake.removeProject('foo_bar');
  const report = await h.sync(GLOBS);
  const seen = h.take();
  assert.deepEqual(
    seen.filter((r) => r.startsWith('GET /simple/')),
    ['GET /simple/demo-new/ 200'],
  );
  assert.ok(!seen.some((r) => r.includes('other-new')));
  assert.equal(report.projectsRemoved, 1);
  const tree = await listTree(h.root);
  assert.ok(tree.includes('demo-new/index.html'));
  assert.ok(!tree.some((f) => f.startsWith('foo-bar/')));
  const rootPage = await readFile(join(h.root, 'index.html'), 'utf8');
  assert.match(rootPage, /demo-new/);
  assert.doesNotMatch(rootPage, /foo/);
});

test('changelog: pages past the per-call cap; a changelog too long for two pages reads the listing', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { changelogCap: 2 }, changelogPageSize: 2 });
  seedCatalogue(h.fake);
  await h.sync(GLOBS);
  h.take();
  // Three journal rows: a full page of 2, then a short page of 1.
  for (const name of ['demo-app', 'demo-lib', 'foo_bar']) h.fake.touch(name);
  await h.sync(GLOBS);
  assert.deepEqual(
    sorted(h.take()),
    sorted([
      'POST /pypi 200',
      'POST /pypi 200',
      'GET /simple/demo-app/ 200',
      'GET /simple/demo-lib/ 200',
      'GET /simple/foo-bar/ 200',
    ]),
  );
  // Five rows: two full pages and more to come: one listing is cheaper than paging on.
  for (const name of ['demo-app', 'demo-lib', 'foo_bar', 'Zope.Interface', 'demo-app']) h.fake.touch(name);
  await h.sync(GLOBS);
  const seen = h.take();
  assert.deepEqual(seen.slice(0, 3), ['POST /pypi 200', 'POST /pypi 200', 'GET /simple/ 200']);
  assert.equal(seen.filter((r) => /^GET \/simple\/[^/]+\/ 200$/.test(r)).length, 4);
  assert.equal((await h.state()).lastSerial, h.fake.serial);
  h.log.records.length = 0;
  await h.sync(GLOBS);
  assert.deepEqual(h.take(), ['POST /pypi 200'], 'back to the changelog');
});

test('changelog not offered: the listing serials decide, and support is asked about once a day', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { xmlrpc: false } });
  seedCatalogue(h.fake);
  const day0 = new Date('2026-03-01T00:00:00Z');
  await h.sync(GLOBS, { now: day0 });
  h.take();
  await h.sync(GLOBS, { now: day0 });
  assert.deepEqual(h.take(), ['POST /pypi 404', 'GET /simple/ 304']);
  const state = await h.state();
  assert.equal(state.discovery?.changelogUnsupportedAt, day0.toISOString());
  assert.equal(state.discovery?.mode, 'listing-serial');
  const noop = await h.sync(GLOBS, { now: new Date('2026-03-01T12:00:00Z') });
  assert.deepEqual(h.take(), ['GET /simple/ 304'], 'a no-op is one conditional listing request');
  assert.equal(noop.requests, 1);
  await h.sync(GLOBS, { now: new Date('2026-03-02T00:00:01Z') });
  assert.deepEqual(h.take(), ['POST /pypi 404', 'GET /simple/ 304'], 'asked again after a day');

  // K changes: the listing, K pages and the new files.
  h.fake.addFile('demo-lib', wheel('demo-lib', '1.1'));
  h.fake.touch('foo_bar');
  const later = new Date('2026-03-02T01:00:00Z');
  await h.sync(GLOBS, { now: later });
  const lib = new URL(h.fake.fileUrl('demo-lib', 'demo_lib-1.1-py3-none-any.whl')).pathname;
  assert.deepEqual(
    sorted(h.take()),
    sorted([
      'GET /simple/ 200',
      'GET /simple/demo-lib/ 200',
      'GET /simple/foo-bar/ 200',
      `GET ${lib} 200`, // its .metadata comes from the wheel (PEP 658: the same bytes)
    ]),
  );

  // New and deleted projects.
  h.fake.addProject('foo-new', [wheel('foo-new', '1.0')]);
  h.fake.removeProject('demo-app');
  const report = await h.sync(GLOBS, { now: later });
  assert.equal(report.projectsRemoved, 1);
  const tree = await listTree(h.root);
  assert.ok(tree.includes('foo-new/index.html'));
  assert.ok(!tree.some((f) => f.startsWith('demo-app/')));
});

test('plain PEP 503 index: a no-op is only 304s; changes, new and deleted projects are found', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { formats: 'html-only', xmlrpc: false } });
  seedCatalogue(h.fake);
  await h.sync(GLOBS);
  h.take();
  await h.sync(GLOBS);
  const noop = h.take();
  assert.equal(noop.length, 5, 'the listing and the four selected pages');
  assert.ok(
    noop.every((r) => r.startsWith('GET ') && r.endsWith(' 304')),
    noop.join('\n'),
  );
  assert.equal((await h.state()).discovery?.mode, 'conditional');

  h.fake.addFile('demo-lib', wheel('demo-lib', '1.1'));
  await h.sync(GLOBS);
  const seen = h.take();
  assert.deepEqual(
    seen.filter((r) => !r.endsWith(' 304')).sort(),
    sorted([
      'GET /simple/demo-lib/ 200',
      `GET ${new URL(h.fake.fileUrl('demo-lib', 'demo_lib-1.1-py3-none-any.whl')).pathname} 200`,
    ]),
  );
  assert.ok(seen.includes('GET /simple/ 304'));

  h.fake.addProject('demo-new', [wheel('demo-new', '0.1')]);
  h.fake.removeProject('foo_bar');
  const report = await h.sync(GLOBS);
  assert.ok(h.take().includes('GET /simple/ 200'));
  assert.equal(report.projectsRemoved, 1);
  const tree = await listTree(h.root);
  assert.ok(tree.includes('demo-new/index.html'));
  assert.ok(!tree.some((f) => f.startsWith('foo-bar/')));
});

test('literal names on a PyPI-like upstream: never a listing; the changelog answers from the second run', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  const literal = { packageMatches: ['demo-lib', 'Foo_Bar'] };
  await h.sync(literal);
  const first = h.take();
  assert.equal(first[0], 'POST /pypi 200', 'the global serial, read before the pages');
  assert.ok(first.includes('GET /simple/demo-lib/ 200') && first.includes('GET /simple/foo-bar/ 200'));
  assert.equal((await h.state()).discovery?.mode, 'literal');

  await h.sync(literal);
  assert.deepEqual(h.take(), ['POST /pypi 200']);

  h.fake.addFile('demo-lib', wheel('demo-lib', '1.1'));
  h.fake.touch('demo-app'); // not selected
  h.fake.removeProject('foo_bar');
  const report = await h.sync(literal);
  const seen = h.take();
  assert.deepEqual(
    seen.filter((r) => r.startsWith('GET /simple/')),
    ['GET /simple/demo-lib/ 200'],
  );
  assert.equal(seen.length, 3, 'changelog, page, wheel (its .metadata comes from the wheel)');
  assert.equal(report.projectsRemoved, 1);
  assert.deepEqual(
    (await listTree(h.root)).filter((f) => f.endsWith('index.html')),
    ['demo-lib/index.html', 'index.html'],
  );
});

test('literal names on a plain index: each page with its ETag; a 404 deletes unless the upstream looks broken', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { formats: 'html-only', xmlrpc: false } });
  seedCatalogue(h.fake);
  const literal = { packageMatches: ['demo-lib', 'foo-bar'] };
  await h.sync(literal);
  assert.equal(h.take()[0], 'POST /pypi 404', 'asked once whether a changelog exists');
  await h.sync(literal);
  assert.deepEqual(sorted(h.take()), ['GET /simple/demo-lib/ 304', 'GET /simple/foo-bar/ 304']);

  h.fake.removeProject('foo_bar');
  const one = await h.sync(literal);
  assert.deepEqual(sorted(h.take()), ['GET /simple/demo-lib/ 304', 'GET /simple/foo-bar/ 404']);
  assert.equal(one.projectsRemoved, 1);

  // Every literal project 404s and so does the listing: an upstream outage, not a deletion.
  h.fake.fail((path) => path.startsWith('/simple/'), { status: 404 });
  const broken = await h.sync(literal);
  assert.match(
    broken.deletionsHeld?.message ?? '',
    /every project in package_matches answered 404 and the upstream listing/,
  );
  assert.ok((await listTree(h.root)).includes('demo-lib/index.html'));
  assert.equal(h.log.find('deletions held').length, 1);
  assert.equal((await h.state()).discovery?.isListingDue, true);

  // Every literal project 404s, but the listing is healthy and lacks them: a real deletion.
  // (max_deletions = 100: with the earlier removal, the window alone would hold emptying a two-project mirror.)
  h.fake.clearFaults();
  h.fake.removeProject('demo-lib');
  const gone = await h.sync({ ...literal, maxDeletionsPercent: 100 });
  assert.equal(gone.deletionsHeld, null);
  assert.equal(gone.projectsRemoved, 1);
  assert.deepEqual(await listTree(h.root), ['index.html', 'index.v1_json']);
});

test('a mass removal in the changelog is checked against the listing, and held when it shrank', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  await h.sync(); // every project
  for (const name of ['demo-app', 'demo-lib', 'foo_bar']) h.fake.removeProject(name);
  h.take();
  const held = await h.sync();
  assert.deepEqual(h.take(), ['POST /pypi 200', 'GET /simple/ 200']);
  assert.match(held.deletionsHeld?.message ?? '', /listing lists only 2 of the 5 selected projects/);
  assert.ok((await listTree(h.root)).includes('demo-app/index.html'));
  // Held deletions are decided again by the next run's listing, not forgotten behind the changelog.
  await h.sync();
  assert.deepEqual(h.take(), ['GET /simple/ 200']);
});

test('a scope change reads the listing, so selected projects not mirrored yet are found', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['demo-*'] });
  await h.sync({ packageMatches: ['demo-*'] });
  h.take();
  await h.sync({ packageMatches: ['demo-*', 'zope.*'] });
  assert.equal(h.take()[0], 'GET /simple/ 200');
  assert.ok((await listTree(h.root)).includes('zope-interface/index.html'));
  await h.sync({ packageMatches: ['demo-*', 'zope.*'] });
  assert.deepEqual(h.take(), ['POST /pypi 200']);
});

test('check describes the discovery mode and what the last run used', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  const cfg = makeConfig({ mirrorRoot: h.root, indexUrl: h.fake.url, ...GLOBS });
  assert.deepEqual(describeDiscovery(cfg, null), [
    "# discovery: automatic: XML-RPC changelog when the upstream answers it, else the root listing's serials, " +
      'else conditional requests; last run used: no run yet',
  ]);
  await h.sync(GLOBS);
  await h.sync(GLOBS);
  assert.match(
    describeDiscovery(cfg, await h.state()).join('\n'),
    new RegExp(`last run used: the XML-RPC changelog \\(serial ${h.fake.serial}\\)$`),
  );
  const literal = makeConfig({ mirrorRoot: h.root, indexUrl: h.fake.url, packageMatches: ['requests'] });
  assert.match(describeDiscovery(literal, null)[0] ?? '', /^# discovery: literal names \(no listing\)/);
});

test('a project that failed is fetched again, even when the next run can read neither changelog nor listing', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedCatalogue(h.fake);
  await h.sync(GLOBS);
  h.fake.addProject('demo-new', [wheel('demo-new', '0.1')]);
  h.fake.fail('/simple/demo-new/', { status: 500 });
  const failed = await h.sync(GLOBS);
  assert.deepEqual(
    failed.failures.map((f) => f.project),
    ['demo-new'],
  );
  assert.equal((await h.state()).lastSerial, h.fake.serial, 'the changelog moved on');
  h.fake.clearFaults();
  h.fake.fail('/pypi', { status: 503 });
  h.fake.fail('/simple/', { status: 503 });
  const blind = await h.sync(GLOBS);
  assert.equal(blind.listingFailed, true);
  assert.ok(
    (await listTree(h.root)).includes('demo-new/index.html'),
    'the failed project was owed and fetched',
  );
  h.fake.clearFaults();
  h.take();
  await h.sync(GLOBS);
  assert.deepEqual(h.take(), ['POST /pypi 200']);
});
