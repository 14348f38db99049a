import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compilePlatforms,
  compilePythonVersions,
  expandTags,
  isWheelSelected,
  parsePlatform,
  parsePythonValue,
  parseWheelName,
} from '../../../src/plan/tags.js';

test('wheel names: build tags, compressed tag sets, and names that are not wheels', () => {
  const numpy = parseWheelName('numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
  assert.deepEqual(
    numpy && { ...numpy, tags: numpy.tags.map((t) => `${t.interpreter}-${t.abi}-${t.platform}`) },
    {
      name: 'numpy',
      project: 'numpy',
      version: '1.26.4',
      build: null,
      pythonTag: 'cp311',
      tags: ['cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64'],
    },
  );
  const built = parseWheelName('Zope.Interface-5.4.0-1build-py2.py3-none-any.whl');
  assert.equal(built?.build, '1build');
  assert.equal(built?.project, 'zope-interface');
  assert.equal(built?.pythonTag, 'py2.py3');
  assert.equal(built?.tags.length, 2);
  const invalid = [
    'demo-1.0.tar.gz',
    'demo-1.0-py3-none.whl',
    'demo-1.0-x-py3-none-any.whl', // a build tag starts with a digit
    'demo-1.0-py3..py2-none-any.whl',
    '-1.0-py3-none-any.whl',
  ];
  for (const name of invalid) assert.equal(parseWheelName(name), null, name);
  assert.equal(expandTags('py2.py3-none-any')?.length, 2);
  assert.equal(expandTags('cp38.cp39-abi3.none-win32.win_amd64')?.length, 8);
  const twenty = (prefix: string): string => Array.from({ length: 20 }, (_, i) => `${prefix}${i}`).join('.');
  assert.equal(
    expandTags(`${twenty('py')}-${twenty('abi')}-${twenty('plat')}`),
    null,
    '8000 triples: refused',
  );
  assert.equal(expandTags('py3-none'), null);
});

test('python_versions values: CPython versions and microrepo labels', () => {
  const cases: [string, ReturnType<typeof parsePythonValue>][] = [
    ['3.11', { kind: 'version', version: { major: 3, minor: 11 }, label: '3.11' }],
    ['2.7', { kind: 'version', version: { major: 2, minor: 7 }, label: '2.7' }],
    ['cp27', { kind: 'version', version: { major: 2, minor: 7 }, label: 'cp27' }],
    ['CP312', { kind: 'version', version: { major: 3, minor: 12 }, label: 'cp312' }],
    ['py27', { kind: 'version', version: { major: 2, minor: 7 }, label: 'py27' }],
    ['py3.10', { kind: 'version', version: { major: 3, minor: 10 }, label: 'py3.10' }],
    ['py2', { kind: 'label', label: 'py2' }],
    ['py2.py3', { kind: 'label', label: 'py2.py3' }],
    ['any', { kind: 'label', label: 'any' }],
    ['source', { kind: 'label', label: 'source' }],
    ['3', null],
    ['3.11.4', null],
    ['python3.11', null],
    ['pp310', null],
  ];
  for (const [value, expected] of cases) assert.deepEqual(parsePythonValue(value), expected, value);
  const compiled = compilePythonVersions(['3.12', 'cp311', '3.12', 'py2.py3']);
  assert.deepEqual(compiled.versions, [
    { major: 3, minor: 11 },
    { major: 3, minor: 12 },
  ]);
  assert.equal(compiled.isOpen, false);
  assert.equal(compilePythonVersions([]).isOpen, true);
});

test('platforms values: family and architecture, optional highest version, and their markers', () => {
  const cases: [string, object | null][] = [
    [
      'manylinux_x86_64',
      { family: 'manylinux', arch: 'x86_64', maxVersion: null, machine: 'x86_64', sys: 'linux' },
    ],
    [
      'manylinux_2_28_aarch64',
      { family: 'manylinux', arch: 'aarch64', maxVersion: [2, 28], machine: 'aarch64', sys: 'linux' },
    ],
    [
      'musllinux_x86_64',
      { family: 'musllinux', arch: 'x86_64', maxVersion: null, machine: 'x86_64', sys: 'linux' },
    ],
    ['linux_armv7l', { family: 'linux', arch: 'armv7l', maxVersion: null, machine: 'armv7l', sys: 'linux' }],
    ['win_amd64', { family: 'windows', arch: 'win_amd64', maxVersion: null, machine: 'AMD64', sys: 'win32' }],
    ['win32', { family: 'windows', arch: 'win32', maxVersion: null, machine: null, sys: 'win32' }],
    ['win_arm64', { family: 'windows', arch: 'win_arm64', maxVersion: null, machine: 'ARM64', sys: 'win32' }],
    ['macosx_arm64', { family: 'macosx', arch: 'arm64', maxVersion: null, machine: 'arm64', sys: 'darwin' }],
    [
      'macosx_11_0_x86_64',
      { family: 'macosx', arch: 'x86_64', maxVersion: [11, 0], machine: 'x86_64', sys: 'darwin' },
    ],
    ['any', { family: 'any', arch: 'any', maxVersion: null, machine: null, sys: null }],
    ['macosx_universal2', null],
    ['linux_2_17_x86_64', null],
    ['windows', null],
    ['manylinux', null],
  ];
  for (const [value, expected] of cases) {
    const p = parsePlatform(value);
    const got =
      p === null
        ? null
        : {
            family: p.family,
            arch: p.arch,
            maxVersion: p.maxVersion,
            machine: p.markers?.platform_machine ?? null,
            sys: p.markers?.sys_platform ?? null,
          };
    assert.deepEqual(got, expected, value);
  }
  assert.deepEqual(parsePlatform('win_amd64')?.markers, {
    sys_platform: 'win32',
    os_name: 'nt',
    platform_system: 'Windows',
    platform_machine: 'AMD64',
  });
  assert.deepEqual(parsePlatform('macosx_arm64')?.markers, {
    sys_platform: 'darwin',
    os_name: 'posix',
    platform_system: 'Darwin',
    platform_machine: 'arm64',
  });
});

/** [file name, python_versions, platforms, kept?] — expectations checked against packaging 26.2's sys_tags. */
const WHEELS: [string, string, string, boolean][] = [
  // compressed tag sets and pure wheels
  ['six-1.16.0-py2.py3-none-any.whl', '3.12', 'manylinux_x86_64', true],
  ['six-1.16.0-py2.py3-none-any.whl', '2.7', 'win32', true],
  ['attrs-23.2.0-py3-none-any.whl', '2.7', '', false],
  ['futures-3.4.0-py2-none-any.whl', '3.11', '', false],
  ['tomli-2.0.1-py37-none-any.whl', '3.11', '', true], // older pyXZ
  ['newer-1.0-py313-none-any.whl', '3.12', '', false], // newer pyXZ
  ['demo-1.0-cp311-none-any.whl', '3.11', 'win_amd64', true], // cpXY-none-any
  ['demo-1.0-cp310-none-any.whl', '3.11', 'win_amd64', false], // only the running cpXY
  ['demo-1.0-cp311-abi3-any.whl', '3.11', '', false], // sys_tags never offers abi3 with any
  ['demo-1.0-py3-none-manylinux1_x86_64.whl', '3.12', 'manylinux_x86_64', true], // pyX-none-<platform>
  // CPython ABIs
  [
    'numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    '3.11',
    'manylinux_x86_64',
    true,
  ],
  [
    'numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    '3.12',
    'manylinux_x86_64',
    false,
  ],
  [
    'numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    '3.11 3.12',
    'manylinux_x86_64',
    true,
  ],
  ['numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', '', 'manylinux_aarch64', false],
  ['numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', '3.11', '', true],
  ['old-1.0-cp37-cp37m-manylinux1_x86_64.whl', '3.7', 'manylinux_x86_64', true],
  ['old-1.0-cp27-cp27mu-manylinux1_x86_64.whl', '2.7', 'manylinux_x86_64', true],
  ['old-1.0-cp27-cp27m-win32.whl', '2.7', 'win32', true],
  ['ft-1.0-cp313-cp313t-manylinux_2_28_x86_64.whl', '3.13', 'manylinux_x86_64', false], // free-threaded
  // abi3: the same and every older cpXZ-abi3 down to cp32
  ['cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl', '3.12', 'manylinux_x86_64', true],
  ['cryptography-42.0.5-cp37-abi3-win_amd64.whl', '3.12', 'win_amd64', true],
  ['cryptography-42.0.5-cp37-abi3-win_amd64.whl', '3.12', 'win32', false],
  ['future-1.0-cp313-abi3-win_amd64.whl', '3.12', 'win_amd64', false],
  ['py2abi-1.0-cp27-abi3-win_amd64.whl', '3.12', 'win_amd64', false],
  ['demo-1.0-cp312-none-win_amd64.whl', '3.12', 'win_amd64', true],
  // manylinux aliases and versions, musllinux
  ['demo-1.0-cp312-cp312-manylinux1_x86_64.whl', '3.12', 'manylinux_x86_64', true],
  ['demo-1.0-cp312-cp312-manylinux2010_x86_64.whl', '3.12', 'manylinux_x86_64', true],
  ['demo-1.0-cp312-cp312-manylinux_2_34_x86_64.whl', '3.12', 'manylinux_x86_64', true],
  ['demo-1.0-cp312-cp312-manylinux_2_34_x86_64.whl', '3.12', 'manylinux_2_28_x86_64', false],
  ['demo-1.0-cp312-cp312-manylinux2014_x86_64.whl', '3.12', 'manylinux_2_28_x86_64', true],
  [
    'demo-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl',
    '3.12',
    'manylinux_x86_64',
    false,
  ],
  [
    'demo-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl',
    '3.12',
    'manylinux_aarch64',
    true,
  ],
  ['demo-1.0-cp312-cp312-musllinux_1_1_x86_64.whl', '3.12', 'musllinux_x86_64', true],
  ['demo-1.0-cp312-cp312-musllinux_1_1_x86_64.whl', '3.12', 'manylinux_x86_64', false],
  ['demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl', '3.12', 'musllinux_x86_64', false],
  ['demo-1.0-cp312-cp312-linux_x86_64.whl', '3.12', 'musllinux_x86_64', true],
  // macOS: universal2 for both architectures, intel/fat formats, X_0 only from 11 on
  ['demo-1.0-cp312-cp312-macosx_10_9_universal2.whl', '3.12', 'macosx_arm64', true],
  ['demo-1.0-cp312-cp312-macosx_10_9_universal2.whl', '3.12', 'macosx_x86_64', true],
  ['demo-1.0-cp312-cp312-macosx_10_9_x86_64.whl', '3.12', 'macosx_arm64', false],
  ['demo-1.0-cp312-cp312-macosx_11_0_arm64.whl', '3.12', 'macosx_arm64', true],
  ['demo-1.0-cp312-cp312-macosx_11_0_arm64.whl', '3.12', 'macosx_x86_64', false],
  ['demo-1.0-cp312-cp312-macosx_14_0_arm64.whl', '3.12', 'macosx_11_0_arm64', false],
  ['demo-1.0-cp312-cp312-macosx_11_3_arm64.whl', '3.12', 'macosx_arm64', false],
  ['demo-1.0-cp27-cp27m-macosx_10_6_intel.whl', '2.7', 'macosx_x86_64', true],
  ['demo-1.0-cp27-cp27m-macosx_10_3_x86_64.whl', '2.7', 'macosx_x86_64', false],
  ['demo-1.0-cp27-cp27m-macosx_10_9_fat64.whl', '2.7', 'macosx_x86_64', true],
  // Windows
  ['demo-1.0-cp312-cp312-win_amd64.whl', '3.12', 'win32', false],
  ['demo-1.0-cp312-cp312-win_arm64.whl', '3.12', 'win_arm64', true],
  // pure wheels whatever platforms says; `any` listed alone keeps only them
  ['demo-1.0-py3-none-any.whl', '3.12', 'any', true],
  ['demo-1.0-cp312-cp312-win_amd64.whl', '3.12', 'any', false],
  // microrepo labels match the python tag field as written
  ['demo-1.0-py2.py3-none-any.whl', 'py2.py3', '', true],
  ['demo-1.0-py3-none-any.whl', 'py2.py3', '', false],
  ['demo-1.0-cp27-cp27mu-manylinux1_x86_64.whl', 'cp27', 'manylinux_x86_64', true],
  ['demo-1.0-py2.py3-none-any.whl', 'cp27', '', true], // cp27 also means CPython 2.7
];

test('python_versions × platforms on realistic wheel names', (t) => {
  for (const [file, pythons, platforms, expected] of WHEELS) {
    const wheel = parseWheelName(file);
    assert.ok(wheel, file);
    const python = compilePythonVersions(pythons.split(' ').filter(Boolean));
    const plats = compilePlatforms(platforms.split(' ').filter(Boolean));
    assert.equal(
      isWheelSelected(wheel, python, plats),
      expected,
      `${file} for [${pythons}] on [${platforms}]`,
    );
  }
  t.diagnostic(`cases: ${WHEELS.length}`);
});
