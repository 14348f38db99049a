// Published bytes never change under a page (#10): what the in-process sync does when the upstream serves
// other bytes under a mirrored name, when a file it did not record is in the way, and when a held file is
// damaged on disk. verify (which checks every page against the bytes) is the judge after each sync.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readRecord } from '../../src/mirror/state.js';
import { verifyTree } from '../../src/verify.js';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import { seedCatalogue, startHarness, type Harness } from '../helpers/sync-harness.js';
import { createLocalStorage } from '../../src/storage/local.js';

const signal = new AbortController().signal;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function assertVerified(h: Harness, when: string): Promise<void> {
  assert.deepEqual(
    await verifyTree(h.config(), createLocalStorage(h.config().mirrorRoot), h.log, signal),
    [],
    when,
  );
}

/** The upstream serves other bytes under `filename` (PyPI never does; a broken or hostile index may). */
function rebuild(h: Harness, project: string, filename: string, bytes: Buffer, metadata?: string): void {
  h.fake.removeFile(project, filename);
  h.fake.addFile(project, { filename, bytes, ...(metadata === undefined ? {} : { metadata }) });
}

test('a file in the way (not in the record, other bytes) is never overwritten: the download goes to <16 hex>/', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  // The project is ours (it has a record: its wheel is mirrored); then a file it never recorded appears.
  await h.sync({ packageMatches: ['foo-bar'], filenameMatches: ['*.whl'] });
  await writeFile(join(h.root, 'foo-bar', 'foo_bar-1.0.tar.gz'), 'left here by someone\n');
  const report = await h.sync({ packageMatches: ['foo-bar'] });
  assert.equal(report.failures.length, 0);
  assert.equal(
    await readFile(join(h.root, 'foo-bar', 'foo_bar-1.0.tar.gz'), 'utf8'),
    'left here by someone\n',
  );
  const sha = h.fake.file('foo_bar', 'foo_bar-1.0.tar.gz').sha256;
  const moved = `${sha.slice(0, 16)}/foo_bar-1.0.tar.gz`;
  assert.equal(sha256(await readFile(join(h.root, 'foo-bar', moved))), sha);
  assert.ok(
    (await readFile(join(h.root, 'foo-bar', 'index.html'), 'utf8')).includes(`${moved}#sha256=${sha}`),
  );
  assert.equal(h.log.find('in the way of a download', 'warn').length, 1);
  await assertVerified(h, 'after the sync');
});

test('a held change is remembered in the record and told by verify; a held file damaged on disk comes back at a new path', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const cfg = { packageMatches: ['foo-bar'] };
  await h.sync(cfg);
  const name = 'foo_bar-1.0.tar.gz';
  const before = h.fake.file('foo_bar', name).sha256;
  rebuild(h, 'foo_bar', name, buildSdist({ name: 'foo_bar', version: '1.0', requiresPython: '>=3.9' }).bytes);
  const after = h.fake.file('foo_bar', name).sha256;
  await h.sync(cfg);
  const held = (await readRecord(createLocalStorage(h.root), 'foo-bar'))?.files.find(
    (f) => f.filename === name,
  );
  assert.equal(held?.sha256, before);
  assert.deepEqual(held?.heldUpstreamHashes, { sha256: after });
  assert.equal(h.log.find('the mirrored file is kept', 'warn').length, 1);
  await assertVerified(h, 'a held change');
  assert.equal(h.log.find('verify: upstream serves other bytes', 'warn').length, 1);

  // The mirrored bytes are damaged: they cannot be kept, so the upstream's come, to a new path.
  await writeFile(join(h.root, 'foo-bar', name), 'short');
  h.fake.touch('foo_bar');
  const report = await h.sync(cfg);
  assert.equal(report.failures.length, 0);
  const entry = (await readRecord(createLocalStorage(h.root), 'foo-bar'))?.files.find(
    (f) => f.filename === name,
  );
  assert.deepEqual(
    [entry?.sha256, entry?.path, entry?.heldUpstreamHashes],
    [after, `${after.slice(0, 16)}/${name}`, undefined],
  );
  assert.ok(!(await readdir(join(h.root, 'foo-bar'))).includes(name), 'the damaged bytes are gone');
  await assertVerified(h, 'after the damaged held file came back');
});

test('allow_replaced_files: the wheel and its .metadata move to <16 hex>/ together; the old pair goes', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const cfg = { packageMatches: ['demo-lib'], allowReplacedFiles: true };
  await h.sync(cfg);
  const name = 'demo_lib-1.0-py3-none-any.whl';
  const wheel = buildWheel({ name: 'demo-lib', version: '1.0', files: { 'demo_lib/new.py': 'NEW = 1\n' } });
  rebuild(h, 'demo-lib', name, wheel.bytes, wheel.metadata);
  const report = await h.sync(cfg);
  assert.equal(report.failures.length, 0);
  const dir = sha256(wheel.bytes).slice(0, 16);
  assert.deepEqual((await readdir(join(h.root, 'demo-lib', dir))).sort(), [name, `${name}.metadata`]);
  const entries = await readdir(join(h.root, 'demo-lib'));
  assert.ok(
    !entries.includes(name) && !entries.includes(`${name}.metadata`),
    `the old pair is gone: ${entries}`,
  );
  const page = await readFile(join(h.root, 'demo-lib', 'index.html'), 'utf8');
  assert.ok(page.includes(`href="${dir}/${name}#sha256=${sha256(wheel.bytes)}"`), page);
  assert.ok(page.includes(`data-core-metadata="sha256=${sha256(Buffer.from(wheel.metadata))}"`));
  assert.equal(h.log.find('it is replaced (allow_replaced_files = true)', 'warn').length, 1);
  await assertVerified(h, 'after the replacement');
  // Replaced again: the second directory replaces the first, which goes once empty.
  const third = buildWheel({ name: 'demo-lib', version: '1.0', files: { 'demo_lib/new.py': 'NEW = 2\n' } });
  rebuild(h, 'demo-lib', name, third.bytes, third.metadata);
  await h.sync(cfg);
  const dirs = (await readdir(join(h.root, 'demo-lib'))).filter((e) => /^[0-9a-f]{16}$/.test(e));
  assert.deepEqual(dirs, [sha256(third.bytes).slice(0, 16)]);
  await assertVerified(h, 'after the second replacement');
});

test('a held change is told once per run, also when the run comes back to the project for its deletions', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const cfg = { packageMatches: ['zope-interface'], maxDeletionsPercent: 100 };
  await h.sync(cfg);
  const name = 'zope_interface-5.0.tar.gz';
  rebuild(
    h,
    'Zope.Interface',
    name,
    buildSdist({ name: 'Zope.Interface', version: '5.0', requiresPython: '>=3' }).bytes,
  );
  h.fake.removeFile('Zope.Interface', 'zope_interface-4.0.zip');
  const report = await h.sync(cfg);
  assert.equal(report.filesRemoved, 1, 'the removal went through the second pass');
  assert.equal(h.log.find('the mirrored file is kept', 'warn').length, 1);
  await assertVerified(h, 'after the run');
});
