// Scope keys with several upstreams (issue #12): a mirror with one upstream and no release-time key keeps its
// scope key; an edit to a section re-scopes that section (and the main route only when claims change).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeScopeKey } from '../../../src/sync/run.js';
import { buildRouting, mainScopeKey, wholeScopeKey } from '../../../src/sync/upstreams.js';
import { silentLogger } from '../../../src/log.js';
import { createUpstream } from '../../../src/upstream/simple-api.js';
import { makeConfig } from '../../helpers/config.js';
import { upstreamSection } from '../../helpers/upstream-sections.js';

const base = makeConfig({ mirrorRoot: '/m', indexUrl: 'https://pypi.org/simple/', packageMatches: ['demo'] });
const internal = upstreamSection('internal', 'https://pypi.internal.example/simple/', ['acme-*']);
const withSection = { ...base, upstreams: [internal] };
const client = createUpstream({
  indexUrl: new URL('https://unused.example/'),
  http: { dispatcher: undefined as never, userAgent: 'test' },
  log: silentLogger,
});
const routesOf = (cfg: typeof base) =>
  buildRouting(cfg, client, new Map(cfg.upstreams.map((u) => [u.name, client]))).routes;

test('one upstream, no release-time key: the scope key is the one the mirror had', () => {
  assert.equal(computeScopeKey(base), mainScopeKey(base));
  assert.equal(wholeScopeKey({ ...base, minReleaseAgeMs: null, excludeNewer: null }), mainScopeKey(base));
  assert.notEqual(computeScopeKey({ ...base, minReleaseAgeMs: 1000 }), computeScopeKey(base));
  assert.notEqual(
    computeScopeKey({ ...base, excludeNewer: '2026-11-01T00:00:00.000Z' }),
    computeScopeKey(base),
  );
});

test("a section's transport and quarantine keys re-scope that section only; its claims re-scope the routes after it", () => {
  const [before, mainBefore] = routesOf(withSection);
  const edits = [
    { ...internal, indexUrl: new URL('https://other.example/simple/') },
    { ...internal, minReleaseAgeMs: 86_400_000 },
  ];
  for (const edited of edits) {
    const [after, mainAfter] = routesOf({ ...withSection, upstreams: [edited] });
    assert.notEqual(after?.scopeKey, before?.scopeKey);
    assert.equal(mainAfter?.scopeKey, mainBefore?.scopeKey);
    assert.notEqual(computeScopeKey({ ...withSection, upstreams: [edited] }), computeScopeKey(withSection));
  }
  const timeout = { ...internal, timeoutMs: 1 };
  assert.equal(computeScopeKey({ ...withSection, upstreams: [timeout] }), computeScopeKey(withSection));
  const [claimed, mainClaimed] = routesOf({
    ...withSection,
    upstreams: [{ ...internal, packageMatches: ['acme-core'] }],
  });
  assert.notEqual(claimed?.scopeKey, before?.scopeKey);
  assert.notEqual(mainClaimed?.scopeKey, mainBefore?.scopeKey);
});

test('a project belongs to the first route that selects it; the main route serves the rest', () => {
  const pytorch = upstreamSection('pytorch', 'https://download.pytorch.org/whl/', ['torch', 'acme-torch']);
  const routing = buildRouting(
    { ...base, packageMatches: [], upstreams: [pytorch, internal] },
    client,
    new Map([
      ['pytorch', client],
      ['internal', client],
    ]),
  );
  const owner = (name: string) => routing.ownerOf(name).label;
  assert.equal(owner('torch'), '[upstream:pytorch]');
  assert.equal(owner('acme-torch'), '[upstream:pytorch]');
  assert.equal(owner('acme-core'), '[upstream:internal]');
  assert.equal(owner('requests'), '[mirror] index_url');
  const [, internalRoute, main] = routing.routes;
  assert.equal(internalRoute?.filters.matchNormalizedProject('acme-torch'), false);
  assert.equal(main?.filters.matchNormalizedProject('acme-core'), false);
  assert.equal(main?.filters.matchNormalizedProject('requests'), true);
});
