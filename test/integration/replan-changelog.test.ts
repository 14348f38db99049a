// A files-only scope change (filename_matches here) on a mirror whose upstream has the XML-RPC changelog: the
// changelog says which pages moved; those are fetched, and every other project is planned again from the
// page its record holds, with no page request (issue #14 part 4).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildWheel } from '../helpers/dist-builder.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const SELECTED = ['zope.*', 'demo-*'];

test('a filename_matches change with the changelog: only the pages it names are fetched, the rest re-planned from records', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: SELECTED, filenameMatches: ['*.whl'] });
  assert.ok(!(await listTree(h.root)).includes('zope-interface/zope_interface-5.0.tar.gz'));
  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '9.0' }));

  h.fake.resetLog();
  const report = await h.sync({ packageMatches: SELECTED, filenameMatches: [] });
  assert.equal(report.failures.length, 0);
  const paths = h.fake.requests.map((r) => r.path);
  assert.deepEqual(
    paths.filter((p) => /^\/simple\//.test(p)),
    ['/simple/demo-lib/'],
    'only the page the changelog names',
  );
  assert.equal(paths.filter((p) => p === '/pypi').length, 1, 'one changelog call');
  const tree = await listTree(h.root);
  // Newly selected by the wider filter, from the stored page: the sdist and zip.
  assert.ok(tree.includes('zope-interface/zope_interface-5.0.tar.gz'));
  assert.ok(tree.includes('zope-interface/zope_interface-4.0.zip'));
  // The project the changelog named: its new file.
  assert.ok(tree.includes('demo-lib/demo_lib-9.0-py3-none-any.whl'));
  assert.equal(paths.filter((p) => p.endsWith('-py3-none-any.whl')).length, 1, 'no wheel fetched twice');

  // The next run is a no-op again: the new scope was stored.
  h.fake.resetLog();
  await h.sync({ packageMatches: SELECTED, filenameMatches: [] });
  assert.deepEqual(
    h.fake.requests.map((r) => r.path),
    ['/pypi'],
  );

  // A new scope that keeps every file: each project is re-planned, and no page or record is written again.
  const inodes = async (): Promise<number[]> =>
    Promise.all(
      (await listTree(h.root, { withState: true }))
        .filter((f) => f.endsWith('/index.html') || f.startsWith('.pypimirror/projects/'))
        .sort()
        .map(async (f) => (await stat(join(h.root, f))).ino),
    );
  const before = await inodes();
  h.fake.resetLog();
  const replanned = await h.sync({ packageMatches: SELECTED, filenameMatches: ['*'] });
  assert.equal(replanned.projectsChanged, 0);
  assert.deepEqual(
    h.fake.requests.map((r) => r.path),
    ['/pypi'],
  );
  assert.deepEqual(await inodes(), before, 'no page or record rewritten');
});

test('a re-plan from records lists each directory: a file removed by hand comes back, one changed in place waits for its page', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: SELECTED, filenameMatches: ['*.whl'] });
  const removed = 'demo_lib-1.0-py3-none-any.whl';
  const changed = 'zope_interface-5.0-py3-none-any.whl';
  const temp = join(h.root, 'demo-lib', `.${removed}.0123456789ab.tmp`);
  await rm(join(h.root, 'demo-lib', removed));
  await writeFile(join(h.root, 'zope-interface', changed), 'changed in place');
  await writeFile(temp, 'a crashed write');

  h.fake.resetLog();
  const report = await h.sync({ packageMatches: SELECTED, filenameMatches: ['*'] });
  assert.equal(report.failures.length, 0);
  const paths = h.fake.requests.map((r) => r.path);
  assert.deepEqual(
    paths.filter((p) => /^\/simple\//.test(p)),
    [],
    'no page',
  );
  assert.equal(paths.filter((p) => p.endsWith(`/${removed}`)).length, 1, 'the removed file, fetched again');
  assert.equal(paths.filter((p) => p.endsWith(`/${changed}`)).length, 0, 'the changed file, not asked for');
  assert.equal(await readFile(join(h.root, 'zope-interface', changed), 'utf8'), 'changed in place');
  await assert.rejects(stat(temp), { code: 'ENOENT' }, 'the temp file is swept');

  // The project's next page fetch checks sizes: the bytes changed in place are replaced.
  h.fake.touch('Zope.Interface');
  await h.sync({ packageMatches: SELECTED, filenameMatches: ['*'] });
  const bytes = await readFile(join(h.root, 'zope-interface', changed));
  assert.equal(createHash('sha256').update(bytes).digest('hex'), h.fake.sha256('Zope.Interface', changed));
});

test('a package_matches change still reads the listing and fetches every selected page', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['zope.*'] });
  h.fake.resetLog();
  await h.sync({ packageMatches: ['zope.*', 'demo-app'] });
  const pages = h.fake.requests.map((r) => r.path).filter((p) => /^\/simple\//.test(p));
  assert.ok(pages.includes('/simple/'), 'the listing');
  assert.ok(pages.includes('/simple/zope-interface/'), 'the mirrored project, asked again');
  assert.ok(pages.includes('/simple/demo-app/'));
});
