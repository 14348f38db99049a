// The selection keys of issue #11 are scope keys: a change re-plans every project (computeScopeKey) and
// a config edit starts a sync in the daemon; a mirror that sets none keeps the scope key it had before.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Config } from '../../../src/config/types.js';
import { diffConfig } from '../../../src/config-change.js';
import { computeScopeKey } from '../../../src/sync/run.js';
import { makeConfig } from '../../helpers/config.js';

const base = makeConfig({ mirrorRoot: '/m', indexUrl: 'https://pypi.org/simple/', packageMatches: ['demo'] });

test('with every selection key open, the scope key is the one mirrors had before the keys existed', () => {
  const before = [
    base.indexUrl.href,
    base.packageMatches.join('\n'),
    base.filenameMatches.join('\n'),
    base.cleanup,
  ];
  const expected = createHash('sha256').update(JSON.stringify(before)).digest('hex').slice(0, 32);
  assert.equal(computeScopeKey(base), expected);
});

const changes: readonly (readonly [string, Partial<Config>])[] = [
  ['python_versions', { pythonVersions: ['3.11'] }],
  ['platforms', { platforms: ['manylinux_x86_64'] }],
  ['package_types', { packageTypes: ['sdist'] }],
  ['extensions', { extensions: ['whl'] }],
  ['keep_latest', { keepLatest: 2 }],
  ['prereleases', { prereleases: false }],
  ['package_matches', { packageMatches: ['demo<2'] }],
];

for (const [key, over] of changes) {
  test(`a change of ${key} changes the scope key and shows in the daemon's config diff`, () => {
    const after = { ...base, ...over };
    assert.notEqual(computeScopeKey(after), computeScopeKey(base));
    assert.deepEqual(diffConfig(base, after), [key]);
  });
}

test('equal selection keys give equal scope keys, keep_latest 1 and 2 differ', () => {
  const a = { ...base, pythonVersions: ['3.11', '3.12'] };
  assert.equal(computeScopeKey(a), computeScopeKey({ ...base, pythonVersions: ['3.11', '3.12'] }));
  assert.notEqual(computeScopeKey({ ...a, keepLatest: 1 }), computeScopeKey({ ...a, keepLatest: 2 }));
});
