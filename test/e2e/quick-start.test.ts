// The README's quick start, run as the README writes it (issue #13 part 6): its commands are read from
// README.md, so the two cannot drift, and run by a shell as an ordinary user and as root, with `pypimirror`
// (the built CLI) and `pip` (python3 -m pip into a target directory, no config files) on PATH. The one
// change: right after `pypimirror init`, the starter config's index_url is pointed at the fake upstream,
// which serves requests and the four projects it needs. Root's paths (/etc, /srv, /var/log) are taken in
// a private mount namespace (an overlay on /etc, tmpfs on /srv and /var/log), so the machine is untouched.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { installedDists, requirePip } from '../helpers/pip.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeBinDir, runCommand, startTestUser } from '../helpers/test-user.js';
import { makeTempDir } from '../helpers/tree.js';
import { findExecutable, skipOrFail } from '../helpers/web-servers.js';

/** What `pip install requests` brings from the mirror. */
const REQUESTS_AND_DEPENDENCIES = {
  certifi: '2026.1.1',
  'charset-normalizer': '3.4.0',
  idna: '3.10',
  requests: '2.32.3',
  urllib3: '2.2.3',
};

/** The commands of the README's quick start: its first code block, comments cut, one per line. */
export function readQuickStart(readme: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start\n'));
  assert.ok(section !== undefined, 'README.md has no "## Quick start" section');
  const block = /\n\n((?: {4}.*\n)+)/.exec(section);
  assert.ok(block?.[1] !== undefined, 'the quick start has no indented code block');
  return block[1]
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * The quick start as one shell script for `variant`: the pip line written for it (root: /srv/pypimirror,
 * user: $HOME), every other line as is, and the index_url edit after `pypimirror init`.
 */
function quickStartScript(variant: 'root' | 'user', config: string, indexUrl: string): string {
  const commands = readQuickStart(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  const pipMark = variant === 'root' ? 'file:///srv/pypimirror/' : 'file://$HOME/pypimirror/';
  const pip = commands.filter((c) => c.startsWith('pip '));
  assert.equal(
    pip.filter((c) => c.includes(pipMark)).length,
    1,
    `one pip line with ${pipMark}: ${pip.join(' | ')}`,
  );
  const lines: string[] = [];
  for (const command of commands) {
    if (command.startsWith('pip ') && !command.includes(pipMark)) continue;
    lines.push(command);
    if (command === 'pypimirror init')
      lines.push(`sed -i 's#^index_url = .*#index_url = ${indexUrl}#' "${config}"`);
  }
  assert.equal(lines[0], 'pypimirror init', 'the quick start starts with pypimirror init');
  return lines.join('\n');
}

async function startRequestsUpstream(t: TestContext): Promise<FakeUpstream> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  const deps = Object.entries(REQUESTS_AND_DEPENDENCIES).filter(([name]) => name !== 'requests');
  for (const [name, version] of Object.entries(REQUESTS_AND_DEPENDENCIES)) {
    const requiresDist = name === 'requests' ? deps.map(([dep]) => dep) : [];
    fake.addProject(name, [buildWheel({ name, version, requiresDist }), buildSdist({ name, version })]);
  }
  fake.addProject('numpy', [buildWheel({ name: 'numpy', version: '2.0' })]); // not selected: never fetched
  return fake;
}

/** `pip` for the README's pip line: python3's pip into `target`, with no config file and no cache. */
async function makePipWrapper(bin: string, target: string): Promise<Record<string, string>> {
  await writeFile(join(bin, 'pip'), '#!/bin/sh\nexec python3 -m pip "$@"\n');
  await chmod(join(bin, 'pip'), 0o755);
  return {
    PIP_TARGET: target,
    PIP_CONFIG_FILE: '/dev/null',
    PIP_NO_CACHE_DIR: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_INPUT: '1',
    NO_PROXY: '127.0.0.1,localhost',
  };
}

function assertQuickStartRan(out: { code: number | null; stdout: string; stderr: string }): void {
  const shown = `--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
  assert.equal(out.code, 0, shown);
  assert.match(out.stdout, /^wrote a starter config to /m, shown);
  assert.match(
    out.stdout,
    /sync finished: 5 projects checked, 5 changed, 10 files .* fetched, .* 0 failed/,
    shown,
  );
  assert.match(out.stdout, /Successfully installed .*requests-2\.32\.3/, shown);
}

test('the README quick start works verbatim as an ordinary user', async (t) => {
  if (!requirePip(t)) return;
  if (existsSync('/etc/pypimirror.cfg')) {
    return t.skip('/etc/pypimirror.cfg exists here, and an ordinary user without a config reads that one');
  }
  const fake = await startRequestsUpstream(t);
  const dir = await makeTempDir(t);
  const bin = await makeBinDir(dir);
  const user = await startTestUser(t, dir, bin);
  if (user === null) return;
  const target = join(user.home, 'target');
  const pipEnv = await makePipWrapper(bin, target);
  const config = join(user.home, '.config/pypimirror/pypimirror.cfg');
  const out = await user.sh(quickStartScript('user', config, fake.url), pipEnv);
  assertQuickStartRan(out);
  assert.deepEqual(await installedDists(target), REQUESTS_AND_DEPENDENCIES);
  assert.ok(existsSync(join(user.home, 'pypimirror/requests/index.html')));
  assert.ok(existsSync(join(user.home, '.local/state/pypimirror/pypimirror.log')));
  assert.ok(!fake.requests.some((r) => r.path.includes('numpy')));
});

test('the README quick start works verbatim as root (in a private mount namespace)', async (t) => {
  if (!requirePip(t)) return;
  if (process.getuid?.() !== 0) return t.skip('root only: run the tests as root');
  if (findExecutable('unshare') === undefined) return skipOrFail(t, 'unshare (util-linux) is not installed');
  const fake = await startRequestsUpstream(t);
  const dir = await makeTempDir(t);
  const bin = await makeBinDir(dir);
  const target = join(dir, 'target');
  const pipEnv = await makePipWrapper(bin, target);
  await mkdir(join(dir, 'etc-upper'));
  await mkdir(join(dir, 'etc-work'));
  const mounts = [
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/etc-upper,workdir=${dir}/etc-work /etc`,
    'mount -t tmpfs tmpfs /srv',
    'mount -t tmpfs tmpfs /var/log',
  ].join('\n');
  // This machine's pip and pypimirror settings stay out: the README's commands as a fresh root runs them.
  const env: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PIP_|PYPIMIRROR_|XDG_|JOURNAL_STREAM$)/.test(key)),
  );
  Object.assign(env, pipEnv);
  env['PATH'] = `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  const unshare = ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec'];
  const probe = await runCommand([...unshare, mounts], env, 30_000);
  if (probe.code !== 0)
    return t.skip(`no private mount namespace here (overlay on /etc, tmpfs): ${probe.stderr}`);
  const hadConfig = existsSync('/etc/pypimirror.cfg');
  const script = `${mounts}\n${quickStartScript('root', '/etc/pypimirror.cfg', fake.url)}`;
  const out = await runCommand([...unshare, script], env, 240_000);
  assertQuickStartRan(out);
  assert.match(out.stdout, /^wrote a starter config to \/etc\/pypimirror\.cfg: .* into \/srv\/pypimirror$/m);
  assert.deepEqual(await installedDists(target), REQUESTS_AND_DEPENDENCIES);
  assert.equal(existsSync('/etc/pypimirror.cfg'), hadConfig);
});
