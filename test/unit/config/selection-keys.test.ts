// The selection keys of issue #11 in the config file: python_versions, platforms, package_types,
// extensions, keep_latest, prereleases and version specifiers in package_matches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConfig } from '../../../src/config/describe.js';
import { parseIni } from '../../../src/config/parse-ini.js';
import { describeFileSelection, splitPackageMatches } from '../../../src/config/selection-keys.js';
import type { Config } from '../../../src/config/types.js';
import { validateConfig } from '../../../src/config/validate.js';
import { ConfigError } from '../../../src/errors.js';
import { EXTENSIONS_EXPECTED, PACKAGE_TYPES_EXPECTED } from '../../../src/plan/filetypes.js';
import { PLATFORMS_EXPECTED, PYTHON_VERSIONS_EXPECTED } from '../../../src/plan/tags.js';

const FILE = '/etc/pypimirror/mirror.cfg';

function readConfig(text: string): Config {
  const { raw, issues } = parseIni(text, FILE);
  return validateConfig(raw, { cwd: '/work', parseIssues: issues });
}

const withKey = (key: string, value: string): string =>
  `[mirror]\nmirror_file_path = /srv/pypi\n${key} = ${value}\n`;

describe('selection keys: values', () => {
  it('reads a microrepo-style config: lists of words, keep_latest, prereleases, processes', () => {
    const cfg = readConfig(
      '[mirror]\nmirror_file_path = /m\npython_versions = 3.11 cp312\n  py2.py3\n' +
        'platforms = manylinux_x86_64 win_amd64\npackage_types = sdist bdist_wheel\n' +
        'extensions = whl tar.gz\nkeep_latest = 2\nprereleases = no\nprocesses = 3\n',
    );
    assert.deepEqual(
      {
        pythonVersions: cfg.pythonVersions,
        platforms: cfg.platforms,
        packageTypes: cfg.packageTypes,
        extensions: cfg.extensions,
        keepLatest: cfg.keepLatest,
        prereleases: cfg.prereleases,
        workers: cfg.workers,
      },
      {
        pythonVersions: ['3.11', 'cp312', 'py2.py3'],
        platforms: ['manylinux_x86_64', 'win_amd64'],
        packageTypes: ['sdist', 'bdist_wheel'],
        extensions: ['whl', 'tar.gz'],
        keepLatest: 2,
        prereleases: false,
        workers: 3,
      },
    );
  });

  it('leaves every key open by default, prereleases on, keep_latest empty = every release', () => {
    const cfg = readConfig('[mirror]\nmirror_file_path = /m\nkeep_latest =\n');
    assert.deepEqual(
      [cfg.pythonVersions, cfg.platforms, cfg.packageTypes, cfg.extensions, cfg.keepLatest, cfg.prereleases],
      [[], [], [], [], null, true],
    );
  });

  it('keeps a version specifier with its project name in package_matches, however it is spaced', () => {
    const cfg = readConfig(
      withKey(
        'package_matches',
        'requests >= 2.30, <3 numpy<2\n  zope.*  !zope.app.*\n  six != 1.0 Foo_[ab]?',
      ),
    );
    assert.deepEqual(cfg.packageMatches, [
      'requests>=2.30,<3',
      'numpy<2',
      'zope.*',
      '!zope.app.*',
      'six!=1.0',
      'Foo_[ab]?',
    ]);
  });

  const splits: readonly (readonly [string, readonly string[]])[] = [
    ['a b', ['a', 'b']],
    ['a>=1 b', ['a>=1', 'b']],
    ['a >=1', ['a>=1']],
    ['a>= 1', ['a>=1']],
    ['a>=1, <2', ['a>=1,<2']],
    ['a>=1 ,<2', ['a>=1,<2']],
    ['a ~= 1.2 !b', ['a~=1.2', '!b']],
    ['a !=1', ['a!=1']],
    ['zope.*, plone.*', ['zope.*,', 'plone.*']],
    ['a==1.* b===2', ['a==1.*', 'b===2']],
  ];
  for (const [text, entries] of splits) {
    it(`splits package_matches "${text}"`, () => assert.deepEqual(splitPackageMatches(text), entries));
  }
});

describe('selection keys: every bad value names file, line, key, value and what was expected', () => {
  const cases: readonly { key: string; value: string; bad: string; expected: string }[] = [
    { key: 'python_versions', value: '3.11 python3', bad: 'python3', expected: PYTHON_VERSIONS_EXPECTED },
    { key: 'python_versions', value: '3', bad: '3', expected: PYTHON_VERSIONS_EXPECTED },
    { key: 'python_versions', value: '3.11,3.12', bad: '3.11,3.12', expected: PYTHON_VERSIONS_EXPECTED },
    { key: 'platforms', value: 'linux', bad: 'linux', expected: PLATFORMS_EXPECTED },
    {
      key: 'platforms',
      value: 'win_amd64 windows',
      bad: 'windows',
      expected: PLATFORMS_EXPECTED,
    },
    { key: 'package_types', value: 'sdist wheel', bad: 'wheel', expected: PACKAGE_TYPES_EXPECTED },
    { key: 'extensions', value: 'whl *.gz', bad: '*.gz', expected: EXTENSIONS_EXPECTED },
    { key: 'keep_latest', value: '0', bad: '0', expected: 'a whole number from 1 to 1000000' },
    { key: 'keep_latest', value: 'two', bad: 'two', expected: 'a whole number from 1 to 1000000' },
    { key: 'keep_latest', value: '-1', bad: '-1', expected: 'a whole number from 1 to 1000000' },
    { key: 'prereleases', value: 'maybe', bad: 'maybe', expected: 'true/false, yes/no, on/off or 1/0' },
    {
      key: 'package_matches',
      value: 'requests>=two',
      bad: 'requests>=two',
      expected: 'a PEP 440 version specifier like >=2.30 or <2 after "requests", not ">=two"',
    },
    {
      key: 'package_matches',
      value: 'zope.*>=1',
      bad: 'zope.*>=1',
      expected: 'a version specifier only after a project name, not after the glob "zope.*"',
    },
    {
      key: 'package_matches',
      value: '!numpy<2',
      bad: '!numpy<2',
      expected: 'no version specifier on an exclusion ("!numpy")',
    },
    {
      key: 'package_matches',
      value: 'numpy<2 req/uests',
      bad: 'req/uests',
      expected: 'a glob on project names: letters, digits, ".", "_", "-" and the glob characters * ? [ ] !',
    },
  ];
  for (const c of cases) {
    it(`${c.key} = ${c.value}`, () => {
      assert.throws(
        () => readConfig(withKey(c.key, c.value)),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.code, 'CONFIG_INVALID');
          assert.deepEqual(err.issues, [
            {
              file: FILE,
              line: 3,
              section: 'mirror',
              key: c.key,
              value: c.bad,
              expected: `expected ${c.expected}`,
            },
          ]);
          assert.match(err.message, new RegExp(`mirror\\.cfg:3: \\[mirror\\] ${c.key} = "`));
          return true;
        },
      );
    });
  }
});

describe('selection keys: check', () => {
  const text =
    '[mirror]\nmirror_file_path = /m\npackage_matches = requests >= 2.30 zope.*\n' +
    'python_versions = 3.11 3.12\nplatforms = manylinux_x86_64\npackage_types = sdist bdist_wheel\n' +
    'extensions = whl tar.gz\nkeep_latest = 2\nprereleases = false\n';

  it('describeConfig prints every selection key and reads back to the same Config', () => {
    const cfg = readConfig(text);
    const shown = describeConfig(cfg);
    for (const line of [
      'package_matches =\n    requests>=2.30\n    zope.*',
      'python_versions =\n    3.11\n    3.12',
      'platforms =\n    manylinux_x86_64',
      'package_types =\n    sdist\n    bdist_wheel',
      'extensions =\n    whl\n    tar.gz',
      'keep_latest = 2',
      'prereleases = false',
    ]) {
      assert.ok(shown.includes(line), `${line} in\n${shown}`);
    }
    const again = readConfig(shown);
    assert.deepEqual({ ...again, indexUrl: again.indexUrl.href }, { ...cfg, indexUrl: cfg.indexUrl.href });
  });

  it('describeFileSelection says what the keys keep, and nothing when every key is open', () => {
    assert.deepEqual(describeFileSelection(readConfig(text)), [
      '#   for Python 3.11 3.12 (wheels it installs, files whose Requires-Python allows it)',
      '#   on platforms manylinux_x86_64 (pure -any wheels on every platform)',
      '#   package types: sdist bdist_wheel',
      '#   extensions: whl tar.gz',
      '#   the 2 latest releases of each project (and every release a version specifier pins)',
      '#   no pre-releases, unless a version specifier names one',
    ]);
    assert.deepEqual(describeFileSelection(readConfig('[mirror]\nmirror_file_path = /m\n')), []);
  });
});
