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
import { projectMap, rootEntries, sortedProjects } from '../../../src/sync/state-projects.js';
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
  const read = projectMap({ a: { displayName: 'A', serial: 1 }, b: { displayName: 'B', serial: 2 } });
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
