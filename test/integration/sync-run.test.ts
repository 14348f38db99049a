// One-shot sync against the fake upstream: the tree, the pages, the state, and what a re-run costs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ProjectRecord } from '../../src/model/record.js';
import { EMPTY_STATE, readRecord, readState, writeRecord, writeState } from '../../src/mirror/state.js';
import { formatSummary } from '../../src/sync/report.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

test('first sync writes a verified PEP 503 tree of the selected projects and files', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const report = await h.sync({
    packageMatches: ['demo-*', 'foo_bar', 'zope.*'],
    filenameMatches: ['*.whl', '*.tar.gz', '*.zip'],
  });
  assert.deepEqual(await listTree(h.root), [
    'demo-app/demo_app-2.0-py3-none-any.whl',
    'demo-app/demo_app-2.0-py3-none-any.whl.metadata',
    'demo-app/index.html',
    'demo-app/index.v1_json',
    'demo-lib/demo_lib-0.9-py3-none-any.whl',
    'demo-lib/demo_lib-0.9-py3-none-any.whl.metadata',
    'demo-lib/demo_lib-1.0-py3-none-any.whl',
    'demo-lib/demo_lib-1.0-py3-none-any.whl.metadata',
    'demo-lib/index.html',
    'demo-lib/index.v1_json',
    'foo-bar/foo_bar-1.0-py3-none-any.whl',
    'foo-bar/foo_bar-1.0-py3-none-any.whl.metadata',
    'foo-bar/foo_bar-1.0.tar.gz',
    'foo-bar/index.html',
    'foo-bar/index.v1_json',
    'index.html',
    'index.v1_json',
    'zope-interface/index.html',
    'zope-interface/index.v1_json',
    'zope-interface/zope_interface-4.0.zip',
    'zope-interface/zope_interface-5.0-py3-none-any.whl',
    'zope-interface/zope_interface-5.0-py3-none-any.whl.metadata',
    'zope-interface/zope_interface-5.0.tar.gz',
  ]);
  assert.equal(report.projectsChecked, 4);
  assert.equal(report.projectsChanged, 4);
  assert.equal(report.filesFetched, 8);
  assert.equal(report.failures.length, 0);
  assert.match(
    formatSummary(report),
    /^sync finished: 4 projects checked, 4 changed, 8 files \(.*\) fetched, 0 files and 0 projects removed, 0 failed in /,
  );
  assert.equal(h.log.find('sync finished').length, 1);

  // Every link carries the sha256 of the bytes on disk; yanked has its reason; metadata hash matches.
  const page = await readFile(join(h.root, 'demo-lib/index.html'), 'utf8');
  for (const [, file, hex] of page.matchAll(/href="([^"#]+)#sha256=([0-9a-f]{64})"/g)) {
    assert.equal(await sha256(join(h.root, 'demo-lib', decodeURIComponent(file as string))), hex);
    assert.equal(hex, h.fake.file('demo-lib', decodeURIComponent(file as string)).sha256);
  }
  assert.match(
    page,
    /demo_lib-0\.9-py3-none-any\.whl#sha256=[0-9a-f]{64}" data-core-metadata="sha256=[0-9a-f]{64}" data-dist-info-metadata="sha256=[0-9a-f]{64}" data-yanked="broken &lt;build&gt;"|data-yanked="broken &lt;build&gt;"/,
  );
  const meta = /data-core-metadata="sha256=([0-9a-f]{64})"/.exec(page)?.[1];
  assert.ok(meta !== undefined);
  const metaFiles = await Promise.all(
    ['demo_lib-0.9-py3-none-any.whl.metadata', 'demo_lib-1.0-py3-none-any.whl.metadata'].map((f) =>
      sha256(join(h.root, 'demo-lib', f)),
    ),
  );
  assert.ok(metaFiles.includes(meta));
  assert.match(
    await readFile(join(h.root, 'demo-app/index.html'), 'utf8'),
    /data-requires-python="&gt;=3\.8"/,
  );

  const root = await readFile(join(h.root, 'index.html'), 'utf8');
  assert.deepEqual(
    [...root.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]]),
    [
      ['demo-app/', 'demo-app'],
      ['demo-lib/', 'demo-lib'],
      ['foo-bar/', 'foo_bar'],
      ['zope-interface/', 'Zope.Interface'],
    ],
  );
  const json = JSON.parse(await readFile(join(h.root, 'zope-interface/index.v1_json'), 'utf8')) as {
    name: string;
    versions: string[];
    files: { filename: string; size: number }[];
  };
  assert.equal(json.name, 'zope-interface');
  assert.deepEqual(json.versions, ['4.0', '5.0']);
  for (const f of json.files) assert.equal(f.size, h.fake.file('Zope.Interface', f.filename).size);

  const state = await readState(createLocalStorage(h.root));
  assert.deepEqual(Object.keys(state.projects), ['demo-app', 'demo-lib', 'foo-bar', 'zope-interface']);
});

test('a re-run with nothing changed upstream fetches only the listing (PEP 691 serials, no XML-RPC)', async (t) => {
  const h = await startHarness(t, { fake: { xmlrpc: false } });
  seedCatalogue(h.fake);
  await h.sync();
  await h.sync(); // the second run asks once whether the upstream has XML-RPC (it has not: 404)
  h.fake.resetLog();
  const report = await h.sync();
  assert.deepEqual(
    h.fake.requests.map((r) => r.path),
    ['/simple/'],
  );
  assert.equal(report.filesFetched, 0);
  assert.equal(report.projectsChanged, 0);
});

test('on a plain PEP 503 upstream, a re-run costs one 304 per project and no file', async (t) => {
  const h = await startHarness(t, { fake: { formats: 'html-only' } });
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['demo-*', 'foo-bar'] });
  assert.ok((await listTree(h.root)).includes('demo-lib/demo_lib-1.0-py3-none-any.whl'));
  h.fake.resetLog();
  const report = await h.sync({ packageMatches: ['demo-*', 'foo-bar'] });
  const pages = h.fake.requests.filter((r) => r.path !== '/simple/');
  assert.deepEqual(
    pages.map((r) => r.status),
    [304, 304, 304],
  );
  assert.equal(report.filesFetched, 0);
});

test('upstream changes: new files fetched, removed files cleaned, yanks and deleted projects follow', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync();
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1' }));
  h.fake.removeFile('foo_bar', 'foo_bar-1.0.tar.gz');
  h.fake.yank('demo-app', 'demo_app-2.0-py3-none-any.whl');
  h.fake.removeProject('unrelated');
  h.fake.resetLog();
  const report = await h.sync();
  const tree = await listTree(h.root);
  assert.ok(tree.includes('demo-lib/demo_lib-1.1-py3-none-any.whl'));
  assert.ok(!tree.includes('foo-bar/foo_bar-1.0.tar.gz'));
  assert.ok(!tree.some((f) => f.startsWith('unrelated/')));
  assert.doesNotMatch(await readFile(join(h.root, 'index.html'), 'utf8'), /unrelated/);
  assert.match(await readFile(join(h.root, 'demo-app/index.html'), 'utf8'), /data-yanked=""/);
  assert.equal(report.filesFetched, 1, 'the new wheel (its .metadata comes with it)');
  assert.equal(report.projectsRemoved, 1);
  // Only the three changed projects' pages were asked for, and only new files were downloaded.
  const pages = h.fake.requests
    .filter((r) => /^\/simple\/[^/]+\/$/.test(r.path))
    .map((r) => r.path)
    .sort();
  assert.deepEqual(pages, ['/simple/demo-app/', '/simple/demo-lib/', '/simple/foo-bar/']);
});

test("the root's leftover temp files go while the run goes on, before its root pages are written", async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['demo-*'] });
  // What a run killed while writing the root pages leaves: swept beside this run (on the thread pool), and
  // waited for before this run's own root pages, whose temp files are never taken for leftovers.
  const left = ['.index.html.0123456789ab.tmp', '.index.v1_json.abcdef012345.tmp'];
  for (const name of left) await writeFile(join(h.root, name), 'killed');
  const report = await h.sync({ packageMatches: ['demo-*', 'foo_bar'] });
  assert.equal(report.failures.length, 0);
  const tree = await listTree(h.root);
  assert.deepEqual(
    tree.filter((f) => !f.includes('/')),
    ['index.html', 'index.v1_json'],
  );
  assert.match(await readFile(join(h.root, 'index.html'), 'utf8'), /foo-bar/);
  for (const name of left) await writeFile(join(h.root, name), 'killed');
  await h.sync({ packageMatches: ['demo-*', 'foo_bar'] }); // a no-op sweeps them too
  assert.deepEqual(
    (await listTree(h.root)).filter((f) => !f.includes('/')),
    ['index.html', 'index.v1_json'],
  );
});

test('cleanup: a project the config no longer selects is removed; with cleanup off it stays', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['demo-*', 'foo-bar'] });
  await h.sync({ packageMatches: ['demo-*'], cleanup: false });
  assert.ok((await listTree(h.root)).includes('foo-bar/index.html'));
  h.fake.resetLog();
  const report = await h.sync({ packageMatches: ['demo-*'] });
  assert.ok(!(await listTree(h.root)).some((f) => f.startsWith('foo-bar/')));
  assert.equal(report.projectsRemoved, 1);
  assert.equal(h.fake.requests.filter((r) => r.path.endsWith('.whl')).length, 0, 'nothing re-downloaded');
});

test('a filename_matches change re-plans from stored pages: files removed and added, nothing refetched twice', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['zope.*'], filenameMatches: ['*.whl'] });
  assert.deepEqual(
    (await listTree(h.root)).filter((f) => f.startsWith('zope-interface/zope')),
    [
      'zope-interface/zope_interface-5.0-py3-none-any.whl',
      'zope-interface/zope_interface-5.0-py3-none-any.whl.metadata',
    ],
  );
  h.fake.resetLog();
  await h.sync({ packageMatches: ['zope.*'], filenameMatches: ['*.tar.gz', '*.zip'] });
  assert.deepEqual(
    (await listTree(h.root)).filter((f) => f.startsWith('zope-interface/zope')),
    ['zope-interface/zope_interface-4.0.zip', 'zope-interface/zope_interface-5.0.tar.gz'],
  );
  const page = await readFile(join(h.root, 'zope-interface/index.html'), 'utf8');
  assert.doesNotMatch(page, /\.whl/);
  assert.equal(h.fake.requests.filter((r) => r.path.includes('.whl')).length, 0);
});

test('deletions are held when the upstream listing is empty or shrinks by more than half', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync();
  for (const name of ['demo-app', 'demo-lib', 'foo_bar']) h.fake.removeProject(name);
  const report = await h.sync();
  assert.match(report.deletionsHeld?.message ?? '', /listing lists only 2 of the 5 selected projects/);
  assert.ok((await listTree(h.root)).includes('demo-app/index.html'));
  assert.equal(h.log.find('deletions held').length, 1);
  h.fake.fail('/simple/', { status: 503 });
  const failed = await h.sync();
  assert.equal(failed.listingFailed, true);
  assert.ok((await listTree(h.root)).includes('demo-lib/index.html'));
});

test('bad downloads publish nothing, other projects sync, and the next run heals', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const wheel = (p: string, f: string): string => new URL(h.fake.fileUrl(p, f)).pathname;
  h.fake.truncate(wheel('demo-app', 'demo_app-2.0-py3-none-any.whl'));
  h.fake.corrupt(wheel('foo_bar', 'foo_bar-1.0-py3-none-any.whl'));
  h.fake.fail('/simple/zope-interface/', { status: 500 });
  const report = await h.sync();
  assert.deepEqual(report.failures.map((f) => f.project).sort(), ['demo-app', 'foo-bar', 'zope-interface']);
  const tree = await listTree(h.root);
  assert.ok(!tree.includes('demo-app/demo_app-2.0-py3-none-any.whl'));
  assert.ok(!tree.includes('demo-app/index.html'), 'a failed project has no page');
  assert.ok(!tree.includes('foo-bar/foo_bar-1.0-py3-none-any.whl'));
  assert.ok(!tree.includes('foo-bar/index.html'));
  assert.ok(!tree.some((f) => f.endsWith('.tmp')), 'no temp file is left');
  assert.ok(tree.includes('demo-lib/index.html'), 'the other projects synced');
  assert.ok(
    tree.includes('foo-bar/foo_bar-1.0.tar.gz'),
    "a failed project's good files are kept for next time",
  );
  assert.doesNotMatch(await readFile(join(h.root, 'index.html'), 'utf8'), /demo-app|foo-bar|zope/);

  h.fake.clearFaults();
  h.fake.resetLog();
  const healed = await h.sync();
  assert.equal(healed.failures.length, 0);
  const after = await listTree(h.root);
  for (const f of [
    'demo-app/index.html',
    'foo-bar/foo_bar-1.0-py3-none-any.whl',
    'zope-interface/index.html',
  ]) {
    assert.ok(after.includes(f), f);
  }
  assert.equal(
    h.fake.requests.filter((r) => r.path.endsWith('foo_bar-1.0.tar.gz')).length,
    0,
    'good file not refetched',
  );
});

test('a failed re-download keeps the previous page, which still links only good files', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['demo-lib'] });
  const before = await readFile(join(h.root, 'demo-lib/index.html'), 'utf8');
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1' }));
  h.fake.corrupt(new URL(h.fake.fileUrl('demo-lib', 'demo_lib-1.1-py3-none-any.whl')).pathname);
  const report = await h.sync({ packageMatches: ['demo-lib'] });
  assert.equal(report.failures.length, 1);
  assert.match(report.failures[0]?.reason ?? '', /INTEGRITY_HASH/);
  assert.equal(await readFile(join(h.root, 'demo-lib/index.html'), 'utf8'), before);
});

test('resume: a verified file already in place is adopted, not downloaded again', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['foo-bar'] });
  // Lose the state and the record's files (as a crash before the record write would: the record written
  // before the project's directory, with no files yet, is all there is), keep the files.
  await writeState(createLocalStorage(h.root), EMPTY_STATE);
  const claimed = {
    ...(await readRecord(createLocalStorage(h.root), 'foo-bar')),
    files: [],
    etag: null,
    serial: null,
  };
  await writeRecord(createLocalStorage(h.root), claimed as ProjectRecord);
  h.fake.resetLog();
  const report = await h.sync({ packageMatches: ['foo-bar'] });
  assert.equal(report.failures.length, 0);
  assert.equal(
    (await readRecord(createLocalStorage(h.root), 'foo-bar'))?.files.length,
    2,
    'both files adopted into the record',
  );
  assert.equal(
    h.fake.requests.filter((r) => r.path.endsWith('.whl') || r.path.endsWith('.tar.gz')).length,
    0,
  );
  assert.match(await readFile(join(h.root, 'foo-bar/index.html'), 'utf8'), /foo_bar-1\.0\.tar\.gz#sha256=/);
});

test('a wrong file on disk is not adopted: it is replaced by a verified download', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['foo-bar'] });
  await writeFile(join(h.root, 'foo-bar/foo_bar-1.0.tar.gz'), 'garbage');
  h.fake.touch('foo_bar');
  await h.sync({ packageMatches: ['foo-bar'] });
  assert.equal(
    await sha256(join(h.root, 'foo-bar/foo_bar-1.0.tar.gz')),
    h.fake.file('foo_bar', 'foo_bar-1.0.tar.gz').sha256,
  );
});

test('a selected project with no selected file gets no page, and is not asked for again while unchanged', async (t) => {
  const h = await startHarness(t, { fake: { xmlrpc: false } });
  seedCatalogue(h.fake);
  const cfg = { packageMatches: ['foo-*', 'demo-app'], filenameMatches: ['*.tar.gz'] };
  await h.sync(cfg);
  assert.ok(!(await listTree(h.root)).some((f) => f.startsWith('demo-app/')), 'demo-app has only a wheel');
  assert.doesNotMatch(await readFile(join(h.root, 'index.html'), 'utf8'), /demo-app/);
  await h.sync(cfg); // the XML-RPC probe (404)
  h.fake.resetLog();
  await h.sync(cfg);
  assert.deepEqual(
    h.fake.requests.map((r) => r.path),
    ['/simple/'],
  );
  // When its last selected file goes, a mirrored project's page and directory go too.
  await h.sync({ ...cfg, filenameMatches: ['*.zip'] });
  assert.ok(!(await listTree(h.root)).some((f) => f.startsWith('foo-bar/')));
  assert.doesNotMatch(await readFile(join(h.root, 'index.html'), 'utf8'), /foo-bar/);
});

test('files on another host (as pypi.org links files.pythonhosted.org) are fetched there and linked locally', async (t) => {
  const files = await startFakeUpstream();
  t.after(() => files.close());
  const h = await startHarness(t, { fake: { filesOrigin: new URL(files.url).origin } });
  const wheel = buildWheel({ name: 'demo-lib', version: '1.0' });
  files.addProject('demo-lib', [wheel]);
  h.fake.addProject('demo-lib', [wheel]);
  assert.ok(h.fake.fileUrl('demo-lib', wheel.filename).startsWith(new URL(files.url).origin));

  const report = await h.sync({ packageMatches: ['demo-lib'] });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(
    files.requests.map((r) => r.path).sort(),
    [`/files/demo-lib/${wheel.filename}`], // its PEP 658 metadata comes from the wheel
  );
  assert.ok(
    !h.fake.requests.some((r) => r.path.startsWith('/files/')),
    'nothing fetched from the index host',
  );
  assert.deepEqual(await readFile(join(h.root, 'demo-lib', wheel.filename)), wheel.bytes);
  const page = await readFile(join(h.root, 'demo-lib', 'index.html'), 'utf8');
  assert.match(page, new RegExp(`href="${wheel.filename.replace(/\./g, '\\.')}#sha256=[0-9a-f]{64}"`));
});

test('a file that keeps failing costs the client retries + 1 requests, not a retry loop inside a retry loop', async (t) => {
  const h = await startHarness(t); // retries: 2 in the client and in the transfer loop
  seedCatalogue(h.fake);
  const wheel = new URL(h.fake.fileUrl('foo_bar', 'foo_bar-1.0-py3-none-any.whl')).pathname;
  h.fake.fail(wheel, { status: 500 });
  const report = await h.sync();
  assert.deepEqual(
    report.failures.map((f) => f.project),
    ['foo-bar'],
  );
  assert.equal(h.fake.requests.filter((r) => r.path === wheel).length, 3);
  // A body cut short is still retried as a whole transfer: the second attempt succeeds.
  h.fake.clearFaults();
  h.fake.truncate(wheel, { times: 1 });
  h.fake.resetLog();
  const healed = await h.sync();
  assert.equal(healed.failures.length, 0);
  assert.equal(h.fake.requests.filter((r) => r.path === wheel).length, 2);
});
