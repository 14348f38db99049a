import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileFileSelection,
  selectProjectFiles,
  type FileRejection,
} from '../../../src/plan/file-selection.js';
import { binarySdistName, fileKind, isExtension, isPackageType } from '../../../src/plan/filetypes.js';

/** [file name, package type, extension, python label, platform tag] */
const KINDS: [string, string | null, string, string, string | null][] = [
  ['requests-2.31.0-py3-none-any.whl', 'bdist_wheel', 'whl', 'py3', null],
  ['six-1.16.0-py2.py3-none-any.whl', 'bdist_wheel', 'whl', 'py2.py3', null],
  ['requests-2.31.0.tar.gz', 'sdist', 'gz', 'source', null],
  ['pytz-2013b.tar.bz2', 'sdist', 'bz2', 'source', null],
  ['setuptools-0.6c11.zip', 'sdist', 'zip', 'source', null],
  ['foo_bar-1.0.tgz', 'sdist', 'tgz', 'source', null],
  ['zope.interface-3.6.1.tar.gz', 'sdist', 'gz', 'source', null],
  ['backports.lzma-0.0.14.tar.xz', 'sdist', 'xz', 'source', null],
  ['setuptools-0.6c11-py2.7.egg', 'bdist_egg', 'egg', '2.7', 'any'],
  ['lxml-2.3-py2.7-win32.egg', 'bdist_egg', 'egg', '2.7', 'win32'],
  ['pycrypto-2.6-py2.7-linux-x86_64.egg', 'bdist_egg', 'egg', '2.7', 'linux_x86_64'],
  ['psutil-0.6.1-py2.7-macosx-10.8-intel.egg', 'bdist_egg', 'egg', '2.7', 'macosx_10_8_intel'],
  ['pywin32-214.win32-py2.7.exe', 'bdist_wininst', 'exe', '2.7', 'win32'],
  ['numpy-1.9.0.win-amd64-py3.4.exe', 'bdist_wininst', 'exe', '3.4', 'win_amd64'],
  ['pyreadline-2.0.win32.exe', 'bdist_wininst', 'exe', 'any', 'win32'],
  ['psycopg2-2.4.win32-py2.7.msi', 'bdist_msi', 'msi', '2.7', 'win32'],
  ['foo-1.0.linux-x86_64.tar.gz', 'bdist_dumb', 'gz', 'any', 'linux_x86_64'],
  ['foo-1.0.win32.zip', 'bdist_dumb', 'zip', 'any', 'win32'],
  ['foo-1.0.macosx-10.6-universal.tar.gz', 'bdist_dumb', 'gz', 'any', 'macosx_10_6_universal'],
  ['foo-1.0-1.noarch.rpm', 'bdist_rpm', 'rpm', 'any', 'any'],
  ['foo-1.0-py2.7-macosx10.5.dmg', 'bdist_dmg', 'dmg', '2.7', 'any'],
  ['README.txt', null, 'txt', 'any', null],
];

test('file kinds from names: package type, extension, microrepo python label, platform', (t) => {
  for (const [name, packageType, extension, pythonLabel, platformTag] of KINDS) {
    const kind = fileKind(name);
    assert.deepEqual(
      [kind.packageType, kind.extension, kind.pythonLabel, kind.platformTag],
      [packageType, extension, pythonLabel, platformTag],
      name,
    );
  }
  t.diagnostic(`cases: ${KINDS.length}`);
});

test('package_types and extensions values', () => {
  for (const v of [
    'sdist',
    'bdist_wheel',
    'BDIST_EGG',
    'bdist_wininst',
    'bdist_msi',
    'bdist_dumb',
    'bdist_rpm',
  ]) {
    assert.ok(isPackageType(v), v);
  }
  for (const v of ['wheel', 'egg', 'bdist']) assert.ok(!isPackageType(v), v);
  for (const v of ['whl', '.gz', 'tar.gz', 'EXE']) assert.ok(isExtension(v), v);
  for (const v of ['', '*.whl', 'tar gz', '.']) assert.ok(!isExtension(v), v);
});

interface Row {
  readonly file: string;
  readonly requiresPython?: string;
  readonly expected: FileRejection | null;
}

function check(
  t: { diagnostic(message: string): void },
  keys: Partial<Record<string, string>>,
  rows: readonly Row[],
): void {
  const split = (v: string | undefined): string[] => (v ?? '').split(' ').filter(Boolean);
  const selection = compileFileSelection({
    pythonVersions: split(keys['python_versions']),
    platforms: split(keys['platforms']),
    packageTypes: split(keys['package_types']),
    extensions: split(keys['extensions']),
  });
  for (const row of rows) {
    assert.equal(
      selection.reject(row.file, row.requiresPython ?? null),
      row.expected,
      `${row.file} (${row.requiresPython ?? 'no Requires-Python'}) with ${JSON.stringify(keys)}`,
    );
  }
  t.diagnostic(`cases: ${rows.length}`);
}

test('python_versions: wheels by tag, eggs and installers by their pyX.Y, sdists never', (t) => {
  check(t, { python_versions: '3.11 3.12' }, [
    { file: 'numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', expected: null },
    {
      file: 'numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      expected: 'python_versions',
    },
    { file: 'cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl', expected: null },
    { file: 'six-1.16.0-py2.py3-none-any.whl', expected: null },
    { file: 'futures-3.4.0-py2-none-any.whl', expected: 'python_versions' },
    { file: 'demo-1.0-cp312-none-any.whl', expected: null },
    { file: 'setuptools-0.6c11-py2.7.egg', expected: 'python_versions' },
    { file: 'pywin32-214.win32-py2.7.exe', expected: 'python_versions' },
    { file: 'pyreadline-2.0.win32.exe', expected: null },
    { file: 'Django-1.4.tar.gz', expected: null },
    { file: 'setuptools-0.6c11.zip', expected: null },
  ]);
  check(t, { python_versions: '2.7' }, [
    { file: 'setuptools-0.6c11-py2.7.egg', expected: null },
    { file: 'pywin32-214.win32-py2.7.exe', expected: null },
    { file: 'numpy-1.9.0.win-amd64-py3.4.exe', expected: 'python_versions' },
    { file: 'futures-3.4.0-py2-none-any.whl', expected: null },
    { file: 'old-1.0-cp27-cp27mu-manylinux1_x86_64.whl', expected: null },
    { file: 'attrs-23.2.0-py3-none-any.whl', expected: 'python_versions' },
  ]);
  // microrepo's own sample: cp310 py3 py2.py3 py3.10 py310 any
  check(t, { python_versions: 'cp310 py3 py2.py3 py3.10 py310 any' }, [
    { file: 'demo-1.0-cp310-cp310-win_amd64.whl', expected: null },
    { file: 'demo-1.0-py3-none-any.whl', expected: null },
    { file: 'demo-1.0-cp39-cp39-win_amd64.whl', expected: 'python_versions' },
    { file: 'pyreadline-2.0.win32.exe', expected: null },
    { file: 'demo-1.0.tar.gz', expected: null },
  ]);
});

test('platforms: wheels by tag, eggs and installers by their platform, pure and source files always', (t) => {
  check(t, { platforms: 'manylinux_x86_64 musllinux_x86_64 win_amd64 macosx_arm64' }, [
    { file: 'demo-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', expected: null },
    { file: 'demo-1.0-cp312-cp312-musllinux_1_2_x86_64.whl', expected: null },
    { file: 'demo-1.0-cp312-cp312-musllinux_1_2_aarch64.whl', expected: 'platforms' },
    { file: 'demo-1.0-cp312-cp312-win32.whl', expected: 'platforms' },
    { file: 'demo-1.0-cp312-cp312-macosx_10_9_universal2.whl', expected: null },
    { file: 'demo-1.0-cp312-cp312-macosx_10_9_x86_64.whl', expected: 'platforms' },
    { file: 'demo-1.0-py3-none-any.whl', expected: null },
    { file: 'lxml-2.3-py2.7-win32.egg', expected: 'platforms' },
    { file: 'setuptools-0.6c11-py2.7.egg', expected: null },
    { file: 'numpy-1.9.0.win-amd64-py3.4.exe', expected: null },
    { file: 'pywin32-214.win32-py2.7.exe', expected: 'platforms' },
    { file: 'foo-1.0.linux-x86_64.tar.gz', expected: null },
    { file: 'requests-2.31.0.tar.gz', expected: null },
  ]);
  check(t, { python_versions: '3.12', platforms: 'any' }, [
    { file: 'demo-1.0-py3-none-any.whl', expected: null },
    { file: 'demo-1.0-cp312-cp312-win_amd64.whl', expected: 'platforms' },
    { file: 'demo-1.0-cp311-cp311-win_amd64.whl', expected: 'python_versions' },
    { file: 'demo-1.0.tar.gz', expected: null },
  ]);
});

test('package_types and extensions, which may drop sdists', (t) => {
  check(t, { package_types: 'sdist bdist_wheel' }, [
    { file: 'requests-2.31.0.tar.gz', expected: null },
    { file: 'requests-2.31.0-py3-none-any.whl', expected: null },
    { file: 'setuptools-0.6c11-py2.7.egg', expected: 'package_types' },
    { file: 'pywin32-214.win32-py2.7.exe', expected: 'package_types' },
    { file: 'psycopg2-2.4.win32-py2.7.msi', expected: 'package_types' },
    { file: 'foo-1.0.linux-x86_64.tar.gz', expected: 'package_types' },
    { file: 'README.txt', expected: 'package_types' },
  ]);
  check(t, { package_types: 'bdist_wheel' }, [{ file: 'requests-2.31.0.tar.gz', expected: 'package_types' }]);
  check(t, { extensions: 'whl gz' }, [
    { file: 'requests-2.31.0-py3-none-any.whl', expected: null },
    { file: 'requests-2.31.0.tar.gz', expected: null },
    { file: 'setuptools-0.6c11.zip', expected: 'extensions' },
    { file: 'foo_bar-1.0.tgz', expected: 'extensions' },
    { file: 'setuptools-0.6c11-py2.7.egg', expected: 'extensions' },
  ]);
  check(t, { extensions: '.tar.gz exe' }, [
    { file: 'requests-2.31.0.tar.gz', expected: null },
    { file: 'pytz-2013b.tar.bz2', expected: 'extensions' },
    { file: 'pywin32-214.win32-py2.7.exe', expected: null },
  ]);
});

test('Requires-Python against the listed versions, at any patch level', (t) => {
  check(t, { python_versions: '3.11' }, [
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.8', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.12', expected: 'requires_python' },
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.11.2', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.11.2,<3.11.5', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '<3.11', expected: 'requires_python' },
    { file: 'demo-1.0.tar.gz', requiresPython: '!=3.11.*,>=3.7', expected: 'requires_python' },
    { file: 'demo-1.0.tar.gz', requiresPython: '~=3.10', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '>=2.7, !=3.0.*, !=3.1.*', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.6.*', expected: null }, // invalid: ignored, as pip does
    { file: 'demo-1.0-py3-none-any.whl', requiresPython: '>=3.12', expected: 'requires_python' },
  ]);
  check(t, { python_versions: '3.11 3.12' }, [
    { file: 'demo-1.0.tar.gz', requiresPython: '>=3.12', expected: null },
    { file: 'demo-1.0.tar.gz', requiresPython: '!=3.11.*,>=3.7', expected: null },
  ]);
  check(t, { platforms: 'win_amd64' }, [{ file: 'demo-1.0.tar.gz', requiresPython: '>=4', expected: null }]);
});

test('per project: file filters, then version filters among the releases left', () => {
  const up = (filename: string, yanked: string | null = null, requiresPython: string | null = null) => ({
    filename,
    yanked,
    requiresPython,
  });
  const files = [
    up('demo-2.0-cp312-cp312-win_amd64.whl'),
    up('demo-2.0.tar.gz', null, '>=3.13'),
    up('demo-1.9-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'broken'),
    up('demo-1.9.tar.gz', 'broken'),
    up('demo-1.8.0-cp312-cp312-manylinux_2_17_x86_64.whl'),
    up('demo-1.8.tar.gz'),
    up('demo-1.7-py2.7.egg'),
    up('demo-1.7.win32-py2.7.exe'),
    up('demo-1.7.tar.gz'),
    up('demo-2.1rc1.tar.gz'),
    up('demo.txt'),
  ];
  const selection = compileFileSelection({
    pythonVersions: ['3.12'],
    platforms: ['manylinux_x86_64'],
    packageTypes: [],
    extensions: [],
  });
  const latest = selectProjectFiles('demo', files, selection, [''], { keepLatest: 1, prereleases: false });
  assert.deepEqual(latest.releases, [
    { version: '1.9', isYanked: true },
    { version: '1.8.0', isYanked: false },
    { version: '1.7', isYanked: false },
    { version: '2.1rc1', isYanked: false },
  ]);
  assert.deepEqual(latest.versions, ['1.8.0']);
  assert.deepEqual([...latest.files].sort(), [
    'demo-1.8.0-cp312-cp312-manylinux_2_17_x86_64.whl',
    'demo-1.8.tar.gz',
  ]);
  assert.deepEqual(Object.fromEntries(latest.rejected), {
    'demo-2.0-cp312-cp312-win_amd64.whl': 'platforms',
    'demo-2.0.tar.gz': 'requires_python',
    'demo-1.9-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl': 'versions',
    'demo-1.9.tar.gz': 'versions',
    'demo-1.7-py2.7.egg': 'python_versions',
    'demo-1.7.win32-py2.7.exe': 'python_versions',
    'demo-1.7.tar.gz': 'versions',
    'demo-2.1rc1.tar.gz': 'versions',
    'demo.txt': 'versions',
  });
  const pinned = selectProjectFiles(
    'demo',
    files,
    compileFileSelection({ pythonVersions: [], platforms: [], packageTypes: [], extensions: [] }),
    ['==1.7'],
    { keepLatest: 1, prereleases: false },
  );
  assert.deepEqual([...pinned.files].sort(), [
    'demo-1.7-py2.7.egg',
    'demo-1.7.tar.gz',
    'demo-1.7.win32-py2.7.exe',
  ]);
  const everything = selectProjectFiles(
    'demo',
    files,
    compileFileSelection({ pythonVersions: [], platforms: [], packageTypes: [], extensions: [] }),
    [],
    { keepLatest: null, prereleases: true },
  );
  assert.equal(everything.files.size, files.length);
  assert.equal(everything.rejected.size, 0);
});

test('installer and dumb binary names map to the sdist name of their release', () => {
  const cases: [string, string][] = [
    ['pywin32-214.win32-py2.7.exe', 'pywin32-214.tar.gz'],
    ['numpy-1.9.0.win-amd64-py3.4.msi', 'numpy-1.9.0.tar.gz'],
    ['pyreadline-2.0.win32.exe', 'pyreadline-2.0.tar.gz'],
    ['foo-1.0.linux-x86_64.tar.gz', 'foo-1.0.tar.gz'],
    ['foo-1.0.win32.zip', 'foo-1.0.tar.gz'],
    ['foo-1.0.tar.gz', 'foo-1.0.tar.gz'],
    ['foo-1.0-py3-none-any.whl', 'foo-1.0-py3-none-any.whl'],
  ];
  for (const [name, expected] of cases) assert.equal(binarySdistName(name), expected, name);
});
