// Start-up loads what a command needs (issue #14 part 3): `--version` loads nothing (not even the program's
// bundle), `--help` none of our dependencies, `check` neither the upstream client (undici), the logger
// (winston) nor the watcher (chokidar), nor what describes a closure or [upstream:NAME] sections its config
// has none of; `sync` not the bundle or verify code; a no-op sync through the changelog neither the HTML
// parser (htmlparser2) nor undici's index. The command runs as users run it (dist/src/pypimirror.cjs, the
// bundle), and V8's coverage says which modules it evaluated: the bundle wraps each module loaded lazily in a
// function named after the module's path (`dist/src/check.js`, `node_modules/winston/lib/winston.js`), which
// runs when the module is loaded; what stays outside the bundle (the AWS SDK) is a script of its own. Times
// are the bench's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { repoRoot } from '../helpers/repo-root.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tree.js';
import { readVersion } from '../../src/version.js';

const BUNDLE = join(CLI, '..', 'pypimirror.bundle.cjs');

/** One script of V8's coverage (NODE_V8_COVERAGE): each function, and how often its first range ran. */
interface ScriptCoverage {
  readonly url: string;
  readonly functions: readonly { functionName: string; ranges: readonly { count: number }[] }[];
}

/** The module paths of `path` (`node_modules/undici/index.js` → package `undici`, file `undici/index.js`). */
function classify(path: string, into: { packages: Set<string>; files: Set<string>; own: Set<string> }): void {
  const dep = /(?:^|\/)node_modules\/(((?:@[^/]+\/)?[^/]+)\/.*)$/.exec(path);
  if (dep !== null) {
    into.packages.add(dep[2] as string);
    into.files.add(dep[1] as string);
  }
  const ours = /(?:^|\/)dist\/src\/(.+)$/.exec(path);
  if (ours !== null && dep === null) into.own.add(ours[1] as string);
}

/**
 * The packages under node_modules that `pypimirror <args>` evaluates, the files it evaluates from them, our
 * own modules (paths under dist/src/), whether it loaded the bundle, and its exit code. The command runs
 * while this process serves (a fake upstream).
 */
async function loadedPackages(
  t: TestContext,
  args: readonly string[],
): Promise<{ code: number | null; packages: string[]; files: string[]; own: string[]; isBundled: boolean }> {
  const coverage = await makeTempDir(t);
  const child = spawn(CLI, args, {
    timeout: 60_000,
    env: { ...process.env, PYPIMIRROR_CONFIG: undefined, NODE_V8_COVERAGE: coverage },
  });
  child.stderr.resume();
  child.stdout.resume();
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const into = { packages: new Set<string>(), files: new Set<string>(), own: new Set<string>() };
  let isBundled = false;
  for (const name of await readdir(coverage)) {
    const { result } = JSON.parse(await readFile(join(coverage, name), 'utf8')) as {
      result: ScriptCoverage[];
    };
    for (const script of result) {
      if (!script.url.startsWith('file:')) continue;
      const path = fileURLToPath(script.url);
      if (path !== BUNDLE) {
        classify(path, into);
        continue;
      }
      isBundled = true;
      for (const fn of script.functions) {
        if ((fn.ranges[0]?.count ?? 0) > 0) classify(fn.functionName, into);
      }
    }
  }
  const sorted = (set: Set<string>): string[] => [...set].sort();
  return {
    code: status,
    packages: sorted(into.packages),
    files: sorted(into.files),
    own: sorted(into.own),
    isBundled,
  };
}

test('--version loads nothing, --help no dependency', async (t) => {
  const version = await loadedPackages(t, ['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.isBundled, false, 'the bundle is not even read');
  assert.deepEqual([...version.packages, ...version.own], ['pypimirror.cjs']);
  const help = await loadedPackages(t, ['--help']);
  assert.equal(help.code, 0);
  assert.ok(help.isBundled);
  assert.deepEqual(help.packages, []);
  assert.ok(help.own.includes('cli.js'), help.own.join(' '));
});

test('check loads neither undici, winston nor chokidar; sync not the bundle or verify code', async (t) => {
  const dir = await makeTempDir(t);
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${join(dir, 'mirror')}\npackage_matches = requests\n`,
  );
  const { code, packages, own, isBundled } = await loadedPackages(t, ['check', config]);
  assert.equal(code, 0);
  assert.ok(isBundled, 'check runs from the bundle');
  for (const heavy of ['undici', 'winston', 'chokidar', 'proper-lockfile', 'htmlparser2']) {
    assert.ok(!packages.includes(heavy), `check loaded ${heavy}: ${packages.join(' ')}`);
  }
  // No closure, no [upstream:NAME] section, no state: nothing that describes them.
  for (const module of ['sync/closure.js', 'sync/upstreams.js', 'sync/guards.js', 'sync/release-times.js']) {
    assert.ok(!own.includes(module), `check loaded ${module}: ${own.join(' ')}`);
  }
  // ...while sync does load them (so the coverage sees what it should), but not the bundle or verify code.
  const sync = await loadedPackages(t, ['sync', '--dry-run', config]);
  assert.ok(sync.packages.includes('undici'), sync.packages.join(' '));
  assert.ok(sync.own.includes('sync/upstreams.js'), sync.own.join(' '));
  for (const module of ['bundle/commands.js', 'bundle/export.js', 'bundle/import.js', 'verify.js']) {
    assert.ok(!sync.own.includes(module), `sync loaded ${module}: ${sync.own.join(' ')}`);
  }
});

/** A fake upstream serving one project, `demo` (one wheel), and a config that mirrors it into `dir`/mirror. */
async function demoMirror(t: TestContext): Promise<{ fake: FakeUpstream; dir: string; config: string }> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('demo', [{ filename: 'demo-1.0-py3-none-any.whl', bytes: Buffer.from('demo wheel') }]);
  const dir = await makeTempDir(t);
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${join(dir, 'mirror')}\nindex_url = ${fake.url}\npackage_matches = demo\n`,
  );
  return { fake, dir, config };
}

test("a no-op sync through the changelog loads neither htmlparser2 nor undici's index", async (t) => {
  const { fake, config } = await demoMirror(t);
  const first = await loadedPackages(t, ['sync', config]);
  assert.equal(first.code, 0);
  fake.resetLog();
  const noop = await loadedPackages(t, ['sync', config]);
  assert.equal(noop.code, 0);
  assert.deepEqual(
    fake.requests.map((r) => r.path),
    ['/pypi'],
    'one request: the changelog',
  );
  assert.ok(!noop.packages.includes('htmlparser2'), noop.packages.join(' '));
  assert.ok(noop.packages.includes('undici'), noop.packages.join(' '));
  assert.ok(!noop.files.includes('undici/index.js'), noop.files.join(' '));
});

/** The built-in modules (`node:http2`, `internal/perf/performance`) that `pypimirror <args>` loaded. */
async function loadedBuiltins(t: TestContext, args: readonly string[]): Promise<string[]> {
  const dir = await makeTempDir(t);
  const out = join(dir, 'builtins.json');
  const hook = join(dir, 'builtins.cjs');
  // Preloaded through NODE_OPTIONS; Node's own list of what it loaded, at exit.
  await writeFile(
    hook,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, ` +
      `JSON.stringify(process.moduleLoadList)));\n`,
  );
  const child = spawn(CLI, args, {
    timeout: 60_000,
    env: { ...process.env, PYPIMIRROR_CONFIG: undefined, NODE_OPTIONS: `--require ${hook}` },
  });
  child.stderr.resume();
  child.stdout.resume();
  assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
  const list = JSON.parse(await readFile(out, 'utf8')) as string[];
  return list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

test('a sync from an http:// upstream loads neither http2, tls nor perf_hooks', async (t) => {
  const { dir, config } = await demoMirror(t);
  for (const run of ['first', 'no-op']) {
    const builtins = await loadedBuiltins(t, ['sync', config]);
    assert.ok(builtins.includes('http'), `${run}: ${builtins.join(' ')}`); // the list is Node's own
    for (const unneeded of ['http2', 'tls', 'perf_hooks']) {
      assert.ok(!builtins.includes(unneeded), `the ${run} sync loaded ${unneeded}: ${builtins.join(' ')}`);
    }
  }
  assert.ok(await readFile(join(dir, 'mirror', 'demo', 'demo-1.0-py3-none-any.whl')));
});

test('a code cache V8 rejects costs only speed, and without the bundle the command runs main.js', async (t) => {
  // A copy of the command beside the real bundle and modules (dist/src/ as links), with a cache of garbage.
  const dir = await makeTempDir(t);
  const src = join(dir, 'dist', 'src');
  await mkdir(src, { recursive: true });
  await copyFile(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  await copyFile(CLI, join(src, 'pypimirror.cjs'));
  const real = join(repoRoot, 'dist', 'src');
  for (const name of await readdir(real)) {
    if (!/^pypimirror\.(cjs|\w+\.cache)$/.test(name)) await symlink(join(real, name), join(src, name));
  }
  await writeFile(join(src, 'pypimirror.sync.cache'), Buffer.alloc(4096, 7));
  const command = join(src, 'pypimirror.cjs');
  const training = { PYPIMIRROR_TRAIN_CODE_CACHE: '1' }; // says whether V8 took the cache
  const rejected = await runCli(['--help'], { cli: command, env: training });
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.match(rejected.stdout, /^Usage: pypimirror <command>/);
  assert.match(rejected.stderr, /^code cache pypimirror\.sync\.cache: rejected$/m);
  const retrained = await runCli(['--help'], { cli: command, env: training });
  assert.match(retrained.stderr, /^code cache pypimirror\.sync\.cache: accepted$/m);

  await rm(join(src, 'pypimirror.bundle.cjs'));
  const unbundled = await runCli(['--help'], { cli: command, env: training });
  assert.equal(unbundled.code, 0, unbundled.stderr);
  assert.match(unbundled.stdout, /^Usage: pypimirror <command>/);
  assert.doesNotMatch(unbundled.stderr, /code cache/);
  const version = await runCli(['--version'], { cli: command });
  assert.equal(version.stdout, `pypimirror ${readVersion()}\n`);
});
