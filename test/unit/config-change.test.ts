import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffConfig } from '../../src/config-change.js';
import { makeConfig } from '../helpers/config.js';

describe('diffConfig', () => {
  const base = makeConfig({ mirrorRoot: '/srv/m', indexUrl: 'https://pypi.org/simple/' });

  it('finds nothing in an equal config', () => {
    assert.deepEqual(
      diffConfig(base, makeConfig({ mirrorRoot: '/srv/m', indexUrl: 'https://pypi.org/simple/' })),
      [],
    );
  });

  it('ignores warnings and the file name', () => {
    assert.deepEqual(diffConfig(base, { ...base, warnings: ['x'], file: '/elsewhere.cfg' }), []);
  });

  it('names the changed keys as the config file spells them', () => {
    const after = {
      ...base,
      mirrorRoot: '/srv/other',
      packageMatches: ['numpy'],
      syncIntervalMs: 1000,
      indexUrl: new URL('https://example.org/simple/'),
      logFile: '/var/log/p.log',
      lockFile: '/run/p.lock',
      metricsFile: '/m.prom',
      timeoutMs: 1,
    };
    assert.deepEqual(diffConfig(base, after), [
      'index_url',
      'lock_file_name',
      'log_filename',
      'metrics_file',
      'mirror_file_path',
      'package_matches',
      'sync_interval',
      'timeout',
    ]);
  });
});
