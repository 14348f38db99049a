// A wheel's PEP 658 `.metadata` file is taken from the wheel just downloaded when its METADATA has the page's
// digest (issue #14 part 1): no request for it. Otherwise it is fetched, and published only if it matches.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repairTree, verifyTree } from '../../src/verify.js';
import { buildSdist, buildWheel, sha256Hex } from '../helpers/dist-builder.js';
import { type Harness, startHarness } from '../helpers/sync-harness.js';
import { createLocalStorage } from '../../src/storage/local.js';

const PROJECT = 'fakepkg-alpha';
const SIGNAL = new AbortController().signal;

function metadataRequests(h: Harness): string[] {
  return h.fake.requests.filter((r) => r.path.endsWith('.metadata')).map((r) => r.path);
}

async function projectPage(h: Harness): Promise<string> {
  return readFile(join(h.root, PROJECT, 'index.html'), 'utf8');
}

/** A wheel whose page gives core metadata other than its own METADATA (`served`: what the upstream serves). */
function wheelWithOtherMetadata(version: string): ReturnType<typeof buildWheel> {
  const wheel = buildWheel({ name: PROJECT, version });
  return { ...wheel, metadata: `${wheel.metadata}Summary: the upstream's own metadata\n` };
}

test('a wheel’s .metadata comes from the wheel, byte for byte the upstream’s, without a request for it', async (t) => {
  const h = await startHarness(t);
  const wheels = [
    buildWheel({ name: PROJECT, version: '1.0', requiresDist: ['fakepkg-beta>=1'] }),
    buildWheel({ name: PROJECT, version: '1.1', tag: 'cp311-cp311-manylinux_2_17_x86_64' }),
  ];
  const sdist = buildSdist({ name: PROJECT, version: '1.1' });
  // A wheel whose page gives no core metadata: it gets no .metadata file, from the wheel or elsewhere.
  const bare = buildWheel({ name: PROJECT, version: '0.9' });
  h.fake.addProject(PROJECT, [...wheels, sdist, { filename: bare.filename, bytes: bare.bytes }]);
  const report = await h.sync({ packageMatches: [PROJECT] });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(metadataRequests(h), []);
  assert.deepEqual(
    h.fake.requests.filter((r) => !r.path.startsWith('/simple/') && r.path !== '/pypi').length,
    4,
    'the four files, and no other file',
  );
  const page = await projectPage(h);
  for (const wheel of wheels) {
    const served = h.fake.file(PROJECT, wheel.filename).metadata;
    assert.ok(served !== undefined);
    assert.deepEqual(await readFile(join(h.root, PROJECT, `${wheel.filename}.metadata`)), served);
    assert.ok(page.includes(`${wheel.filename}#sha256=`));
    assert.ok(page.includes(`data-core-metadata="sha256=${sha256Hex(served)}"`));
  }
  // Neither the sdist nor the bare wheel has core metadata on the page: no .metadata file, no attribute.
  const names = await readdir(join(h.root, PROJECT));
  assert.deepEqual(
    names.filter((n) => n.endsWith('.metadata')).sort(),
    wheels.map((w) => `${w.filename}.metadata`),
  );
  assert.match(
    page,
    new RegExp(`${bare.filename.replace(/\./g, '\\.')}#sha256=[0-9a-f]{64}"(?! data-core-metadata)`),
  );
  assert.deepEqual(
    await verifyTree(
      h.config({ packageMatches: [PROJECT] }),
      createLocalStorage(h.config({ packageMatches: [PROJECT] }).mirrorRoot),
      h.log,
      SIGNAL,
    ),
    [],
  );
});

test('a wheel whose METADATA is not the page’s core metadata gets the upstream’s .metadata', async (t) => {
  const h = await startHarness(t);
  const wheel = wheelWithOtherMetadata('1.0');
  h.fake.addProject(PROJECT, [wheel]);
  await h.sync({ packageMatches: [PROJECT] });
  assert.equal(metadataRequests(h).length, 1);
  assert.equal(h.log.find("the wheel's METADATA is not the page's core metadata; fetching it").length, 1);
  assert.equal(await readFile(join(h.root, PROJECT, `${wheel.filename}.metadata`), 'utf8'), wheel.metadata);
  assert.ok((await projectPage(h)).includes(`data-core-metadata="sha256=${sha256Hex(wheel.metadata)}"`));
});

test('a .metadata that matches neither the wheel nor the page is not published', async (t) => {
  const h = await startHarness(t);
  const wheel = wheelWithOtherMetadata('1.0');
  h.fake.addProject(PROJECT, [wheel]);
  h.fake.corrupt((path) => path.endsWith(`${wheel.filename}.metadata`));
  const report = await h.sync({ packageMatches: [PROJECT] });
  assert.deepEqual(report.failures, []);
  assert.equal(metadataRequests(h).length, 1, 'a wrong digest is not retried');
  assert.equal(h.log.find("the wheel's METADATA is not the page's core metadata; fetching it").length, 1);
  assert.deepEqual(await readdir(join(h.root, PROJECT)).then((n) => n.sort()), [
    wheel.filename,
    'index.html',
    'index.v1_json',
  ]);
  assert.doesNotMatch(await projectPage(h), /data-core-metadata/);
  assert.equal(h.log.find('core metadata not mirrored', 'warn').length, 1);
});

test('verify --repair restores a damaged .metadata from the wheel, without a request for either', async (t) => {
  const h = await startHarness(t);
  const wheel = buildWheel({ name: PROJECT, version: '1.0' });
  h.fake.addProject(PROJECT, [wheel]);
  const cfg = h.config({ packageMatches: [PROJECT] });
  await h.sync({ packageMatches: [PROJECT] });
  const path = join(h.root, PROJECT, `${wheel.filename}.metadata`);
  await writeFile(path, 'Metadata-Version: 2.1\nName: damaged\n');
  const problems = await verifyTree(cfg, createLocalStorage(cfg.mirrorRoot), h.log, SIGNAL);
  assert.deepEqual(
    problems.map((p) => [p.file, p.problem]),
    [[`${wheel.filename}.metadata`, 'sha256']],
  );
  await repairTree(cfg, createLocalStorage(cfg.mirrorRoot), problems, h.log);
  h.fake.resetLog();
  await h.sync({ packageMatches: [PROJECT] });
  assert.deepEqual(
    h.fake.requests.map((r) => r.path).filter((path) => path !== '/pypi'),
    [`/simple/${PROJECT}/`],
    'the page only (and the changelog): the wheel is adopted from disk',
  );
  assert.equal(await readFile(path, 'utf8'), wheel.metadata);
  assert.deepEqual(await verifyTree(cfg, createLocalStorage(cfg.mirrorRoot), h.log, SIGNAL), []);
});
