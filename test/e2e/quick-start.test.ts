// The README's run command and quick start, run as the README writes them (issue #13 part 6): the commands
// are read from README.md, so the two cannot drift, and run by a shell as an ordinary user and as root, with
// `pypimirror` (the built CLI) and `pip` (python3 -m pip into a target directory, no config files) on PATH.
// One change is made: right after `init`, the starter config's index_url is pointed at the fake upstream,
// which serves requests and the four projects it needs. The run command's `npm ci` is left out (the test
// run has installed and built). Root's paths (/etc, /srv, /var/log) are taken in a private mount namespace
// (an overlay on /etc, tmpfs on /srv and /var/log), so the machine itself is untouched.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { installedDists, requirePip } from '../helpers/pip.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeBinDir, runCommand, type ShellResult, startTestUser } from '../helpers/test-user.js';
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

type Variant = 'root' | 'user';

/** The lines of the first indented code block of the README's section `title`, comments cut. */
function readReadmeBlock(title: string): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  assert.ok(section !== undefined, `README.md has no "## ${title}" section`);
  const block = /\n\n((?: {4}.*\n)+)/.exec(section);
  assert.ok(block?.[1] !== undefined, `"${title}" has no indented code block`);
  return block[1]
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The run command of "Set up", split on `&&`, without its `npm ci`. */
function readRunCommand(): string[] {
  const [line, ...rest] = readReadmeBlock('Set up');
  assert.ok(line !== undefined && rest.length === 0, 'the run command is one line');
  const [install, ...commands] = line.split(' && ');
  assert.equal(install, 'npm ci', line);
  return commands;
}

/**
 * `commands` as one shell script for `variant`: of the pip lines, the one written for it (root:
 * /srv/pypimirror, user: $HOME), the other lines as they are, and index_url pointed at `indexUrl` after init.
 */
function scriptFor(commands: readonly string[], variant: Variant, config: string, indexUrl: string): string {
  const pipMark = variant === 'root' ? 'file:///srv/pypimirror/' : 'file://$HOME/pypimirror/';
  const pip = commands.filter((c) => c.startsWith('pip '));
  assert.ok(pip.length === 0 || pip.filter((c) => c.includes(pipMark)).length === 1, pip.join(' | '));
  const kept = commands.filter((c) => !c.startsWith('pip ') || c.includes(pipMark));
  const init = kept.findIndex((c) => /(^|\/)pypimirror init$/.test(c));
  assert.equal(init, 0, `the commands start with pypimirror init: ${kept.join(' | ')}`);
  const edit = `sed -i 's#^index_url = .*#index_url = ${indexUrl}#' "${config}"`;
  return [kept[0], edit, ...kept.slice(1)].join('\n');
}

async function startRequestsUpstream(t: TestContext): Promise<FakeUpstream> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  const deps = Object.keys(REQUESTS_AND_DEPENDENCIES).filter((name) => name !== 'requests');
  for (const [name, version] of Object.entries(REQUESTS_AND_DEPENDENCIES)) {
    const requiresDist = name === 'requests' ? deps : [];
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

/** Where one variant runs: its config path, its pip target, and how a script is run there. */
interface Place {
  readonly config: string;
  readonly target: string;
  run(script: string): Promise<ShellResult>;
}

/** An ordinary user with a fresh home, or null when the test was skipped. */
async function startUserPlace(t: TestContext): Promise<Place | null> {
  if (existsSync('/etc/pypimirror.cfg')) {
    skipOrFail(t, '/etc/pypimirror.cfg exists here, and an ordinary user without a config reads that one');
    return null;
  }
  const dir = await makeTempDir(t);
  const bin = await makeBinDir(dir);
  const user = await startTestUser(t, dir, bin);
  if (user === null) return null;
  const target = join(user.home, 'target');
  const pipEnv = await makePipWrapper(bin, target);
  return {
    config: join(user.home, '.config/pypimirror/pypimirror.cfg'),
    target,
    run: (script) => user.sh(`cd "${repoRoot}"\n${script}`, pipEnv),
  };
}

/** Root in a private mount namespace, or null when the test was skipped (not root, no namespaces). */
async function startRootPlace(t: TestContext): Promise<Place | null> {
  if (process.getuid?.() !== 0) {
    skipOrFail(t, 'root only: run the tests as root');
    return null;
  }
  if (findExecutable('unshare') === undefined) {
    skipOrFail(t, 'unshare (util-linux) is not installed');
    return null;
  }
  const dir = await makeTempDir(t);
  const bin = await makeBinDir(dir);
  const target = join(dir, 'target');
  // This machine's pip and pypimirror settings stay out: the commands as a fresh root runs them.
  const env: Record<string, string | undefined> = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PIP_|PYPIMIRROR_|XDG_|JOURNAL_STREAM$)/.test(key)),
  );
  Object.assign(env, await makePipWrapper(bin, target), { PATH: `${bin}:${process.env['PATH'] ?? '/bin'}` });
  await mkdir(join(dir, 'etc-upper'));
  await mkdir(join(dir, 'etc-work'));
  const mounts = [
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/etc-upper,workdir=${dir}/etc-work /etc`,
    'mount -t tmpfs tmpfs /srv',
    'mount -t tmpfs tmpfs /var/log',
  ].join('\n');
  const unshare = ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec'];
  const probe = await runCommand([...unshare, mounts], env, 30_000);
  if (probe.code !== 0) {
    t.skip(`no private mount namespace here (overlay on /etc, tmpfs on /srv): ${probe.stderr.trim()}`);
    return null;
  }
  const hadConfig = existsSync('/etc/pypimirror.cfg');
  t.after(() => assert.equal(existsSync('/etc/pypimirror.cfg'), hadConfig, 'the real /etc was touched'));
  return {
    config: '/etc/pypimirror.cfg',
    target,
    run: (script) => runCommand([...unshare, `${mounts}\ncd "${repoRoot}"\n${script}`], env, 240_000),
  };
}

function assertSynced(out: ShellResult): void {
  const shown = `--- stdout\n${out.stdout}\n--- stderr\n${out.stderr}`;
  assert.equal(out.code, 0, shown);
  assert.match(out.stdout, /^wrote a starter config to /m, shown);
  assert.match(
    out.stdout,
    /sync finished: 5 projects checked, 5 changed, 10 files .* fetched, .* 0 failed/,
    shown,
  );
}

for (const variant of ['user', 'root'] as const) {
  const who = variant === 'user' ? 'an ordinary user' : 'root (in a private mount namespace)';

  test(`the README quick start works verbatim as ${who}`, async (t) => {
    if (!requirePip(t)) return;
    const fake = await startRequestsUpstream(t);
    const place = variant === 'user' ? await startUserPlace(t) : await startRootPlace(t);
    if (place === null) return;
    const out = await place.run(scriptFor(readReadmeBlock('Quick start'), variant, place.config, fake.url));
    assertSynced(out);
    const mirror = variant === 'user' ? '\\S+/pypimirror' : '/srv/pypimirror';
    assert.match(
      out.stdout,
      new RegExp(`^wrote a starter config to ${place.config}: .* into ${mirror}$`, 'm'),
    );
    assert.match(out.stdout, /Successfully installed .*requests-2\.32\.3/);
    assert.deepEqual(await installedDists(place.target), REQUESTS_AND_DEPENDENCIES);
    assert.ok(!fake.requests.some((r) => r.path.includes('numpy')));
  });

  test(`the README run command works verbatim as ${who}`, async (t) => {
    const fake = await startRequestsUpstream(t);
    const place = variant === 'user' ? await startUserPlace(t) : await startRootPlace(t);
    if (place === null) return;
    assertSynced(await place.run(scriptFor(readRunCommand(), variant, place.config, fake.url)));
  });
}
