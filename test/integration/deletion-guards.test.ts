// The deletion guards in every discovery mode (issue #10), in-process against the fake upstream: a run that
// would remove more than max_deletions of the mirrored projects is held in changelog, listing-serial and
// literal mode alike; the window counts earlier runs and forgets them once they are older than it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDiscoveryHarness } from '../helpers/discovery-harness.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');
const at = (ms: number): { now: Date } => ({ now: new Date(T0 + ms) });

test('changelog and listing-serial modes: removing 2 of 5 projects is held, then released once', async (t) => {
  for (const xmlrpc of [true, false]) {
    const h = await startDiscoveryHarness(t, { fake: { xmlrpc } });
    seedCatalogue(h.fake);
    await h.sync();
    await h.sync();
    assert.equal((await h.state()).discovery?.mode, xmlrpc ? 'changelog' : 'listing-serial');
    h.fake.removeProject('demo-app');
    h.fake.removeProject('foo_bar');
    const held = await h.sync();
    assert.equal((await h.state()).discovery?.mode, xmlrpc ? 'changelog' : 'listing-serial');
    assert.equal(held.projectsRemoved, 0);
    assert.deepEqual(
      [held.deletionsHeld?.projects, held.deletionsHeld?.selectedProjects],
      [2, 5],
      held.deletionsHeld?.message,
    );
    assert.match(held.deletionsHeld?.message ?? '', /remove 2 of 5 selected projects .*max_deletions = 10%/);
    assert.ok((await listTree(h.root)).includes('demo-app/index.html'));
    assert.equal((await h.state()).deletionsHeld?.projects, 2);
    const released = await h.sync({}, { run: { allowDeletions: true } });
    assert.equal(released.deletionsHeld, null);
    assert.equal(released.projectsRemoved, 2);
    assert.ok(!(await listTree(h.root)).some((f) => f.startsWith('demo-app/')));
    assert.equal((await h.state()).deletionsHeld, null);
  }
  t.diagnostic('cases: 2');
});

test('literal mode: 2 of 3 pages answering 404 are held like a failed listing', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { formats: 'html-only', xmlrpc: false } });
  seedCatalogue(h.fake);
  const literal = { packageMatches: ['demo-lib', 'foo-bar', 'demo-app'] };
  await h.sync(literal);
  h.fake.fail((path) => path === '/simple/foo-bar/' || path === '/simple/demo-app/', { status: 404 });
  const held = await h.sync(literal);
  assert.match(held.deletionsHeld?.message ?? '', /as 2 of the 3 selected projects answered 404/);
  assert.ok((await listTree(h.root)).includes('foo-bar/index.html'));
  assert.equal(h.log.find('deletions held').length, 1);
  t.diagnostic('cases: 1');
});

test('the window: a second removal within max_deletions_window is held; once the first is older, it goes', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { xmlrpc: false } });
  seedCatalogue(h.fake);
  await h.sync({}, at(0));
  h.fake.removeProject('unrelated');
  const first = await h.sync({}, at(HOUR));
  assert.equal(first.projectsRemoved, 1, 'one of five: the floor lets it go');
  assert.deepEqual((await h.state()).removals, [
    { at: new Date(T0 + HOUR).toISOString(), projects: 1, files: 0 },
  ]);
  h.fake.removeProject('demo-app');
  const second = await h.sync({}, at(2 * HOUR));
  assert.match(
    second.deletionsHeld?.message ?? '',
    /with the 1 projects and 0 other files removed since .* would make 2 projects/,
  );
  assert.equal(second.projectsRemoved, 0);
  const later = await h.sync({}, at(HOUR + 7 * 24 * HOUR + 1));
  assert.equal(later.deletionsHeld, null, 'the first removal has left the window');
  assert.equal(later.projectsRemoved, 1);
  assert.equal((await h.state()).removals?.length, 1);
  t.diagnostic('cases: 3');
});
