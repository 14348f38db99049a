import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalVersion,
  compareVersions,
  isPrerelease,
  parsePackageMatch,
  pinnedVersions,
  requiresPythonAllows,
  selectVersions,
  type Release,
  type VersionPolicy,
} from '../../../src/plan/versions.js';

test('PEP 440: canonical forms, order, pre-releases', () => {
  const canonical: [string, string][] = [
    ['1.0.0', '1'],
    ['1.0RC1', '1rc1'],
    ['1.0-post2', '1.post2'],
    ['2.0.dev3', '2.dev3'],
    ['1!2.0', '1!2'],
    ['1.2+Local.7', '1.2+local.7'],
    ['not-a-version', 'not-a-version'],
  ];
  for (const [input, expected] of canonical) assert.equal(canonicalVersion(input), expected, input);
  const ordered = [
    'legacy',
    '1.0.dev1',
    '1.0a1',
    '1.0b2',
    '1.0rc1',
    '1.0',
    '1.0.post1',
    '1.1',
    '2.0',
    '1!0.1',
  ];
  const shuffled = [...ordered].reverse();
  assert.deepEqual(shuffled.sort(compareVersions), ordered);
  for (const v of ['1.0a1', '1.0b2', '1.0rc1', '1.0.dev1']) assert.ok(isPrerelease(v), v);
  for (const v of ['1.0', '1.0.post1', 'legacy']) assert.ok(!isPrerelease(v), v);
  assert.deepEqual(pinnedVersions('==1.2,!=1.3'), ['1.2']);
  assert.deepEqual(pinnedVersions('===1.2b1'), ['1.2b1']);
  assert.deepEqual(pinnedVersions('==1.*'), []);
});

test('Requires-Python: kept when some patch release of a listed version satisfies it', (t) => {
  const v = (s: string) =>
    s
      .split(' ')
      .filter(Boolean)
      .map((x) => ({ major: Number(x.split('.')[0]), minor: Number(x.split('.')[1]) }));
  const cases: [string | null, string, boolean][] = [
    [null, '3.11', true],
    ['', '3.11', true],
    ['>=3.8', '3.11', true],
    ['>=3.12', '3.11', false],
    ['>=3.12', '3.11 3.12', true],
    ['>=3.11.2', '3.11', true],
    ['>3.11', '3.11', true], // 3.11.1 > 3.11
    ['<=3.10.99', '3.11', false],
    ['<3.11.1', '3.11', true],
    ['==3.11.4', '3.11', true],
    ['>=3.11.2,<3.11.3', '3.11', true],
    ['>=3.11.2,<3.11.2', '3.11', false],
    ['!=3.11.*', '3.11', false],
    ['~=3.10', '3.11', true],
    ['~=3.10.0', '3.11', false],
    ['>=2.7,!=3.0.*,!=3.1.*,!=3.2.*', '2.7', true],
    ['>=3', '2.7', false],
    ['>=3.6.*', '2.7', true], // invalid: ignored
    ['>=99', '', true], // open dimension
  ];
  for (const [spec, versions, expected] of cases) {
    assert.equal(requiresPythonAllows(spec, v(versions)), expected, `${spec} for ${versions}`);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('package_matches entries: a name or glob, then an optional specifier', (t) => {
  const cases: [string, object][] = [
    ['requests>=2.30', { pattern: 'requests', isExclude: false, isGlob: false, specifier: '>=2.30' }],
    ['numpy<2', { pattern: 'numpy', isExclude: false, isGlob: false, specifier: '<2' }],
    [
      'numpy < 2, != 1.25.0',
      { pattern: 'numpy', isExclude: false, isGlob: false, specifier: '< 2, != 1.25.0' },
    ],
    ['zope.*', { pattern: 'zope.*', isExclude: false, isGlob: true, specifier: '' }],
    ['Foo_Bar', { pattern: 'Foo_Bar', isExclude: false, isGlob: false, specifier: '' }],
    ['django==4.2.*', { pattern: 'django', isExclude: false, isGlob: false, specifier: '==4.2.*' }],
    ['!*-nightly', { pattern: '*-nightly', isExclude: true, isGlob: true, specifier: '' }],
    ['foo[ab]', { pattern: 'foo[ab]', isExclude: false, isGlob: true, specifier: '' }],
    ['zope.*>=1', { error: 'a version specifier only after a project name, not after the glob "zope.*"' }],
    ['!foo>=1', { error: 'no version specifier on an exclusion ("!foo")' }],
    [
      'requests>=two',
      { error: 'a PEP 440 version specifier like >=2.30 or <2 after "requests", not ">=two"' },
    ],
    ['requests 2.0', { error: 'a PEP 440 version specifier like >=2.30 or <2 after "requests", not "2.0"' }],
    ['>=1.0', { error: 'a project name or glob, optionally followed by a version specifier' }],
  ];
  for (const [entry, expected] of cases) assert.deepEqual(parsePackageMatch(entry), expected, entry);
  t.diagnostic(`cases: ${cases.length}`);
});

const RELEASES: Release[] = [
  { version: '1.0', isYanked: false },
  { version: '1.1', isYanked: false },
  { version: '1.2', isYanked: false },
  { version: '2.0rc1', isYanked: false },
  { version: '2.0', isYanked: true },
  { version: '2.1.dev1', isYanked: false },
  { version: '1.3', isYanked: false },
  { version: 'wobbly', isYanked: false },
];

test('keep_latest, prereleases, yanked releases, specifiers and pins', (t) => {
  const all: VersionPolicy = { keepLatest: null, prereleases: true };
  const cases: [string, string[], VersionPolicy, string[]][] = [
    [
      'no filter keeps everything, legacy too',
      [],
      all,
      ['2.1.dev1', '2.0', '2.0rc1', '1.3', '1.2', '1.1', '1.0', 'wobbly'],
    ],
    [
      'prereleases = false',
      [],
      { keepLatest: null, prereleases: false },
      ['2.0', '1.3', '1.2', '1.1', '1.0'],
    ],
    [
      'keep_latest = 2 skips the yanked 2.0 and counts pre-releases when allowed',
      [],
      { keepLatest: 2, prereleases: true },
      ['2.1.dev1', '2.0rc1'],
    ],
    ['keep_latest = 2, prereleases = false', [], { keepLatest: 2, prereleases: false }, ['1.3', '1.2']],
    [
      'a specifier narrows first, then keep_latest counts inside it',
      ['<1.3'],
      { keepLatest: 1, prereleases: false },
      ['1.2'],
    ],
    ['a pin beats keep_latest', ['==1.0'], { keepLatest: 1, prereleases: false }, ['1.0']],
    [
      'two specifiers keep their own latest',
      ['<1.2', '>=1.2'],
      { keepLatest: 1, prereleases: false },
      ['1.3', '1.1'],
    ],
    [
      'a plain entry and a pin: the latest and the pin',
      ['', '==1.1'],
      { keepLatest: 1, prereleases: false },
      ['1.3', '1.1'],
    ],
    ['a pin keeps a yanked release', ['==2.0'], { keepLatest: 1, prereleases: false }, ['2.0']],
    ['a pin names a pre-release', ['==2.0rc1'], { keepLatest: null, prereleases: false }, ['2.0rc1']],
    [
      'a specifier naming a pre-release allows them',
      ['>=2.0rc1'],
      { keepLatest: null, prereleases: false },
      ['2.1.dev1', '2.0', '2.0rc1'],
    ],
    [
      'without keep_latest a yanked release in range stays',
      ['>=1.3'],
      { keepLatest: null, prereleases: false },
      ['2.0', '1.3'],
    ],
    ['== wildcard is not a pin', ['==1.*'], { keepLatest: 1, prereleases: false }, ['1.3']],
    ['~= compatible release', ['~=1.1'], { keepLatest: null, prereleases: false }, ['1.3', '1.2', '1.1']],
    ['nothing matches', ['>=5'], all, []],
  ];
  for (const [name, specifiers, policy, expected] of cases) {
    assert.deepEqual(selectVersions(RELEASES, specifiers, policy), expected, name);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('keep_latest counts releases, not spellings: 1.0 and 1.0.0 are one pin', () => {
  const releases: Release[] = [
    { version: '1.0.0', isYanked: true },
    { version: '0.9', isYanked: false },
  ];
  assert.deepEqual(selectVersions(releases, ['==1.0'], { keepLatest: 1, prereleases: false }), ['1.0.0']);
  assert.deepEqual(selectVersions(releases, [''], { keepLatest: 1, prereleases: false }), ['0.9']);
});
