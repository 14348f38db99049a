// `migrate` (src/migrate.ts) through the storage interface: a tree synced to local disk copied into a bucket
// of the real Ceph gateway, every file verified, then back into a new directory, byte for byte; a file whose
// bytes no longer match its record is reported and not copied; a second migrate copies nothing.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { migrateTree } from '../../src/migrate.js';
import { createLocalStorage } from '../../src/storage/local.js';
import { requireCeph } from '../helpers/ceph-rgw.js';
import { cephForFile, openCephStorage } from '../helpers/s3-storage.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';
import { listTree, makeTempDir } from '../helpers/tree.js';

const cluster = cephForFile();

const run = { log: silentLogger, signal: new AbortController().signal };

test('a local tree goes into a bucket and back, every file verified; a second migrate copies nothing', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync();
  const local = createLocalStorage(h.root);
  const bucket = openCephStorage(ceph, await ceph.createBucket());
  const first = await migrateTree(local, bucket, run);
  assert.deepEqual(first.problems, []);
  assert.ok(first.copied > 10, `copied ${first.copied}`);
  const wheel = 'demo-lib/demo_lib-1.0-py3-none-any.whl';
  const stat = await bucket.stat(wheel);
  assert.equal(stat?.size, (await readFile(join(h.root, wheel))).length);
  assert.match(stat?.sha256 ?? '', /^[0-9a-f]{64}$/, 'the sha256 travels in the metadata');
  assert.ok((await bucket.get('.pypimirror/state.json')) !== null, 'the state comes along');
  assert.equal(
    (await bucket.get('demo-lib/'))?.toString(),
    await readFile(join(h.root, 'demo-lib/index.html'), 'utf8'),
    'the page is also at dir/',
  );
  const again = await migrateTree(local, bucket, run);
  assert.deepEqual({ copied: again.copied, problems: again.problems }, { copied: 0, problems: [] });
  assert.equal(again.skipped, first.copied);

  const back = await makeTempDir(t);
  const returned = await migrateTree(bucket, createLocalStorage(back), run);
  assert.deepEqual(returned.problems, []);
  const withState = { withState: true };
  assert.deepEqual(await listTree(back, withState), await listTree(h.root, withState));
  for (const key of [wheel, 'demo-lib/index.html', '.pypimirror/state.json']) {
    assert.deepEqual(await readFile(join(back, key)), await readFile(join(h.root, key)), key);
  }
});

test('a file whose bytes differ from its record is reported and not copied', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync();
  const wheel = 'foo-bar/foo_bar-1.0-py3-none-any.whl';
  await writeFile(join(h.root, wheel), 'rotten bytes');
  const bucket = openCephStorage(ceph, await ceph.createBucket());
  const report = await migrateTree(createLocalStorage(h.root), bucket, run);
  assert.equal(report.problems.length, 1, report.problems.join('\n'));
  assert.match(
    report.problems[0] ?? '',
    /foo_bar-1\.0-py3-none-any\.whl: sha256 [0-9a-f]{64} \(12 bytes\), its record says [0-9a-f]{64}/,
  );
  assert.equal(await bucket.stat(wheel), null);
});
