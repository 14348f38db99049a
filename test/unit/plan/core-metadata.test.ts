import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseMetadataSource,
  dependenciesFromMetadata,
  isDependencyAuthoritative,
  parseCoreMetadata,
  type MetadataSource,
} from '../../../src/plan/core-metadata.js';

const WHEEL_METADATA = [
  'Metadata-Version: 2.1',
  'Name: fakepkg-alpha',
  'Version: 1.1',
  'Summary: A test package',
  'Requires-Python: >=3.8',
  'License: MIT',
  '  with a folded second line',
  'requires-dist: fakepkg-beta>=1.0',
  'Requires-Dist: fakepkg-win; sys_platform == "win32"',
  'Requires-Dist: fakepkg-extra; extra == "extra1"',
  'Requires-Dist: not a requirement !!',
  'Provides-Extra: extra1',
  '',
  'Requires-Dist: in-the-description-body',
  'Long description.',
].join('\r\n');

test('core metadata: header fields, multi-use fields, folded lines, the body ignored', () => {
  const meta = parseCoreMetadata(WHEEL_METADATA);
  assert.deepEqual(meta, {
    metadataVersion: '2.1',
    name: 'fakepkg-alpha',
    version: '1.1',
    requiresDist: [
      'fakepkg-beta>=1.0',
      'fakepkg-win; sys_platform == "win32"',
      'fakepkg-extra; extra == "extra1"',
      'not a requirement !!',
    ],
    requiresPython: '>=3.8',
    providesExtra: ['extra1'],
    dynamic: [],
  });
  const deps = dependenciesFromMetadata(meta, 'wheel');
  assert.deepEqual(
    deps?.requirements.map((r) => r.project),
    ['fakepkg-beta', 'fakepkg-win', 'fakepkg-extra'],
  );
  assert.deepEqual(
    deps?.invalid.map((i) => i.text),
    ['not a requirement !!'],
  );
});

test('an sdist PKG-INFO states dependencies only from Metadata-Version 2.2 without Dynamic Requires-Dist', (t) => {
  const pkgInfo = (version: string, dynamic: string[] = []): string =>
    [
      `Metadata-Version: ${version}`,
      'Name: demo',
      'Version: 1.0',
      ...dynamic.map((d) => `Dynamic: ${d}`),
      'Requires-Dist: six',
    ].join('\n');
  const cases: [string, MetadataSource, boolean][] = [
    [pkgInfo('2.1'), 'sdist', false],
    [pkgInfo('1.0'), 'sdist', false],
    [pkgInfo('2.2'), 'sdist', true],
    [pkgInfo('2.4'), 'sdist', true],
    [pkgInfo('2.10'), 'sdist', true],
    [pkgInfo('3.0'), 'sdist', true],
    [pkgInfo('2.2', ['Requires-Dist']), 'sdist', false],
    [pkgInfo('2.3', ['license', 'requires-dist']), 'sdist', false],
    [pkgInfo('2.3', ['Requires-Python']), 'sdist', true],
    [pkgInfo('2.1'), 'wheel', true],
    ['Name: no-version', 'sdist', false],
  ];
  for (const [text, source, expected] of cases) {
    const meta = parseCoreMetadata(text);
    assert.equal(
      isDependencyAuthoritative(meta, source),
      expected,
      `${source}: ${text.split('\n')[0]} ${meta.dynamic.join(',')}`,
    );
    assert.equal(dependenciesFromMetadata(meta, source) === null, !expected);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('where to read a release dependencies from: wheels first, PEP 658 before the archive', (t) => {
  const f = (filename: string, pep658 = false) => ({
    filename,
    coreMetadata: pep658 ? { sha256: 'ab' } : null,
  });
  const cases: [ReturnType<typeof f>[], object | null][] = [
    [
      [f('demo-1.0.tar.gz', true), f('demo-1.0-py3-none-any.whl', true)],
      { filename: 'demo-1.0-py3-none-any.whl', via: 'pep658', source: 'wheel' },
    ],
    [
      [f('demo-1.0.tar.gz', true), f('demo-1.0-py3-none-any.whl')],
      { filename: 'demo-1.0-py3-none-any.whl', via: 'archive', source: 'wheel' },
    ],
    [
      [f('demo-1.0-cp312-cp312-win_amd64.whl'), f('demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl', true)],
      { filename: 'demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl', via: 'pep658', source: 'wheel' },
    ],
    [[f('demo-1.0.tar.gz', true)], { filename: 'demo-1.0.tar.gz', via: 'pep658', source: 'sdist' }],
    [[f('demo-1.0.zip')], { filename: 'demo-1.0.zip', via: 'archive', source: 'sdist' }],
    [[f('demo-1.0.tar.bz2'), f('demo-1.0-py2.7.egg'), f('demo-1.0.linux-x86_64.tar.gz')], null],
    [[], null],
  ];
  for (const [files, expected] of cases) {
    assert.deepEqual(chooseMetadataSource(files), expected, files.map((x) => x.filename).join(' '));
  }
  t.diagnostic(`cases: ${cases.length}`);
});
