// The `requirements` key read through loadConfig from real files: a requirements file of real-world shape
// (extras, markers, `-r` includes, comments, continuation lines, pip options), and every kind of bad line
// as a config error with the requirements file, the line, the key, the value and what was expected.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, formatConfigIssue } from '../../src/errors.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeTempDir } from '../helpers/tree.js';

const REQUIREMENTS = `# What our Python 3.11 Linux machines run.
-r requirements/common.txt
--index-url https://pypi.org/simple/

fakepkg-alpha[fast] >= 1.0 ; python_version >= "3.8"   # the application
fakepkg-beta>=1.0,<2 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
fakepkg-win ; sys_platform == "win32"
`;

const COMMON = `# shared by every service
Fakepkg_Gamma \\
  ==1.0
`;

async function writeConfig(dir: string, requirements: string): Promise<string> {
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(config, `[mirror]\nmirror_file_path = mirror\nrequirements = ${requirements}\n`);
  return config;
}

test('a requirements file of real-world shape: includes, extras, markers, comments, continuations', async (t) => {
  const dir = await makeTempDir(t);
  await mkdir(join(dir, 'requirements'));
  await writeFile(join(dir, 'requirements.txt'), REQUIREMENTS);
  await writeFile(join(dir, 'requirements', 'common.txt'), COMMON);
  const cfg = await loadConfig(await writeConfig(dir, 'requirements.txt'), { cwd: dir });
  assert.deepEqual(cfg.requirements, [join(dir, 'requirements.txt')]);
  assert.deepEqual(cfg.requirementRoots, [
    { requirement: 'Fakepkg_Gamma   ==1.0', origin: 'requirements/common.txt:2' },
    { requirement: 'fakepkg-alpha[fast] >= 1.0 ; python_version >= "3.8"', origin: 'requirements.txt:5' },
    { requirement: 'fakepkg-beta>=1.0,<2', origin: 'requirements.txt:6' },
    { requirement: 'fakepkg-win ; sys_platform == "win32"', origin: 'requirements.txt:8' },
  ]);
  assert.deepEqual(cfg.requirementFiles, [
    join(dir, 'requirements.txt'),
    join(dir, 'requirements', 'common.txt'),
  ]);
  assert.deepEqual(cfg.warnings, [
    `${join(dir, 'requirements.txt')}:3: requirements: --index-url ignored: it says how pip installs, not what to mirror`,
  ]);
});

test('a bad requirements line is a config error naming the requirements file and line', async (t) => {
  const cases: readonly { line: string; expected: RegExp }[] = [
    { line: '-e ./src', expected: /an editable requirement cannot be mirrored/ },
    { line: 'https://example.com/fakepkg_alpha-1.0-py3-none-any.whl', expected: /a URL cannot be mirrored/ },
    { line: 'fakepkg-alpha @ https://example.com/a.whl', expected: /a direct reference/ },
    { line: './dist/fakepkg_alpha-1.0.tar.gz', expected: /a local path cannot be mirrored/ },
    { line: 'fakepkg-alpha >>= 1.0', expected: /expected a PEP 440 version specifier/ },
    { line: '--frobnicate', expected: /unknown or unsupported pip option/ },
  ];
  for (const { line, expected } of cases) {
    const dir = await makeTempDir(t);
    const requirements = join(dir, 'requirements.txt');
    await writeFile(requirements, `# header\nfakepkg-beta\n${line}\n`);
    const err = await loadConfig(await writeConfig(dir, 'requirements.txt'), { cwd: dir }).then(
      () => assert.fail(`accepted ${line}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, 'CONFIG_INVALID');
    const [issue] = err.issues;
    assert.equal(err.issues.length, 1);
    assert.deepEqual(
      { file: issue?.file, line: issue?.line, key: issue?.key, value: issue?.value },
      { file: requirements, line: 3, key: 'requirements', value: line },
    );
    assert.match(issue?.expected ?? '', expected);
    assert.ok(
      err.message.includes(`${requirements}:3: requirements = ${JSON.stringify(line)}: `),
      err.message,
    );
  }
});

test('a requirements file that cannot be read: at the config line, or at the -r line including it', async (t) => {
  const dir = await makeTempDir(t);
  const config = await writeConfig(dir, 'missing.txt');
  const err = await loadConfig(config, { cwd: dir }).catch((e: unknown) => e);
  assert.ok(err instanceof ConfigError);
  assert.match(
    formatConfigIssue(err.issues[0] as ConfigError['issues'][number]),
    /pypimirror\.cfg:3: \[mirror\] requirements = "missing\.txt": a readable requirements file: cannot read requirements file .*missing\.txt: ENOENT/,
  );

  await writeFile(join(dir, 'requirements.txt'), 'fakepkg-alpha\n-r other.txt\n');
  const included = await loadConfig(await writeConfig(dir, 'requirements.txt'), { cwd: dir }).catch(
    (e: unknown) => e,
  );
  assert.ok(included instanceof ConfigError);
  assert.deepEqual(
    [included.issues[0]?.file, included.issues[0]?.line, included.issues[0]?.value],
    [join(dir, 'requirements.txt'), 2, '-r other.txt'],
  );
});

test('samples/requirements.txt reads as documented', async (t) => {
  const dir = await makeTempDir(t);
  const sample = join(repoRoot, 'samples', 'requirements.txt');
  const cfg = await loadConfig(await writeConfig(dir, sample), { cwd: dir });
  assert.deepEqual(
    cfg.requirementRoots.map((r) => r.requirement.split(/[ ;=<>[]/)[0]),
    ['requests', 'urllib3', 'colorama', 'tomli', 'certifi'],
  );
  assert.equal(cfg.warnings.length, 1);
});
