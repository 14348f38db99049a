// The run lock: held, refused with the holder named, taken over from a dead or stale holder, lost; and
// across processes: `run` and `sync` never sync at once, a holder killed with -9 does not block the mirror.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LockError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { acquireRunLock, ownerPath, readStartTime, type RunLock } from '../../src/mirror/lock.js';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import { startCli } from '../helpers/cli-process.js';
import { renderConfig } from '../helpers/daemon-config.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import {
  deadPid,
  holderKilledAfterStep,
  leaveLock,
  setLockAge,
  startBlockedHolder,
} from '../helpers/lock-holder.js';
import { repoRoot } from '../helpers/repo-root.js';
import { runCli } from '../helpers/run-cli.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const LOCK_MODULE = pathToFileURL(join(repoRoot, 'dist/src/mirror/lock.js')).href;
const LOG_MODULE = pathToFileURL(join(repoRoot, 'dist/src/log.js')).href;

/** A live process of this host other than this one (killed after the test). */
async function liveProcess(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await once(child, 'spawn');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

function held(lockFile: string): Promise<RunLock> {
  return acquireRunLock({ lockFile, log: silentLogger, onLost: () => {} });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('run lock, in one process', () => {
  it('is held until released, with its holder recorded beside it', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, 'sub', '.pypimirror.lock');
    const lock = await held(lockFile);
    assert.ok((await stat(lockFile)).isDirectory());
    const owner = JSON.parse(await readFile(ownerPath(lockFile), 'utf8')) as Record<string, unknown>;
    assert.equal(owner['pid'], process.pid);
    assert.equal(owner['host'], hostname());
    assert.match(String(owner['since']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(owner['startTime'], readStartTime(process.pid));
    assert.equal(typeof owner['startTime'], 'number');
    await lock.release();
    await lock.release();
    assert.equal(await exists(lockFile), false);
    assert.equal(await exists(ownerPath(lockFile)), false);
  });

  it('is refused while held, naming the holder', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const first = await held(lockFile);
    t.after(() => first.release());
    await assert.rejects(held(lockFile), (err: unknown) => {
      assert.ok(err instanceof LockError);
      assert.equal(err.code, 'LOCK_HELD');
      assert.equal(err.holder?.pid, process.pid);
      assert.equal(
        err.message,
        `another pypimirror run holds the lock ${lockFile}: pid ${process.pid} on host ${hostname()} ` +
          `since ${first.holder.since} (last refreshed 0 s ago)`,
      );
      return true;
    });
  });

  it('is taken over at once from a dead process of this host', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const pid = await deadPid();
    await leaveLock(lockFile, { pid, host: hostname() });
    const log = createCaptureLogger();
    const lock = await acquireRunLock({ lockFile, log, onLost: () => {} });
    t.after(() => lock.release());
    assert.equal(log.find('taking over the run lock').length, 1);
    assert.equal(log.find('taking over')[0]?.fields['pid'], pid);
    const owner = JSON.parse(await readFile(ownerPath(lockFile), 'utf8')) as { pid: number };
    assert.equal(owner.pid, process.pid);
  });

  it('takes over a lock of another host once stale, with a warning naming the holder', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    await leaveLock(lockFile, { pid: 1, host: 'build-elsewhere' });
    await assert.rejects(
      acquireRunLock({ lockFile, log: silentLogger, onLost: () => {}, staleMs: 2000 }),
      /pid 1 on host build-elsewhere since 2026-01-01T00:00:00Z/,
    );
    // Not refreshed for longer than staleMs: the holder is gone, whoever it was.
    await setLockAge(lockFile, 5000);
    const log = createCaptureLogger();
    const lock = await acquireRunLock({ lockFile, log, onLost: () => {}, staleMs: 2000 });
    const warnings = log.find('taking over a stale run lock', 'warn');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]?.msg ?? '',
      /^taking over a stale run lock: held by pid 1 on host build-elsewhere since 2026-01-01T00:00:00Z, last refreshed 5 s ago \(more than 2 s\)$/,
    );
    assert.equal(warnings[0]?.fields['host'], 'build-elsewhere');
    await lock.release();
  });

  it('never takes over the lock of a live process of this host, however long since its refresh', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const live = await liveProcess(t);
    const startTime = readStartTime(live);
    assert.ok(startTime !== null);
    await leaveLock(lockFile, { pid: live, host: hostname(), startTime }, 600_000);
    const log = createCaptureLogger();
    await assert.rejects(
      acquireRunLock({ lockFile, log, onLost: () => {}, staleMs: 2000 }),
      (err: unknown) => {
        assert.ok(err instanceof LockError && err.code === 'LOCK_HELD');
        assert.match(err.message, new RegExp(`pid ${live} on host .* \\(last refreshed 600 s ago\\)$`));
        return true;
      },
    );
    assert.deepEqual(log.find('taking over'), []);
  });

  it("takes over at once when the holder's pid now belongs to another process", async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const live = await liveProcess(t);
    const startTime = readStartTime(live);
    assert.ok(startTime !== null);
    // The holder died and its pid was given to a process started later.
    await leaveLock(lockFile, { pid: live, host: hostname(), startTime: startTime - 1 });
    const log = createCaptureLogger();
    const lock = await acquireRunLock({ lockFile, log, onLost: () => {} });
    t.after(() => lock.release());
    assert.equal(log.find('taking over the run lock of a process that no longer exists').length, 1);
  });

  it('a holder whose event loop is blocked past staleMs keeps its lock, and its refresh does not give it up', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const holder = await startBlockedHolder(t, dir, lockFile, { staleMs: 2000, updateMs: 1000 });
    await waitFor(
      'the blocked holder to miss its refreshes for longer than staleMs',
      async () => Date.now() - (await stat(lockFile)).mtimeMs > 3000,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    await assert.rejects(
      acquireRunLock({ lockFile, log: silentLogger, onLost: () => {}, staleMs: 2000 }),
      (err: unknown) =>
        err instanceof LockError && err.code === 'LOCK_HELD' && err.holder?.pid === holder.pid,
    );
    await holder.unblock();
    assert.equal(await holder.outcome(), 'kept');
  });

  it('gives a dead holder lock to exactly one of many who race for it', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    await leaveLock(lockFile, { pid: await deadPid(), host: hostname() });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => held(lockFile)));
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === 'rejected') assert.equal((r.reason as LockError).code, 'LOCK_HELD');
    }
    await (won[0] as PromiseFulfilledResult<RunLock>).value.release();
  });

  it('gives a dead holder lock to exactly one of many processes', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    await leaveLock(lockFile, { pid: await deadPid(), host: hostname() });
    const script = `
      const { acquireRunLock } = await import(${JSON.stringify(LOCK_MODULE)});
      const { silentLogger } = await import(${JSON.stringify(LOG_MODULE)});
      try {
        const lock = await acquireRunLock({ lockFile: ${JSON.stringify(lockFile)}, log: silentLogger, onLost() {} });
        console.log('won');
        await new Promise((r) => setTimeout(r, 1000));
        await lock.release();
      } catch (err) { console.log(err.code); }`;
    const outputs = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        t.after(() => child.kill('SIGKILL'));
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        await once(child, 'exit');
        return out.trim();
      }),
    );
    assert.deepEqual(outputs.sort(), ['LOCK_HELD', 'LOCK_HELD', 'LOCK_HELD', 'won']);
  });

  it('removes an acquisition mutex whose holder is gone, and an old one of unknown holder', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    // Left by a killed process of this host: removed at once.
    await writeFile(`${lockFile}.acquiring`, `${await deadPid()} ${hostname()}\n`);
    const log = createCaptureLogger();
    await (await acquireRunLock({ lockFile, log, onLost: () => {} })).release();
    // A directory, as versions before 2026-12 made it, not touched for a minute: its holder is gone.
    await mkdir(`${lockFile}.acquiring`);
    await setLockAge(`${lockFile}.acquiring`, 60_000);
    const lock = await acquireRunLock({ lockFile, log, onLost: () => {} });
    await lock.release();
    assert.equal(log.find('removing a lock-acquisition mutex left by a killed process', 'warn').length, 2);
    assert.deepEqual((await readdir(dir)).sort(), []);
  });

  it('reports a lost lock once, and release is then a no-op', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const lost: LockError[] = [];
    const lock = await acquireRunLock({
      lockFile,
      log: silentLogger,
      staleMs: 2000,
      updateMs: 1000,
      onLost: (err) => lost.push(err),
    });
    // Someone removes the lock (a takeover, an admin): the next refresh notices.
    const { rmdir } = await import('node:fs/promises');
    await rmdir(lockFile);
    await waitFor('the lock to be reported lost', () => lost.length > 0, { timeoutMs: 5000 });
    assert.equal(lost[0]?.code, 'LOCK_LOST');
    await lock.release();
    assert.equal(lost.length, 1);
  });
});

async function startBigDownload(t: TestContext) {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('bigproj', [buildWheel({ name: 'bigproj', version: '0.1' })]);
  const big = await fake.addBigFile('bigproj', 'bigproj-1.0.tar.gz', 8 * 1024 * 1024);
  // The first download crawls (about 16 s); later ones are quick.
  fake.throttle((p) => p.endsWith(big.filename), 512 * 1024, { times: 1 });
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    renderConfig({
      mirror_file_path: root,
      index_url: fake.url,
      package_matches: 'bigproj',
      sync_interval: '1h',
    }),
  );
  return { fake, root, config, big };
}

async function listTemps(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.tmp')) found.push(join(d, e.name));
    }
  };
  await walk(root);
  return found;
}

describe('run lock, across processes', () => {
  it('a holder killed after any step of taking or giving up the lock leaves it free for the next run at once', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, '.pypimirror.lock');
    const MAX_STEPS = 30;
    let killed = 0;
    for (let step = 1; step <= MAX_STEPS; step++) {
      if ((await holderKilledAfterStep(t, dir, lockFile, step)) === 'done') break;
      killed++;
      // Whatever the kill left (a mutex, an owner file, a lock and its owner), the holder was of this host
      // and is gone: the lock is free now, not after 60 s without a refresh.
      const log = createCaptureLogger();
      const lock = await acquireRunLock({ lockFile, log, onLost: () => {} }).catch((err: unknown) => {
        assert.fail(`after a kill at step ${step}: ${String(err)}`);
      });
      assert.deepEqual(log.find('stale', 'warn'), [], `step ${step}`);
      const owner = JSON.parse(await readFile(ownerPath(lockFile), 'utf8')) as { pid: number };
      assert.equal(owner.pid, process.pid, `step ${step}`);
      await lock.release();
      assert.deepEqual(
        await readdir(dir).then((names) => names.filter((n) => n.includes('.pypimirror.lock'))),
        [],
        `step ${step}`,
      );
    }
    // Acquisition and release change the lock's files in 8 steps (mutex, owner, lock, mutex; lock, mutex,
    // owner, mutex) and chmods: each was a kill instant.
    assert.ok(killed >= 8 && killed < MAX_STEPS, `killed ${killed} times`);
    t.diagnostic(`cases: ${killed}`);
  });

  it('a `run` killed with -9 does not block the next `sync`', async (t) => {
    const { fake, root, config, big } = await startBigDownload(t);
    const daemon = startCli(t, ['run', config]);
    await fake.waitForRequest((r) => r.path.endsWith(big.filename) && r.bytesSent > 0, 10_000);
    await waitFor('a temp file', async () => (await listTemps(root)).length > 0);
    daemon.kill('SIGKILL');
    await daemon.waitForExit();
    assert.ok(await exists(join(root, '.pypimirror.lock')), 'kill -9 leaves the lock behind');

    const started = performance.now();
    const sync = await runCli(['sync', config], { timeoutMs: 30_000 });
    const elapsed = performance.now() - started;
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.match(sync.stdout, /taking over the run lock of a process that no longer exists/);
    assert.ok(elapsed < 15_000, `sync took ${elapsed} ms`);
    assert.deepEqual(await listTemps(root), []);
    assert.ok(await exists(join(root, 'bigproj', big.filename)));
    assert.equal(await exists(join(root, '.pypimirror.lock')), false);
  });

  it('`sync` exits 75 naming the holder while another run holds the lock', async (t) => {
    const dir = await makeTempDir(t);
    const root = join(dir, 'mirror');
    const config = join(dir, 'pypimirror.cfg');
    await writeFile(
      config,
      renderConfig({ mirror_file_path: root, index_url: 'http://127.0.0.1:9/simple/' }),
    );
    const lock = await held(join(root, '.pypimirror.lock'));
    t.after(() => lock.release());
    const result = await runCli(['sync', config], { timeoutMs: 20_000 });
    assert.equal(result.code, 75, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `another pypimirror run holds the lock ${root}/\\.pypimirror\\.lock: pid ${process.pid} on host ` +
          `${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ`,
      ),
    );
  });

  it('two `run` daemons and a `sync` on one config never sync at once', async (t) => {
    // Every response takes 120 ms and each run has one worker, so a run's requests never overlap each
    // other: any overlap in the upstream's request log would be two runs at once.
    const fake = await startFakeUpstream({ latencyMs: 120 });
    t.after(() => fake.close());
    seedCatalogue(fake);
    const dir = await makeTempDir(t);
    const config = join(dir, 'pypimirror.cfg');
    const log = join(dir, 'pypimirror.log');
    await writeFile(
      config,
      renderConfig({
        mirror_file_path: join(dir, 'mirror'),
        index_url: fake.url,
        package_matches: 'foo* demo-* zope.*',
        sync_interval: '100ms',
        workers: '1',
        log_filename: log,
      }),
    );
    const a = startCli(t, ['run', config]);
    const b = startCli(t, ['run', config]);
    await Promise.all([a.waitForOutput(/sync finished/), b.waitForOutput(/sync finished/, 15_000)]);
    const sync = await runCli(['sync', config], { timeoutMs: 20_000 });
    assert.ok(sync.code === 0 || sync.code === 75, `sync exit ${sync.code}: ${sync.stdout}`);
    await waitFor('both daemons to meet the lock', () =>
      /trying again at the next tick/.test(a.output() + b.output()),
    );
    // The daemons go on syncing every 100 ms, taking turns: a third sync comes whether or not the `sync`
    // command found the lock free (a quick start often finds a daemon holding it).
    const finishedSoFar = (): number =>
      ((a.output() + b.output() + sync.stdout).match(/sync finished/g) ?? []).length;
    await waitFor('a third sync', () => finishedSoFar() >= 3, { timeoutMs: 15_000 });
    a.kill();
    b.kill();
    assert.equal((await a.waitForExit()).code, 0);
    assert.equal((await b.waitForExit()).code, 0);

    assert.equal(fake.maxConcurrent(), 1, 'two runs talked to the upstream at the same time');
    assert.ok(finishedSoFar() >= 3, `${finishedSoFar()} syncs`);
    // Both daemons write the one log file: a summary line per run, with timestamps.
    const text = await readFile(log, 'utf8');
    assert.match(text, /^\d{4}-\d\d-\d\dT[\d:.]+Z info: sync finished: \d+ projects checked/m);
  });
});
