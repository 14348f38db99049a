// The state as discovery sees it, without a copy per project (issue #14 part 4): with one upstream, the view
// of the state and the selection are the state's own and discovery's own; with a section, the main route's
// view is a copy that leaves out what the section claims and forgets the serial of a project that moved.
// The entries written back are sorted by name in one pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { EMPTY_STATE, type MirroredProject, type MirrorState } from '../../../src/mirror/state.js';
import type { Upstream } from '../../../src/model/upstream.js';
import { NO_DISCOVERY_STATE } from '../../../src/sync/discover-shared.js';
import {
  isStateUnchanged,
  rootEntries,
  RunProjects,
  sortedProjects,
  StoredProjects,
} from '../../../src/sync/state-projects.js';
import { buildRouting, discoverRoutes } from '../../../src/sync/upstreams.js';
import { makeConfig } from '../../helpers/config.js';
import { upstreamSection } from '../../helpers/upstream-sections.js';

/** An upstream whose changelog has nothing since any serial. */
const quiet = {
  fetchChangelogSince: async () => ({ rows: [], supported: true, requests: 1 }),
} as unknown as Upstream;

const base = makeConfig({ mirrorRoot: '/m', indexUrl: 'https://pypi.org/simple/' });

function stateOf(projects: Record<string, MirroredProject>, scopeKey: string | null): MirrorState {
  return {
    ...EMPTY_STATE,
    scopeKey,
    lastSerial: 100,
    projects,
    lastRun: { startedAt: '2026-12-01T00:00:00Z', finishedAt: '2026-12-01T00:00:01Z', ok: true },
    discovery: { ...NO_DISCOVERY_STATE, mode: 'changelog' },
  };
}

const projects: Record<string, MirroredProject> = {
  'acme-core': { displayName: 'acme-core', serial: 7, files: 1 },
  demo: { displayName: 'Demo', serial: 9, files: 2 },
};

test('one upstream: discovery reads the state and its selection as they are, copying no project', async () => {
  const routing = buildRouting(base, quiet);
  const state = stateOf(projects, routing.routes[0]?.scopeKey ?? null);
  const signal = new AbortController().signal;
  const routed = await discoverRoutes({
    routing,
    log: silentLogger,
    cfg: base,
    state,
    signal,
    now: new Date(),
  });
  const [only] = routed.byRoute;
  assert.equal(only?.view.projects, state.projects);
  assert.equal(routed.found.selected, only?.found.selected);
  assert.deepEqual([...routed.found.selected.keys()], ['acme-core', 'demo']);
  assert.deepEqual(routed.found.toSync, []);
  assert.equal(routed.moved.size, 0);
});

test('with a section: the main route sees what is left to it, and a moved project without its serial', async () => {
  const internal = upstreamSection('internal', 'https://pypi.internal.example/simple/', ['acme-*']);
  const cfg = { ...base, upstreams: [internal] };
  const routing = buildRouting(cfg, quiet, new Map([['internal', quiet]]));
  const moved = { ...projects, 'acme-core': { ...(projects['acme-core'] as MirroredProject) } };
  const state = stateOf({ ...moved, other: { displayName: 'other', serial: 3, upstream: 'internal' } }, null);
  const signal = new AbortController().signal;
  const routed = await discoverRoutes({ routing, log: silentLogger, cfg, state, signal, now: new Date() });
  const [section, main] = routed.byRoute;
  assert.deepEqual(Object.keys(section?.view.projects ?? {}), ['acme-core']);
  assert.equal(section?.view.projects['acme-core']?.serial, null, 'came from [mirror]: no serial here');
  assert.deepEqual(main?.view.projects, {
    demo: projects['demo'],
    other: { displayName: 'other', serial: null, upstream: 'internal' },
  });
  assert.deepEqual([...routed.moved].sort(), ['acme-core', 'other']);
});

test('the entries go back sorted by name, in one pass when nothing was added', () => {
  const read = new RunProjects(
    new StoredProjects({ a: { displayName: 'A', serial: 1 }, b: { displayName: 'B', serial: 2 } }),
  );
  assert.deepEqual([...read.keys()], ['a', 'b']);
  read.set('0new', { displayName: '0new', serial: 3 });
  read.set('c', { displayName: 'C', serial: null, isEmpty: true });
  assert.deepEqual(Object.keys(sortedProjects(read)), ['0new', 'a', 'b', 'c']);
  assert.deepEqual(
    rootEntries(read).map((e) => e.displayName),
    ['0new', 'A', 'B'],
    'a project without a page is not on the root page',
  );
});

test('the entries go back sorted by name when the run added names among, before and after those read', () => {
  const read: Record<string, MirroredProject> = {};
  for (let i = 0; i < 200; i += 2)
    read[`p${String(i).padStart(3, '0')}`] = { displayName: `P${i}`, serial: i };
  const run = new RunProjects(new StoredProjects(read));
  // Added in no order: between the names read, before the first, after the last.
  for (const i of [151, 7, 199, 0.5, 63, 250, 1]) {
    run.set(`p${String(i).padStart(3, '0')}`, { displayName: `new ${i}`, serial: 1 });
  }
  run.set('a-first', { displayName: 'first', serial: 1, isEmpty: true });
  run.delete('p010');
  run.set('p020', { displayName: 'changed', serial: 9 });
  const expected = [...run.keys()].sort();
  assert.deepEqual(Object.keys(sortedProjects(run)), expected);
  assert.equal(sortedProjects(run)['p020']?.displayName, 'changed');
  assert.deepEqual(
    rootEntries(run).map((e) => e.name),
    expected.filter((n) => n !== 'a-first'),
  );
});

const a: MirroredProject = { displayName: 'A', serial: 1, files: 1 };
const b: MirroredProject = { displayName: 'B', serial: 2, files: 2 };
/** The entries of state.json as read: an object from JSON, with a name Object.prototype also has. */
const storedEntries = (): Record<string, MirroredProject> =>
  JSON.parse(JSON.stringify({ a, b, constructor: { displayName: 'constructor', serial: 3 } })) as Record<
    string,
    MirroredProject
  >;

test('the entries read are the state object itself, names Object.prototype has included', () => {
  const entries = storedEntries();
  const stored = new StoredProjects(entries);
  assert.equal(stored.size, 3);
  assert.equal(stored.get('a'), entries['a']);
  assert.equal(stored.get('toString'), undefined);
  assert.equal(stored.has('hasOwnProperty'), false);
  assert.equal(stored.get('constructor')?.serial, 3);
  assert.deepEqual([...stored.keys()], ['a', 'b', 'constructor']);
  assert.deepEqual([...stored.values()], Object.values(entries));
});

test("a run's entries: nothing copied until changed; set, removed, added, as a Map would hold them", () => {
  const entries = storedEntries();
  const run = new RunProjects(new StoredProjects(entries));
  assert.equal(run.isAsRead(), true);
  run.set('a', { ...a, serial: 5 });
  run.delete('b');
  run.delete('missing');
  run.set('c', { displayName: 'C', serial: 6 });
  const map = new Map(Object.entries(entries));
  map.set('a', { ...a, serial: 5 });
  map.delete('b');
  map.set('c', { displayName: 'C', serial: 6 });
  assert.deepEqual([...run], [...map]);
  assert.equal(run.size, map.size);
  assert.equal(run.get('b'), undefined);
  assert.equal(run.has('b'), false);
  assert.equal(run.get('c')?.serial, 6);
  assert.equal(run.isAsRead(), false);
  assert.equal(entries['a']?.serial, 1, 'the entries read are never written');
  run.delete('c');
  run.set('b', b);
  assert.equal(run.size, 3);
  assert.deepEqual(
    [...run.keys()],
    ['a', 'b', 'constructor'],
    'a project removed and set again keeps its place',
  );
});

test('a run whose changes each put back the entry read is as read; any other change is not', () => {
  const entries = storedEntries();
  const changedBack = new RunProjects(new StoredProjects(entries));
  changedBack.set('a', { ...a, serial: 9 });
  changedBack.set('a', entries['a'] as MirroredProject);
  changedBack.set('new', { displayName: 'new', serial: 1 });
  changedBack.delete('new');
  assert.equal(changedBack.isAsRead(), true);
  const equalButNew = new RunProjects(new StoredProjects(entries));
  equalButNew.set('a', { ...(entries['a'] as MirroredProject) });
  assert.equal(equalButNew.isAsRead(), false, 'a new entry is written, however equal');
  const removed = new RunProjects(new StoredProjects(entries));
  removed.delete('b');
  assert.equal(removed.isAsRead(), false);
  const swapped = new RunProjects(new StoredProjects(entries));
  swapped.delete('b');
  swapped.set('d', b);
  assert.equal(swapped.size, 3);
  assert.equal(swapped.isAsRead(), false, 'as many entries, not the same ones');
});

test('the state is unchanged only when its entries are as read and its other fields equal', () => {
  const entries = storedEntries();
  const before = stateOf(entries, 'k');
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { projects: _projects, ...rest } = before;
  const later = {
    ...rest,
    lastRun: { startedAt: '2026-12-02T00:00:00Z', finishedAt: '2026-12-02T00:00:01Z', ok: true },
  };
  const run = new RunProjects(new StoredProjects(entries));
  assert.equal(isStateUnchanged(before, run, later), true);
  assert.equal(isStateUnchanged(before, run, { ...later, lastSerial: 101 }), false);
  assert.equal(isStateUnchanged(before, run, { ...later, lastRun: { ...later.lastRun, ok: false } }), false);
  run.set('b', { ...b, serial: null });
  assert.equal(isStateUnchanged(before, run, later), false);
});
