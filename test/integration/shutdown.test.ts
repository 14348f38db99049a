// Shutdown: SIGTERM/SIGINT stop `run` (and `sync`) within seconds, mid-download, leaving no temp file,
// a consistent tree and state, no lock, and exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { MirrorStatus } from '../../src/status.js';
import { pathToFileURL } from 'node:url';
import { startCli } from '../helpers/cli-process.js';
import { writeMirrorConfig } from '../helpers/daemon-config.js';
import { startDaemonHarness } from '../helpers/daemon-harness.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeFile, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { repoRoot } from '../helpers/repo-root.js';
import { makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const BIG_BYTES = 16 * 1024 * 1024;
/** At this rate the big file would take 32 s: any run that ends sooner was stopped. */
const SLOW_BYTES_PER_SEC = 512 * 1024;

async function listTemps(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else if (e.name.endsWith('.tmp')) found.push(join(dir, e.name));
    }
  };
  await walk(root);
  return found;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

interface BigSetup {
  readonly fake: FakeUpstream;
  readonly big: FakeFile;
  readonly dir: string;
  readonly root: string;
  readonly config: string;
  readonly log: string;
}

async function setUp(t: TestContext): Promise<BigSetup> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('small', [buildWheel({ name: 'small', version: '1.0' })]);
  fake.addProject('bigproj', [buildWheel({ name: 'bigproj', version: '0.1' })]);
  const big = await fake.addBigFile('bigproj', 'bigproj-1.0.tar.gz', BIG_BYTES);
  fake.throttle((p) => p.endsWith(big.filename), SLOW_BYTES_PER_SEC);
  const dir = await makeTempDir(t);
  const { root, config, log } = await writeMirrorConfig(dir, fake.url, 'small bigproj');
  return { fake, big, dir, root, config, log };
}

/** Waits until the big file is streaming into its temp file. */
async function waitForBigDownload(s: BigSetup): Promise<void> {
  await s.fake.waitForRequest((r) => r.path.endsWith(s.big.filename) && r.bytesSent > 0, 10_000);
  await waitFor('the temp file', async () => (await listTemps(s.root)).length === 1);
}

async function assertStoppedCleanly(s: BigSetup): Promise<void> {
  assert.deepEqual(await listTemps(s.root), []);
  assert.equal(await exists(join(s.root, 'bigproj', s.big.filename)), false);
  assert.equal(await exists(join(s.root, '.pypimirror.lock')), false, 'the lock is released');
  assert.equal(await exists(join(s.root, '.pypimirror.lock.owner')), false);
  // The state is readable and the tree consistent: every page links only files that are there.
  const status = JSON.parse(
    await readFile(join(s.root, '.pypimirror', 'status.json'), 'utf8'),
  ) as MirrorStatus;
  assert.equal(status.lastRun.result, 'aborted');
  JSON.parse(await readFile(join(s.root, '.pypimirror', 'state.json'), 'utf8'));
  for (const project of ['small', 'bigproj']) {
    const page = await readFile(join(s.root, project, 'index.html'), 'utf8').catch(() => null);
    if (page === null) continue;
    for (const [, href] of page.matchAll(/href="([^"#]+)/g)) {
      assert.ok(await exists(join(s.root, project, href ?? '')), `${project}/index.html links ${href}`);
    }
  }
}

describe('shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} during a large download: exit 0 within 10 s, no temp file, lock released`, async (t) => {
      const s = await setUp(t);
      const run = startCli(t, ['run', s.config]);
      await waitForBigDownload(s);
      const sent = performance.now();
      run.kill(signal);
      const exit = await run.waitForExit(15_000);
      const tookMs = exit.at - sent;
      t.diagnostic(`${signal} → exit ${exit.code} after ${tookMs.toFixed(0)} ms`);
      assert.equal(exit.code, 0, run.output());
      assert.ok(tookMs < 10_000, `${tookMs} ms`);
      await assertStoppedCleanly(s);
      const status = JSON.parse(
        await readFile(join(s.root, '.pypimirror', 'status.json'), 'utf8'),
      ) as MirrorStatus;
      assert.equal(status.lastRun.error, `${signal} received`);
      const text = await readFile(s.log, 'utf8');
      assert.match(text, /warn: sync aborted/);
      assert.match(text, /info: daemon stopped$/m);
    });
  }

  it('SIGTERM stops a `sync` the same way', async (t) => {
    const s = await setUp(t);
    const sync = startCli(t, ['sync', s.config]);
    await waitForBigDownload(s);
    const sent = performance.now();
    sync.kill('SIGTERM');
    const exit = await sync.waitForExit(15_000);
    assert.equal(exit.code, 0, sync.output());
    assert.ok(exit.at - sent < 10_000);
    await assertStoppedCleanly(s);
  });

  it('stopping the daemon in process aborts the transfer and resolves done', async (t) => {
    const s = await setUp(t);
    const h = await startDaemonHarness(t, s.fake, { package_matches: 'small bigproj', sync_interval: '1h' });
    await s.fake.waitForRequest((r) => r.path.endsWith(s.big.filename) && r.bytesSent > 0, 10_000);
    const started = performance.now();
    await h.stop();
    assert.ok(performance.now() - started < 5000);
    await waitFor('the upstream to see the transfer end', () =>
      s.fake.requests.filter((r) => r.path.endsWith(s.big.filename)).every((r) => r.endedAt !== undefined),
    );
    assert.equal(h.runs[0]?.outcome.kind, 'ran');
    assert.ok(h.runs[0]?.outcome.kind === 'ran' && h.runs[0].outcome.result === 'aborted');
    assert.deepEqual(await listTemps(h.root), []);
    assert.equal(await exists(join(h.root, '.pypimirror.lock')), false);
    assert.equal(h.log.find('daemon stopped').length, 1);
  });

  it('a second signal exits at once, while the graceful stop is still under way', async (t) => {
    // A process whose graceful stop never ends: only the second SIGTERM can end it.
    const commands = pathToFileURL(join(repoRoot, 'dist/src/commands.js')).href;
    const log = pathToFileURL(join(repoRoot, 'dist/src/log.js')).href;
    const script = `
      const { abortOnSignals } = await import(${JSON.stringify(commands)});
      const { silentLogger } = await import(${JSON.stringify(log)});
      const { signal } = abortOnSignals(silentLogger);
      signal.addEventListener('abort', () => console.log('stopping'));
      setInterval(() => {}, 1000);
      console.log('ready');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('ready', () => out.includes('ready'));
    child.kill('SIGTERM');
    await waitFor('the graceful stop to begin', () => out.includes('stopping'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(child.exitCode, null, 'still stopping after the first signal');
    const sent = performance.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 128 + 15);
    assert.ok(performance.now() - sent < 2000);
  });
});
