// Start-up loads what a command needs (issue #14 part 3): `--version` and `--help` load none of our
// dependencies (`--version` not even the command line parser), `check` neither the upstream client (undici),
// the logger (winston) nor the watcher (chokidar), nor what describes a closure or [upstream:NAME] sections
// its config has none of; `sync` not the bundle or verify code; a no-op sync through the changelog neither
// the HTML parser (htmlparser2) nor undici's index. A module-resolution hook records every module the built
// CLI loads; times are the bench's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeTempDir } from '../helpers/tree.js';

const CLI = join(repoRoot, 'dist', 'src', 'main.js');

/**
 * The packages under node_modules that `pypimirror <args>` loads, the files it loads from them, our own
 * modules (paths under dist/src/), and its exit code. The CLI runs while this process serves (a fake upstream).
 */
async function loadedPackages(
  t: TestContext,
  args: readonly string[],
): Promise<{ code: number | null; packages: string[]; files: string[]; own: string[] }> {
  const dir = await makeTempDir(t);
  const hooks = join(dir, 'hooks.mjs');
  await writeFile(
    hooks,
    `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.startsWith('file:')) process.stderr.write('LOADED ' + r.url + '\\n');
  return r;
}\n`,
  );
  const register = join(dir, 'register.mjs');
  await writeFile(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  const child = spawn(process.execPath, ['--import', pathToFileURL(register).href, CLI, ...args], {
    timeout: 60_000,
    env: { ...process.env, PYPIMIRROR_CONFIG: undefined },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const packages = new Set<string>();
  const files = new Set<string>();
  const own = new Set<string>();
  for (const line of stderr.split('\n')) {
    const m = /^LOADED .*\/node_modules\/(((?:@[^/]+\/)?[^/]+)\/.*)$/.exec(line);
    if (m !== null) {
      packages.add(m[2] as string);
      files.add(m[1] as string);
    }
    const ours = /^LOADED .*\/dist\/src\/(.+)$/.exec(line);
    if (ours !== null && !line.includes('/node_modules/')) own.add(ours[1] as string);
  }
  return { code: status, packages: [...packages].sort(), files: [...files].sort(), own: [...own].sort() };
}

test('--version and --help load no dependency', async (t) => {
  for (const args of [['--version'], ['--help']]) {
    const { code, packages } = await loadedPackages(t, args);
    assert.equal(code, 0, args.join(' '));
    assert.deepEqual(packages, [], args.join(' '));
  }
  const version = await loadedPackages(t, ['--version']);
  assert.deepEqual(version.own, ['main.js', 'startup-hangups.js', 'version.js']);
});

test('check loads neither undici, winston nor chokidar; sync not the bundle or verify code', async (t) => {
  const dir = await makeTempDir(t);
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${join(dir, 'mirror')}\npackage_matches = requests\n`,
  );
  const { code, packages, own } = await loadedPackages(t, ['check', config]);
  assert.equal(code, 0);
  for (const heavy of ['undici', 'winston', 'chokidar', 'proper-lockfile', 'htmlparser2']) {
    assert.ok(!packages.includes(heavy), `check loaded ${heavy}: ${packages.join(' ')}`);
  }
  // No closure, no [upstream:NAME] section, no state: nothing that describes them.
  for (const module of ['sync/closure.js', 'sync/upstreams.js', 'sync/guards.js', 'sync/release-times.js']) {
    assert.ok(!own.includes(module), `check loaded ${module}: ${own.join(' ')}`);
  }
  // ...while sync does load them (so the hook sees what it should), but not the bundle or verify code.
  const sync = await loadedPackages(t, ['sync', '--dry-run', config]);
  assert.ok(sync.packages.includes('undici'), sync.packages.join(' '));
  assert.ok(sync.own.includes('sync/upstreams.js'), sync.own.join(' '));
  for (const module of ['bundle/commands.js', 'bundle/export.js', 'bundle/import.js', 'verify.js']) {
    assert.ok(!sync.own.includes(module), `sync loaded ${module}: ${sync.own.join(' ')}`);
  }
});

test("a no-op sync through the changelog loads neither htmlparser2 nor undici's index", async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('demo', [{ filename: 'demo-1.0-py3-none-any.whl', bytes: Buffer.from('demo wheel') }]);
  const dir = await makeTempDir(t);
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${join(dir, 'mirror')}\nindex_url = ${fake.url}\npackage_matches = demo\n`,
  );
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
