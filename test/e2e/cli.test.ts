// The command line as a user meets it: help, version, check, exit codes, z3c forms, reindex.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONFIG_KEYS } from '../../src/config/defaults.js';
import { repoRoot } from '../helpers/repo-root.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { SAMPLE_CONFIG, startSampleMirror } from '../helpers/sample-config.js';
import { makeTempDir } from '../helpers/tree.js';

test('--help and --version work with any command', async () => {
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  for (const args of [['--help'], ['sync', '--help'], ['-h']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: pypimirror <command> \[CONFIG\] \[options\]/);
  }
  for (const args of [['--version'], ['check', '-V']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `pypimirror ${pkg.version}\n`);
  }
});

test('usage errors exit 2 with the reason and the usage', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^pypimirror: unknown command "frobnicate"/);
  assert.match(r.stderr, /Usage:/);
  assert.equal((await runCli([])).code, 2);
  assert.equal((await runCli(['sync', '--bogus'])).code, 2);
  assert.match((await runCli(['x.cfg', '-U', '-i'])).stderr, /choose one of/);
});

test('check prints the effective settings of the sample, which documents every key and warns of nothing', async () => {
  const r = await runCli(['check', SAMPLE_CONFIG]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'the sample has no unknown or obsolete key');
  const sample = await readFile(SAMPLE_CONFIG, 'utf8');
  for (const key of Object.keys(CONFIG_KEYS)) {
    assert.match(r.stdout, new RegExp(`^${key} =`, 'm'), `check prints ${key}`);
    // Each key in the sample is set, and the line above it (its block) is a comment saying what it is.
    assert.match(sample, new RegExp(`#[^\\n]*\\n(#[^\\n]*\\n)*${key} =`), `the sample documents ${key}`);
  }
  assert.match(r.stdout, /# would mirror from https:\/\/pypi\.org\/simple\/ into \/srv\/pypimirror:/);
  assert.match(r.stdout, /except projects matching: zope\.app\.\*/);
  assert.match(
    r.stdout,
    /^# discovery: automatic: XML-RPC changelog when the upstream answers it, .*last run used: no run yet$/m,
  );
});

test('check and sync exit 2 on a bad config, naming file, line, key, value and what was expected', async (t) => {
  const dir = await makeTempDir(t);
  const config = join(dir, 'bad.cfg');
  await writeFile(config, '[mirror]\nmirror_file_path = /tmp/x\nworkers = eight\ncleanup = maybe\n');
  const expected = `pypimirror: ${config}: 2 problems
  ${config}:3: [mirror] workers = "eight": expected a whole number from 1 to 64
  ${config}:4: [mirror] cleanup = "maybe": expected true/false, yes/no, on/off or 1/0
`;
  for (const command of ['check', 'sync']) {
    const r = await runCli([command, config]);
    assert.equal(r.code, 2, command);
    assert.equal(r.stderr, expected, command);
  }
  const missing = await runCli(['sync'], { env: { PYPIMIRROR_CONFIG: join(dir, 'nope.cfg') } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.cfg: the config file does not exist; run "pypimirror init" to write/);
  // A config named on the command line: the init command to run names it too.
  const named = await runCli(['check', join(dir, 'other.cfg')]);
  assert.equal(named.code, 2);
  assert.ok(named.stderr.includes(`run "pypimirror init ${join(dir, 'other.cfg')}" to write`), named.stderr);
});

test('sync exits 1 when a project failed, 0 once the next run healed it; reindex rebuilds pages offline', async (t) => {
  const { fake, root, config } = await startSampleMirror(t, { package_matches: 'demo-* foo_bar' });
  fake.fail('/simple/demo-lib/', { status: 500 });
  const failed = await runCli(['sync', config]);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /sync finished with errors: .* 1 failed in /);
  assert.match(failed.stdout, /project failed; its previous page stays project=demo-lib/);
  fake.clearFaults();
  const healed = await runCli(['sync', config]);
  assert.equal(healed.code, 0, healed.stdout + healed.stderr);
  assert.match((await runCli(['check', config])).stdout, /^# discovery: automatic: .*last run used: /m);

  const pages = ['index.html', 'index.v1_json', 'demo-lib/index.html', 'demo-lib/index.v1_json'];
  const before = await Promise.all(pages.map((p) => readFile(join(root, p), 'utf8')));
  await Promise.all(pages.map((p) => rm(join(root, p))));
  await fake.close();
  const reindex = await runCli([config, '--indexes-only']);
  assert.equal(reindex.code, 0, reindex.stdout + reindex.stderr);
  assert.deepEqual(await Promise.all(pages.map((p) => readFile(join(root, p), 'utf8'))), before);
});

test('verify exits 1 on a damaged tree; verify --repair fetches the damaged file again and exits 0', async (t) => {
  const { root, config } = await startSampleMirror(t, { package_matches: 'foo_bar' });
  assert.equal((await runCli(['sync', config])).code, 0);
  assert.equal((await runCli(['verify', config])).code, 0);
  const file = join(root, 'foo-bar/foo_bar-1.0.tar.gz');
  const good = await readFile(file);
  await writeFile(file, Buffer.concat([good.subarray(0, 10), Buffer.from('x'), good.subarray(11)]));
  const found = await runCli(['verify', config]);
  assert.equal(found.code, 1);
  assert.match(found.stdout, /verify: sha256 .*file=foo_bar-1\.0\.tar\.gz/);
  const repaired = await runCli(['verify', config, '--repair']);
  assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
  assert.deepEqual(await readFile(file), good);
  assert.equal((await runCli(['verify', config])).code, 0);
});

test('sync on a terminal draws a progress line; piped (cron, systemd) it does not', async (t) => {
  const { dir, config } = await startSampleMirror(t, { package_matches: 'demo-* foo_bar' });
  const piped = await runCli(['sync', config]);
  assert.equal(piped.code, 0);
  assert.doesNotMatch(piped.stdout + piped.stderr, /\d+\/\d+ projects,/);
  // util-linux `script` gives the CLI a pseudo-terminal; its output is the terminal's.
  await rm(join(dir, 'mirror'), { recursive: true });
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} sync ${JSON.stringify(config)}`;
  const tty = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { timeout: 60_000, env: { ...process.env, JOURNAL_STREAM: '' } },
      (err, stdout) =>
        err !== null && typeof err.code !== 'number'
          ? reject(err)
          : resolve({ code: err === null ? 0 : (err.code as number), out: stdout }),
    );
  });
  assert.equal(tty.code, 0, tty.out);
  assert.match(tty.out, /\r\x1b\[K\d+\/3 projects, \d+ files \(.*\) fetched/);
  assert.match(tty.out, /sync finished: 3 projects checked/);
  // No log line starts on the progress line's row (issue #13: `... fetched2026-12-03T06:59:44.005Z info: ...`):
  // the row is erased before each log line. Per-file lines are debug there.
  assert.doesNotMatch(tty.out, /fetched[^\r\n,]*\d{4}-\d\d-\d\dT/);
  assert.match(tty.out, /\r\x1b\[K\S+Z info: sync finished/);
  assert.doesNotMatch(tty.out, /file fetched/);
});
