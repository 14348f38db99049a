// Issue #10 findings 1, 5 and 6 (umask, lock name), as an attacker and a careless admin would try them, against
// the built CLI: pypimirror never deletes or overwrites what it did not write, never writes through a planted
// symlink, refuses roots that are not its own, skips a name it cannot store (one warning, nothing else
// affected), creates 0755/0644 whatever the umask, and refuses a lock that could collide with a project.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  ATTACK_RSS_LIMIT_MIB,
  type MeasuredRun,
  runCliMeasured,
  writeAttackConfig,
} from '../helpers/attack.js';
import {
  dist,
  type FakeDist,
  listingRoute,
  projectRoutes,
  type Route,
  startHostileUpstream,
  type HostileUpstream,
} from '../helpers/hostile-upstream.js';
import { silentLogger } from '../../src/log.js';
import { acquireRunLock } from '../../src/mirror/lock.js';
import { CLI } from '../helpers/run-cli.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeTempDir } from '../helpers/tree.js';

/** Every file under `dir` (relative paths) with its content, symlinks not followed. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string, rel: string): Promise<void> => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const path = join(at, e.name);
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.set(`${name}/`, '');
        await walk(path, name);
      } else if (e.isSymbolicLink()) out.set(name, '<symlink>');
      else out.set(name, await readFile(path, 'utf8'));
    }
  };
  await walk(dir, '');
  return out;
}

function assertBounded(run: MeasuredRun, what: string): void {
  assert.equal(run.timedOut, false, `${what}: ended on its own`);
  assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `${what}: peak RSS ${run.peakRssMiB} MiB`);
}

/** A good project `name` with two small files; its routes and files. */
function goodProject(name: string): { files: FakeDist[]; routes: Record<string, Route> } {
  const files = [dist(`${name}-1.0.tar.gz`), dist(`${name.replace(/-/g, '_')}-1.0-py3-none-any.whl`)];
  return { files, routes: projectRoutes(name, files) };
}

async function upstreamOf(
  t: TestContext,
  name: string,
  routes: Record<string, Route>,
): Promise<HostileUpstream> {
  const up = await startHostileUpstream({ name, routes });
  t.after(() => up.close());
  return up;
}

async function seedForeign(root: string): Promise<Map<string, string>> {
  await mkdir(join(root, 'docs'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'home/alice'), { recursive: true });
  await writeFile(join(root, 'docs/index.html'), '<p>the team wiki: <a href="guide.txt">guide</a></p>\n');
  await writeFile(join(root, 'docs/guide.txt'), 'read me\n');
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(root, 'home/alice/notes.txt'), 'private\n');
  return snapshot(root);
}

test('finding 1: a root holding docs/, etc/, home/ is refused until adopted, then its foreign files survive a listing that names and drops them', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const before = await seedForeign(root);
  const good = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  const hostile = ['docs', 'etc', 'home'];
  const routes: Record<string, Route> = { ...listingRoute([...good, ...hostile]) };
  for (const name of [...good, ...hostile]) Object.assign(routes, goodProject(name).routes);
  const up = await upstreamOf(t, 'names-of-foreign-directories', routes);
  const cfg = await writeAttackConfig(dir, { mirror_file_path: root, index_url: up.url, workers: '2' });
  let cases = 0;

  // Not adopted: check, sync and the other commands refuse it (exit 2), naming the path and the way out.
  for (const command of ['check', 'sync', 'reindex', 'verify']) {
    const run = await runCliMeasured(t, [command, cfg]);
    assertBounded(run, command);
    assert.equal(run.code, 2, `${command}: ${run.output}`);
    assert.match(
      run.output,
      /mirror_file_path = ".*mirror": is a non-empty directory that pypimirror did not write/,
    );
    assert.match(run.output, /docs, etc, home/);
    assert.match(run.output, /pypimirror init .*pypimirror\.cfg --adopt/);
    cases++;
  }
  assert.deepEqual(await snapshot(root), before, 'a refused root is left exactly as it was');
  assert.equal(up.requests().length, 0, 'nothing asked upstream either');

  const adopt = await runCliMeasured(t, ['init', cfg, '--adopt']);
  assert.equal(adopt.code, 0, adopt.output);
  assert.match(adopt.output, /adopted: 3 entries/);
  cases++;

  const first = await runCliMeasured(t, ['sync', cfg]);
  assertBounded(first, 'first sync');
  assert.equal(first.code, 0, first.output);
  for (const name of hostile) {
    assert.match(first.output, new RegExp(`project skipped.*project=${name} `), `${name}: one warning`);
    assert.equal(first.output.split(`project=${name} `).length - 1, 1, `${name}: exactly one warning`);
  }
  for (const name of good) {
    for (const f of goodProject(name).files) {
      assert.deepEqual(await readFile(join(root, name, f.filename)), f.bytes, `${name}/${f.filename}`);
    }
  }
  const rootPage = await readFile(join(root, 'index.html'), 'utf8');
  for (const name of hostile) assert.doesNotMatch(rootPage, new RegExp(`href="${name}/"`));
  cases++;

  // The upstream drops them: nothing of theirs is removed (nor was ever written).
  up.setScenario({ name: 'dropped', routes: { ...routes, ...listingRoute(good) } });
  const second = await runCliMeasured(t, ['sync', cfg]);
  assertBounded(second, 'second sync');
  assert.equal(second.code, 0, second.output);
  const after = await snapshot(root);
  for (const [path, content] of before) assert.equal(after.get(path), content, `${path} kept as it was`);
  cases++;

  // verify judges only what is ours: the adopted docs/index.html is not a page of ours.
  const verify = await runCliMeasured(t, ['verify', cfg]);
  assertBounded(verify, 'verify');
  assert.equal(verify.code, 0, verify.output);
  cases++;
  t.diagnostic(`cases: ${cases}`);
});

test('finding 1: a foreign directory that appears in an owned root later is skipped alone (no record: never written, never removed)', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const others = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const routes: Record<string, Route> = { ...listingRoute([...others, 'docs']) };
  for (const name of [...others, 'docs']) Object.assign(routes, goodProject(name).routes);
  const up = await upstreamOf(t, 'late-foreign', routes);
  // Deletions allowed in any share: the removal itself is under test here.
  const cfg = await writeAttackConfig(dir, {
    mirror_file_path: root,
    index_url: up.url,
    max_deletions: '100',
  });
  // The README's one-line set-up: the first sync creates the root.
  const created = await runCliMeasured(t, ['sync', cfg]);
  assert.equal(created.code, 0, created.output);
  assert.ok((await readFile(join(root, 'docs/index.html'), 'utf8')).includes('docs-1.0.tar.gz'));

  // Someone else's directory, named like a project we do not hold yet.
  await mkdir(join(root, 'wiki'));
  await writeFile(join(root, 'wiki/index.html'), 'the wiki\n');
  up.setScenario({
    name: 'late-foreign-2',
    routes: { ...routes, ...listingRoute([...others, 'docs', 'wiki']), ...goodProject('wiki').routes },
  });
  const run = await runCliMeasured(t, ['sync', cfg]);
  assertBounded(run, 'sync');
  assert.equal(run.code, 0, run.output);
  assert.equal(await readFile(join(root, 'wiki/index.html'), 'utf8'), 'the wiki\n', 'not overwritten');
  assert.equal(run.output.split('project=wiki ').length - 1, 1, 'one warning');
  assert.match(run.output, /holds entries pypimirror did not write \(index\.html\)/);

  // A file of someone else's in a project directory of ours stays, and so does the directory.
  await writeFile(join(root, 'docs/NOTES.txt'), 'mine\n');
  up.setScenario({ name: 'docs-dropped', routes: { ...routes, ...listingRoute([...others, 'wiki']) } });
  const drop = await runCliMeasured(t, ['sync', cfg]);
  assert.equal(drop.code, 0, drop.output);
  assert.deepEqual(await readdir(join(root, 'docs')), ['NOTES.txt'], 'only what the record lists went');
  assert.match(drop.output, /project directory kept: it holds entries pypimirror did not write/);
  assert.equal(await readFile(join(root, 'wiki/index.html'), 'utf8'), 'the wiki\n');
  t.diagnostic('cases: 3');
});

test('finding 1: check and sync refuse /, system directories, a file, /dev/null and a symlink to /etc', async (t) => {
  const dir = await makeTempDir(t);
  const file = join(dir, 'a-file');
  await writeFile(file, 'not a directory\n');
  const link = join(dir, 'link-to-etc');
  await symlink('/etc', link);
  const cases: [string, RegExp][] = [
    ['/', /is a system directory/],
    ['/etc', /is a system directory/],
    ['/proc', /is a system directory/],
    ['/proc/self', /is a system directory/],
    ['/usr/lib', /is a system directory/],
    ['/tmp', /is a system directory/],
    [link, /is a system directory \(it resolves to \/etc\)/],
    [file, /is a regular file, not a directory/],
    ['/dev/null', /is a system directory|is a character device/],
  ];
  for (const [path, why] of cases) {
    const cfg = await writeAttackConfig(dir, {
      mirror_file_path: path,
      index_url: 'http://127.0.0.1:9/simple/',
    });
    const run = await runCliMeasured(t, ['check', cfg]);
    assert.equal(run.code, 2, `check ${path}: ${run.output}`);
    assert.match(
      run.output,
      new RegExp(`mirror_file_path = "${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`),
    );
    assert.match(run.output, why, path);
  }
  // sync refuses before anything is written (the lock included); tried where that is safe to see.
  const cfg = await writeAttackConfig(dir, {
    mirror_file_path: file,
    index_url: 'http://127.0.0.1:9/simple/',
  });
  const run = await runCliMeasured(t, ['sync', cfg]);
  assert.equal(run.code, 2, run.output);
  assert.equal(await readFile(file, 'utf8'), 'not a directory\n');
  t.diagnostic(`cases: ${cases.length + 1}`);
});

test('finding 1: a directory symlink planted inside the tree is never followed', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'index.html'), 'outside\n');
  const routes: Record<string, Route> = { ...listingRoute(['alpha', 'evil']) };
  Object.assign(routes, goodProject('alpha').routes, goodProject('evil').routes);
  const up = await upstreamOf(t, 'planted-symlink', routes);
  const cfg = await writeAttackConfig(dir, { mirror_file_path: root, index_url: up.url });
  const init = await runCliMeasured(t, ['init', cfg]);
  assert.equal(init.code, 0, init.output);
  await symlink(outside, join(root, 'evil'));
  const run = await runCliMeasured(t, ['sync', cfg]);
  assertBounded(run, 'sync');
  assert.equal(run.code, 0, run.output);
  assert.deepEqual(
    await snapshot(outside),
    new Map([['index.html', 'outside\n']]),
    'nothing written outside',
  );
  assert.match(run.output, /evil is a symbolic link, not a directory/);
  assert.ok((await lstat(join(root, 'evil'))).isSymbolicLink(), 'the link itself is left alone');
  assert.ok((await readFile(join(root, 'alpha/index.html'), 'utf8')).includes('alpha-1.0.tar.gz'));

  // The state directory planted as a link: the root is refused, nothing lands outside.
  const root2 = join(dir, 'mirror2');
  await mkdir(root2);
  await symlink(outside, join(root2, '.pypimirror'));
  const cfg2 = await writeAttackConfig(dir, { mirror_file_path: root2, index_url: up.url });
  const refused = await runCliMeasured(t, ['sync', cfg2]);
  assert.equal(refused.code, 2, refused.output);
  assert.match(refused.output, /\.pypimirror, which is a symbolic link/);
  assert.deepEqual(await snapshot(outside), new Map([['index.html', 'outside\n']]));
  t.diagnostic('cases: 2');
});

/** File names a hostile page may offer, none storable; each carries a unique ASCII marker `zqNNx`. */
function hostileFilenames(): string[] {
  const shapes: ((m: string) => string)[] = [
    (m) => `victim 2.0 (copy)-${m}.tar.gz`,
    (m) => `-rf-${m}.whl`,
    (m) => `ünï-${m}.whl`,
    (m) => `${m}-ß-1.0.tar.gz`,
    (m) => `${m}-日本-1.0.whl`,
    (m) => `${m}-😀.whl`,
    (m) => `${m}\u202egpj.whl`,
    (m) => `${m}\u200b.whl`,
    (m) => `${m}\u00a0.whl`,
    (m) => `..${m}`,
    (m) => `.${m}.whl`,
    (m) => `${m}/../../etc/x.whl`,
    (m) => `${m}\\x.whl`,
    (m) => `${m}\u0000.whl`,
    (m) => `${m}\n.whl`,
    (m) => `${m}\t.whl`,
    (m) => `${m}$(id).whl`,
    (m) => `${m};rm -rf.whl`,
    (m) => `${m}|x.whl`,
    (m) => `${m}&x.whl`,
    (m) => `${m}*.whl`,
    (m) => `${m}?.whl`,
    (m) => `${m}'q.whl`,
    (m) => `${m}"q.whl`,
    (m) => `${m}<x>.whl`,
    (m) => `${m}:x.whl`,
    (m) => `${m}@x.whl`,
    (m) => `${m}#x.whl`,
    (m) => `${m}%41.whl`,
    (m) => `${m}=x.whl`,
    (m) => `${m},x.whl`,
    (m) => `${m}[x].whl`,
    (m) => `${m}{x}.whl`,
    (m) => `${m}^x.whl`,
    (m) => `${m}\`x\`.whl`,
    (m) => `_${m}.whl`,
    (m) => `+${m}.whl`,
    (m) => `~${m}.whl`,
    (m) => `${m}-1.0.whl.metadata`,
    (m) => `${m}-1.0.tmp`,
    (m) => ` ${m}.whl`,
    (m) => `${m}.whl `,
  ];
  // Too long for every name derived from it (temp files, .metadata) to fit NAME_MAX.
  for (const bytes of [201, 220, 237, 238, 240, 250, 255, 256, 270, 300]) {
    shapes.push((m) => `${m}-${'a'.repeat(bytes - m.length - 5)}.whl`);
  }
  const names = shapes.map((shape, i) => shape(`zq${String(i).padStart(2, '0')}x`));
  return names;
}

test('finding 5: file names the mirror cannot store are skipped, one warning each; every other file mirrors, exit 0', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const bad = hostileFilenames();
  // At most 15 bad names per page: the client shows the first 20 problems of a page one by one.
  const projects = ['hostile-a', 'hostile-b', 'hostile-c', 'hostile-d'];
  const routes: Record<string, Route> = { ...listingRoute(projects) };
  const good = new Map<string, FakeDist[]>();
  projects.forEach((name, p) => {
    const own = goodProject(name).files;
    good.set(name, own);
    const theirs = bad.filter((_, i) => i % projects.length === p).map((f) => dist(f));
    Object.assign(
      routes,
      projectRoutes(name, [own[0] as FakeDist, ...theirs, own[1] as FakeDist], { html: p >= 2 }),
    );
  });
  const up = await upstreamOf(t, 'hostile-file-names', routes);
  const cfg = await writeAttackConfig(dir, { mirror_file_path: root, index_url: up.url });
  const run = await runCliMeasured(t, ['sync', cfg]);
  assertBounded(run, 'sync');
  assert.equal(run.code, 0, run.output);
  for (const [name, files] of good) {
    for (const f of files) assert.deepEqual(await readFile(join(root, name, f.filename)), f.bytes);
    const page = await readFile(join(root, name, 'index.html'), 'utf8');
    assert.equal(page.match(/<a /g)?.length, 2, `${name}: the page links its two good files only`);
  }
  bad.forEach((name, i) => {
    const marker = `zq${String(i).padStart(2, '0')}x`;
    const lines = run.output.split('\n').filter((l) => l.includes(marker));
    assert.equal(lines.length, 1, `${JSON.stringify(name)}: one warning, got ${lines.length}`);
    assert.match(lines[0] ?? '', /^warn/);
  });
  for (const name of projects) {
    const entries = (await readdir(join(root, name))).sort();
    assert.deepEqual(
      entries,
      [...(good.get(name) ?? []).map((f) => f.filename), 'index.html', 'index.v1_json'].sort(),
    );
  }
  t.diagnostic(`cases: ${bad.length}`);
});

test('finding 5: a 300-character project name in the listing is skipped; the root page and state are still written', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const long = `a${'-b'.repeat(150)}`; // 301 characters, a valid name
  const longer = 'x'.repeat(2000);
  const routes: Record<string, Route> = {
    ...listingRoute(['alpha', long, longer]),
    ...goodProject('alpha').routes,
  };
  const up = await upstreamOf(t, 'long-project-name', routes);
  const cfg = await writeAttackConfig(dir, { mirror_file_path: root, index_url: up.url });
  for (let i = 0; i < 2; i++) {
    const run = await runCliMeasured(t, ['sync', cfg]);
    assertBounded(run, `sync ${i + 1}`);
    assert.equal(run.code, 0, run.output);
    assert.equal(run.output.split('project skipped: its name cannot be stored').length - 1, 2, run.output);
  }
  assert.match(await readFile(join(root, 'index.html'), 'utf8'), /href="alpha\/"/);
  const state = JSON.parse(await readFile(join(root, '.pypimirror/state.json'), 'utf8')) as {
    projects: object;
  };
  assert.deepEqual(Object.keys(state.projects), ['alpha']);
  assert.ok(
    !up.requests().some((r) => r.path.includes('xxxx') || r.path.includes('-b-b')),
    'never asked for',
  );
  t.diagnostic('cases: 2');
});

/** `pypimirror <args>` under `umask 000`, as a shell would start it. */
function runUnderUmask000(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'umask 000; exec "$@"', 'sh', process.execPath, CLI, ...args], {
      cwd: repoRoot,
      env: { ...process.env, JOURNAL_STREAM: undefined, PYPIMIRROR_CONFIG: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('finding 6: under umask 000 every directory is 0755 and every file 0644', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'new/parents/mirror');
  const big = { filename: 'alpha-2.0.tar.gz', bytes: Buffer.alloc(9 << 20, 7) }; // through the slots (>= 8 MiB)
  const files = [...goodProject('alpha').files, big];
  const up = await upstreamOf(t, 'umask', { ...listingRoute(['alpha']), ...projectRoutes('alpha', files) });
  const cfg = await writeAttackConfig(dir, {
    mirror_file_path: root,
    index_url: up.url,
    metrics_file: join(dir, 'new/metrics/pypimirror.prom'),
  });
  const run = await runUnderUmask000(['sync', cfg]);
  assert.equal(run.code, 0, run.output);
  const modes = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const path = join(at, e.name);
      modes.set(path.slice(dir.length), ((await stat(path)).mode & 0o777).toString(8));
      if (e.isDirectory()) await walk(path);
    }
  };
  await walk(join(dir, 'new'));
  let cases = 0;
  for (const [path, mode] of modes) {
    const isDir = (await stat(join(dir, path))).isDirectory();
    assert.equal(mode, isDir ? '755' : '644', `${path} is ${isDir ? 'a directory' : 'a file'}`);
    cases++;
  }
  assert.ok(modes.has('/new/parents/mirror/alpha/alpha-2.0.tar.gz'));
  assert.ok(modes.has('/new/parents/mirror/.pypimirror/projects/alpha.json'));
  t.diagnostic(`cases: ${cases}`);
});

test('finding 6: the run lock directory is 0755 under umask 000', async (t) => {
  const dir = await makeTempDir(t);
  const previous = process.umask(0o000);
  t.after(() => process.umask(previous));
  const lock = await acquireRunLock({
    lockFile: join(dir, 'new/.pypimirror.lock'),
    log: silentLogger,
    onLost: () => {},
  });
  t.after(() => lock.release());
  assert.equal(((await stat(lock.path)).mode & 0o777).toString(8), '755');
  assert.equal(((await stat(join(dir, 'new'))).mode & 0o777).toString(8), '755');
  assert.equal(((await stat(`${lock.path}.owner`)).mode & 0o777).toString(8), '644');
  t.diagnostic('cases: 3');
});

test('finding 6: lock_file_name = lock (or any name a project could have) is a config error', async (t) => {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const cases = ['lock', 'locks/run.lock', 'index.html', '.pypimirror', '.pypimirror/state.json', '.'];
  for (const lock of cases) {
    const cfg = await writeAttackConfig(dir, {
      mirror_file_path: root,
      index_url: 'http://127.0.0.1:9/simple/',
      lock_file_name: lock,
    });
    for (const command of ['check', 'sync']) {
      const run = await runCliMeasured(t, [command, cfg]);
      assert.equal(run.code, 2, `${command} with ${lock}: ${run.output}`);
      assert.match(
        run.output,
        new RegExp(`pypimirror\\.cfg:4: \\[mirror\\] lock_file_name = "${lock.replace(/\./g, '\\.')}": `),
      );
      assert.match(
        run.output,
        /expected a name no project can have .*like \.pypimirror\.lock.* or a path outside the mirror/,
      );
    }
  }
  // Still fine: the default, a hidden name, a z3c-style name with a dot, a path outside.
  for (const lock of [
    '.pypimirror.lock',
    '.run/lock',
    'pypi-poll-access.lock',
    join(dir, 'elsewhere.lock'),
  ]) {
    const cfg = await writeAttackConfig(dir, {
      mirror_file_path: root,
      index_url: 'http://127.0.0.1:9/simple/',
      lock_file_name: lock,
    });
    const run = await runCliMeasured(t, ['check', cfg]);
    assert.equal(run.code, 0, `check with ${lock}: ${run.output}`);
  }
  t.diagnostic(`cases: ${cases.length * 2 + 4}`);
});
