// min_release_age, quarantine_exempt and exclude_newer (issue #12 parts 2 and 3), in-process against the
// fake upstream: a fresh file is held (not mirrored, not listed) and appears on its own once old enough.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readState } from '../../src/mirror/state.js';
import { formatSummary, type SyncReport } from '../../src/sync/report.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { formatUploadTime } from '../helpers/fake-upstream-model.js';
import { startHarness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';
import { upstreamSection } from '../helpers/upstream-sections.js';
import { createLocalStorage } from '../../src/storage/local.js';

const DAY_MS = 86_400_000;

/** A wheel of `name` `version` uploaded `agoMs` before now. */
function wheel(name: string, version: string, agoMs: number) {
  return { ...buildWheel({ name, version }), uploadTime: formatUploadTime(Date.now() - agoMs) };
}

async function wheels(root: string, project: string): Promise<string[]> {
  return (await listTree(root)).filter((p) => p.startsWith(`${project}/`) && p.endsWith('.whl'));
}

/**
 * Syncs until `isDone` says so, each sync once the report's held files come of age: at most `rounds`
 * syncs, and no sleep past the first hold's end (plus a few ms). Returns the last report.
 */
async function syncUntil(
  sync: () => Promise<SyncReport>,
  isDone: () => Promise<boolean>,
  first: SyncReport,
  rounds = 5,
): Promise<SyncReport> {
  let report = first;
  for (let round = 0; round < rounds && !(await isDone()); round++) {
    const until = report.quarantine == null ? Date.now() : Date.parse(report.quarantine.until);
    await sleep(Math.min(Math.max(0, until - Date.now()) + 20, 5_000));
    report = await sync();
  }
  return report;
}

test('min_release_age holds a fresh release back, which appears in a later run without any config change', async (t) => {
  const h = await startHarness(t);
  h.fake.addProject('demo', [wheel('demo', '1.0', 10 * DAY_MS)]);
  h.fake.addProject('newcomer', [wheel('newcomer', '0.1', 0)]);
  const over = { packageMatches: ['demo', 'newcomer'], minReleaseAgeMs: 2_000 };
  await h.sync(over);
  assert.deepEqual(await wheels(h.root, 'demo'), ['demo/demo-1.0-py3-none-any.whl']);
  // A release 1.5 s old: held for half a second more.
  h.fake.addFile('demo', wheel('demo', '2.0', 1_500));
  const held = await h.sync(over);
  assert.deepEqual(held.failures, []);
  assert.deepEqual(await wheels(h.root, 'demo'), ['demo/demo-1.0-py3-none-any.whl']);
  const page = await readFile(join(h.root, 'demo', 'index.html'), 'utf8');
  assert.ok(!page.includes('demo-2.0'), 'a held file is not listed');
  // The project whose only file is held has no page, and the root page does not list it.
  assert.deepEqual(await wheels(h.root, 'newcomer'), []);
  assert.ok(!(await readFile(join(h.root, 'index.html'), 'utf8')).includes('newcomer'));
  assert.equal(held.quarantine?.files, 2);
  assert.match(formatSummary(held), /, 2 files held by min_release_age \(the first comes of age at 20\d\d-/);
  const state = await readState(createLocalStorage(h.root));
  assert.equal(state.projects['demo']?.quarantine?.files, 1);
  // No config change: the held files come in on their own once old enough, though nothing changed upstream.
  const serial = h.fake.serial;
  const done = async () =>
    (await wheels(h.root, 'demo')).length === 2 && (await wheels(h.root, 'newcomer')).length === 1;
  const last = await syncUntil(() => h.sync(over), done, held);
  assert.deepEqual(await wheels(h.root, 'demo'), [
    'demo/demo-1.0-py3-none-any.whl',
    'demo/demo-2.0-py3-none-any.whl',
  ]);
  assert.ok((await readFile(join(h.root, 'demo', 'index.html'), 'utf8')).includes('demo-2.0'));
  assert.equal(h.fake.serial, serial);
  // The newcomer is in too, with its page; nothing is held any more.
  assert.deepEqual(await wheels(h.root, 'newcomer'), ['newcomer/newcomer-0.1-py3-none-any.whl']);
  assert.equal(last.quarantine ?? null, null);
  assert.equal((await readState(createLocalStorage(h.root))).projects['demo']?.quarantine, undefined);
});

test('quarantine_exempt lets one project through', async (t) => {
  const h = await startHarness(t);
  h.fake.addProject('urgent-fix', [wheel('urgent-fix', '1.0', 0)]);
  h.fake.addProject('ordinary', [wheel('ordinary', '1.0', 0)]);
  const report = await h.sync({
    packageMatches: ['urgent-*', 'ordinary'],
    minReleaseAgeMs: 3 * DAY_MS,
    quarantineExempt: ['urgent-*'],
  });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await wheels(h.root, 'urgent-fix'), ['urgent-fix/urgent_fix-1.0-py3-none-any.whl']);
  assert.deepEqual(await wheels(h.root, 'ordinary'), []);
  assert.equal(report.quarantine?.files, 1);
});

test('exclude_newer gives the same set on two runs a release apart', async (t) => {
  const h = await startHarness(t);
  const at = (iso: string) => ({ uploadTime: iso });
  h.fake.addProject('demo', [
    { ...buildWheel({ name: 'demo', version: '1.0' }), ...at('2026-10-01T00:00:00Z') },
  ]);
  h.fake.addProject('other', [
    { ...buildWheel({ name: 'other', version: '3.0' }), ...at('2026-10-15T12:00:00Z') },
  ]);
  const over = { packageMatches: ['demo', 'other'], excludeNewer: '2026-11-01T00:00:00.000Z' };
  await h.sync(over);
  const before = await listTree(h.root);
  const filesOf = async () =>
    (JSON.parse(await readFile(join(h.root, 'demo', 'index.v1_json'), 'utf8')) as { files: unknown[] }).files;
  const pageBefore = await filesOf();
  h.fake.addFile('demo', { ...buildWheel({ name: 'demo', version: '2.0' }), ...at('2026-11-01T00:00:00Z') });
  h.fake.addFile('other', wheel('other', '4.0', 0));
  const report = await h.sync(over);
  assert.deepEqual(report.failures, []);
  assert.equal(report.filesFetched, 0);
  assert.deepEqual(await listTree(h.root), before);
  assert.deepEqual(await filesOf(), pageBefore);
  // exclude_newer is not a quarantine: nothing is held, nothing waits to come in.
  assert.equal(report.quarantine ?? null, null);
});

async function startPlain(t: TestContext, jsonApi: boolean): Promise<FakeUpstream> {
  const fake = await startFakeUpstream({ formats: 'html-only', xmlrpc: false, jsonApi });
  t.after(() => fake.close());
  fake.addProject('plain', [wheel('plain', '1.0', 10 * DAY_MS), wheel('plain', '2.0', 0)]);
  return fake;
}

test('upload times come from the JSON API when the page (PEP 503 HTML) has none', async (t) => {
  const h = await startHarness(t);
  const plain = await startPlain(t, true);
  const report = await h.sync({
    packageMatches: ['plain'],
    upstreams: [upstreamSection('plain', plain, ['plain'], { minReleaseAgeMs: DAY_MS })],
  });
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await wheels(h.root, 'plain'), ['plain/plain-1.0-py3-none-any.whl']);
  assert.equal(report.quarantine?.files, 1);
  assert.ok(plain.requests.some((r) => r.path === '/pypi/plain/json'));
});

test('min_release_age on an upstream that gives no upload times is an error for its projects', async (t) => {
  const h = await startHarness(t);
  const plain = await startPlain(t, false);
  h.fake.addProject('demo', [wheel('demo', '1.0', 10 * DAY_MS)]);
  const report = await h.sync({
    packageMatches: ['demo'],
    upstreams: [upstreamSection('static', plain, ['plain'], { minReleaseAgeMs: DAY_MS })],
  });
  assert.deepEqual(
    report.failures.map((f) => f.project),
    ['plain'],
  );
  assert.match(
    report.failures[0]?.reason ?? '',
    /UPSTREAM_NO_UPLOAD_TIME: \[upstream:static\] gives no upload time for plain-1\.0-py3-none-any\.whl, plain-2\.0-py3-none-any\.whl of plain: .* remove min_release_age from \[upstream:static\]/,
  );
  assert.deepEqual(await wheels(h.root, 'plain'), []);
  // The other upstream's projects are unaffected.
  assert.deepEqual(await wheels(h.root, 'demo'), ['demo/demo-1.0-py3-none-any.whl']);
  // Without the key, the same upstream is mirrored in full.
  const open = await h.sync({
    packageMatches: ['demo'],
    upstreams: [upstreamSection('static', plain, ['plain'])],
  });
  assert.deepEqual(open.failures, []);
  assert.equal((await wheels(h.root, 'plain')).length, 2);
});
