import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluateMarker,
  isMarkerPossible,
  MarkerSyntaxError,
  parseMarker,
  targetEnvironments,
  type TargetEnvironment,
  type Truth,
} from '../../../src/plan/markers.js';
import { parsePlatform } from '../../../src/plan/tags.js';

const markersOf = (platform: string) => parsePlatform(platform)?.markers ?? null;
const ENVS: Record<string, TargetEnvironment> = {
  linux311: { python: { major: 3, minor: 11 }, platform: markersOf('manylinux_x86_64') },
  win39: { python: { major: 3, minor: 9 }, platform: markersOf('win_amd64') },
  win32_312: { python: { major: 3, minor: 12 }, platform: markersOf('win32') },
  mac312: { python: { major: 3, minor: 12 }, platform: markersOf('macosx_arm64') },
  linuxAnyPython: { python: null, platform: markersOf('musllinux_aarch64') },
  py310AnyPlatform: { python: { major: 3, minor: 10 }, platform: null },
  open: { python: null, platform: null },
};

/** [marker, environment, requested extra, expected] */
const CASES: [string, string, string, Truth][] = [
  ['python_version < "3.10"', 'linux311', '', false],
  ['python_version < "3.10"', 'win39', '', true],
  ['python_version < "3.10"', 'linuxAnyPython', '', 'maybe'],
  ['python_version >= "3.8" and python_version < "3.12"', 'linux311', '', true],
  ["python_version == '3.1*'", 'linux311', '', false], // not a valid specifier: compared as strings
  ['python_version in "3.10 3.11"', 'linux311', '', true],
  ['python_version not in "3.10 3.11"', 'py310AnyPlatform', '', false],
  ['"3.11" == python_version', 'linux311', '', true],
  ['python_full_version >= "3.11.2"', 'linux311', '', 'maybe'],
  ['python_full_version >= "3.11.0"', 'linux311', '', true],
  ['python_full_version < "3.10.0"', 'linux311', '', false],
  ['implementation_version >= "3.12"', 'mac312', '', true],
  ['sys_platform == "win32"', 'win39', '', true],
  ['sys_platform == "win32"', 'linux311', '', false],
  ['sys_platform == "win32"', 'py310AnyPlatform', '', 'maybe'],
  ['sys_platform != "win32"', 'mac312', '', true],
  ['os_name == "nt"', 'win32_312', '', true],
  ['platform_system == "Darwin"', 'mac312', '', true],
  ['platform_system == "Linux" and platform_machine == "aarch64"', 'linuxAnyPython', '', true],
  ['platform_machine == "x86_64"', 'linux311', '', true],
  ['platform_machine == "AMD64"', 'win39', '', true],
  ['platform_machine == "AMD64"', 'win32_312', '', 'maybe'],
  ["platform_machine in 'arm64 aarch64'", 'mac312', '', true],
  ['platform_release >= "5.0"', 'linux311', '', 'maybe'],
  ['platform_version == "x"', 'linux311', '', 'maybe'],
  ['platform_python_implementation == "CPython"', 'open', '', true],
  ['implementation_name == "pypy"', 'open', '', false],
  ['sys_platform == "win32" or python_version < "3.10"', 'win39', '', true],
  ['sys_platform == "win32" or python_version < "3.10"', 'linux311', '', false],
  ['sys_platform == "win32" or python_version < "3.10"', 'open', '', 'maybe'],
  ['sys_platform == "win32" and python_version < "3.10"', 'linuxAnyPython', '', false], // false and maybe
  ['sys_platform == "linux" or python_version < "3.10"', 'linuxAnyPython', '', true], // true or maybe
  ['(sys_platform == "darwin" or sys_platform == "win32") and python_version >= "3.12"', 'mac312', '', true],
  ['extra == "socks"', 'linux311', '', false],
  ['extra == "socks"', 'linux311', 'socks', true],
  ['extra == "Test_Utils"', 'linux311', 'test-utils', true],
  ['extra == "socks" and sys_platform == "win32"', 'linux311', 'socks', false],
  ['os.name == "posix"', 'linux311', '', true], // legacy spelling
  ['os_name < "posix"', 'linux311', '', 'maybe'], // undefined comparison: followed
];

test('markers, three-valued against target environments', (t) => {
  for (const [source, env, extra, expected] of CASES) {
    const got = evaluateMarker(parseMarker(source), ENVS[env] as TargetEnvironment, extra);
    assert.equal(got, expected, `${source} in ${env}${extra === '' ? '' : ` [${extra}]`}`);
  }
  t.diagnostic(`cases: ${CASES.length}`);
});

test('marker syntax errors say where and what was expected', () => {
  const bad: [string, RegExp][] = [
    ['python_version <', /at character 17: expected a marker variable or a quoted string/],
    ['python_versions < "3"', /expected a marker variable \(/],
    ['"a" == "b"', /a marker variable on one side/],
    ['python_version < "3.10', /a closing quote/],
    ['(python_version < "3.10"', /expected "\)"/],
    ['python_version < "3.10" xor os_name == "nt"', /"and", "or" or the end/],
    ['python_version ~ "3"', /a variable, a quoted string or an operator/],
  ];
  bad.push(['('.repeat(40) + 'os_name == "nt"' + ')'.repeat(40), /at most 32 nested parentheses/]);
  bad.push([Array.from({ length: 400 }, () => 'os_name == "nt"').join(' and '), /at most 4096 characters/]);
  bad.push(['('.repeat(1_000_000), /at most 4096 characters/]);
  for (const [source, message] of bad) {
    assert.throws(
      () => parseMarker(source),
      (err: unknown) => err instanceof MarkerSyntaxError && message.test(err.message),
      source,
    );
  }
});

test('a long marker from untrusted metadata: bounded, still evaluated when within bounds', () => {
  const chain = Array.from({ length: 150 }, (_, i) =>
    i % 2 === 0 ? 'os_name == "nt"' : '(python_version >= "3")',
  ).join(' and ');
  assert.ok(chain.length < 4096);
  assert.equal(evaluateMarker(parseMarker(chain), ENVS['win39'] as TargetEnvironment), true);
  assert.equal(evaluateMarker(parseMarker(chain), ENVS['linux311'] as TargetEnvironment), false);
  const message = ((): string => {
    try {
      parseMarker('x'.repeat(100_000));
      return '';
    } catch (err) {
      return err instanceof Error ? err.message : '';
    }
  })();
  assert.ok(message.length < 400, 'the message quotes at most the start of the marker');
});

test('target environments: the product, an empty dimension open, `any` adding no platform', () => {
  const py = [
    { major: 3, minor: 11 },
    { major: 3, minor: 12 },
  ];
  const envs = targetEnvironments(py, [markersOf('manylinux_x86_64'), markersOf('win_amd64'), null]);
  assert.deepEqual(
    envs.map((e) => `${e.python?.minor}/${e.platform?.sys_platform}`),
    ['11/linux', '11/win32', '12/linux', '12/win32'],
  );
  assert.deepEqual(targetEnvironments([], [null]), [{ python: null, platform: null }]);
  assert.deepEqual(
    targetEnvironments(py, []).map((e) => e.platform),
    [null, null],
  );
  const windowsOnly = parseMarker('sys_platform == "win32"');
  assert.equal(isMarkerPossible(windowsOnly, envs), true);
  assert.equal(isMarkerPossible(windowsOnly, targetEnvironments(py, [markersOf('manylinux_x86_64')])), false);
  assert.equal(isMarkerPossible(null, envs), true);
  const extra = parseMarker('extra == "socks"');
  assert.equal(isMarkerPossible(extra, envs), false);
  assert.equal(isMarkerPossible(extra, envs, ['socks']), true);
});
