// The daemon: ticks, reloads (the SIGHUP path), the lock, status and metrics; then the built CLI under a
// journal-like console with a log file that logrotate moves.
import assert from 'node:assert/strict';
import { readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunOutcome } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { createLogger } from '../../src/logger.js';
import { acquireRunLock } from '../../src/mirror/lock.js';
import type { MirrorStatus } from '../../src/status.js';
import { startCli } from '../helpers/cli-process.js';
import { renderConfig } from '../helpers/daemon-config.js';
import { startDaemonHarness } from '../helpers/daemon-harness.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { runCli } from '../helpers/run-cli.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

function reportOf(outcome: RunOutcome | undefined) {
  assert.ok(outcome?.kind === 'ran', `expected a run, got ${outcome?.kind}`);
  assert.ok(outcome.report !== null);
  return outcome.report;
}

async function projects(root: string): Promise<string[]> {
  return [
    ...new Set((await listTree(root)).filter((p) => p.includes('/')).map((p) => p.split('/')[0] ?? '')),
  ];
}

async function readStatusFile(root: string): Promise<MirrorStatus> {
  return JSON.parse(await readFile(join(root, '.pypimirror', 'status.json'), 'utf8')) as MirrorStatus;
}

async function startFake(t: import('node:test').TestContext, latencyMs = 0) {
  const fake = await startFakeUpstream({ latencyMs });
  t.after(() => fake.close());
  seedCatalogue(fake);
  return fake;
}

describe('daemon, in process', () => {
  it('syncs at start, then sync_interval after the end of each run', async (t) => {
    const fake = await startFake(t);
    const h = await startDaemonHarness(t, fake, { package_matches: 'foo*', sync_interval: '150ms' });
    await h.waitForRuns(4);
    await h.stop();
    const first = reportOf(h.runs[0]?.outcome);
    assert.equal(first.filesFetched, 2);
    for (let i = 1; i < h.runs.length; i++) {
      const previous = reportOf(h.runs[i - 1]?.outcome);
      const next = reportOf(h.runs[i]?.outcome);
      const gapMs = Date.parse(next.startedAt) - Date.parse(previous.finishedAt);
      assert.ok(gapMs >= 145, `run ${i} started ${gapMs} ms after the previous one ended`);
      assert.ok(gapMs < 1500, `run ${i} started ${gapMs} ms after the previous one ended`);
    }
    assert.deepEqual(await projects(h.root), ['foo-bar']);
  });

  it('a scope change on reload (SIGHUP) syncs within 2 s: new projects fetched, dropped ones cleaned', async (t) => {
    const fake = await startFake(t);
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo* demo-lib', sync_interval: '1h' },
      { isWatching: false },
    );
    await h.waitForRuns(1);
    assert.deepEqual(await projects(h.root), ['demo-lib', 'foo-bar']);

    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo* zope.*', sync_interval: '1h' })),
    );
    const asked = performance.now();
    h.daemon.reload('SIGHUP');
    await h.waitForRuns(2, 5000);
    const tookMs = (h.runs[1]?.endedAt ?? Infinity) - asked;
    assert.ok(tookMs < 2000, `the sync after the reload ended ${tookMs} ms after it`);
    const report = reportOf(h.runs[1]?.outcome);
    assert.equal(report.projectsRemoved, 1);
    assert.deepEqual(await projects(h.root), ['foo-bar', 'zope-interface']);
    t.diagnostic(`scope change → sync finished in ${tookMs.toFixed(0)} ms`);
    assert.equal(h.log.find('config change accepted')[0]?.fields['changed'], 'package_matches');
  });

  it('a change while a run is going waits for it, then syncs right after', async (t) => {
    const fake = await startFake(t);
    const big = await fake.addBigFile('foo_bar', 'foo_bar-2.0.tar.gz', 1024 * 1024);
    fake.throttle((p) => p.endsWith(big.filename), 1024 * 1024, { times: 1 });
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo*', sync_interval: '1h' },
      { isWatching: false },
    );
    await fake.waitForRequest((r) => r.path.endsWith(big.filename));
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo* demo-app', sync_interval: '1h' })),
    );
    h.daemon.reload('SIGHUP');
    await waitFor('the change to be accepted', () => h.log.find('config change accepted').length > 0);
    assert.equal(h.log.find('config change accepted')[0]?.fields['applies'], 'after the current sync');
    assert.equal(h.runs.length, 0);
    await h.waitForRuns(2);
    const first = reportOf(h.runs[0]?.outcome);
    const second = reportOf(h.runs[1]?.outcome);
    assert.equal(first.projectsChecked, 1, 'the first run kept the config it started with');
    assert.ok(Date.parse(second.startedAt) >= Date.parse(first.finishedAt));
    assert.ok(Date.parse(second.startedAt) - Date.parse(first.finishedAt) < 1000);
    assert.deepEqual(await projects(h.root), ['demo-app', 'foo-bar']);
  });

  it('a sync_interval change applies at the next wait, and does not sync by itself', async (t) => {
    const fake = await startFake(t);
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo*', sync_interval: '1h' },
      { isWatching: false },
    );
    await h.waitForRuns(1);
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo*', sync_interval: '100ms' })),
    );
    h.daemon.reload('SIGHUP');
    await waitFor('the change to be accepted', () => h.log.find('config applied').length > 0);
    assert.equal(h.log.find('config change accepted')[0]?.fields['sync'], 'at the next tick');
    await sleep(400);
    assert.equal(h.runs.length, 1, 'the wait under way still uses the old interval');
    // A scope change ends the wait; the waits after it use the new interval.
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo* demo-app', sync_interval: '100ms' })),
    );
    h.daemon.reload('SIGHUP');
    await h.waitForRuns(4, 5000);
  });

  it('a bad config on reload is logged with every error and its line, and the old config stays', async (t) => {
    const fake = await startFake(t);
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo*', sync_interval: '100ms' },
      { isWatching: false },
    );
    await h.waitForRuns(1);
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'zope.*', sync_interval: 'soon', workers: 'many' })),
    );
    h.daemon.reload('SIGHUP');
    await waitFor('the errors', () => h.log.find('config not applied').length > 0);
    const errors = h.log.records.filter((r) => r.level === 'error').map((r) => r.msg);
    assert.match(errors.join('\n'), /config not applied: 2 problems; keeping the current config/);
    assert.ok(
      errors.some((m) => m.startsWith(`${h.configPath}:5: [mirror] sync_interval = "soon"`)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((m) => m.startsWith(`${h.configPath}:6: [mirror] workers = "many"`)),
      errors.join('\n'),
    );
    const before = h.runs.length;
    await h.waitForRuns(before + 2);
    assert.deepEqual(await projects(h.root), ['foo-bar']);
    assert.equal(h.log.find('config applied').length, 0);
  });

  it('builds a new upstream client when index_url, workers or timeout change', async (t) => {
    const fake = await startFake(t);
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo*', sync_interval: '1h' },
      { isWatching: false },
    );
    await h.waitForRuns(1);
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo*', sync_interval: '1h', verbose: 'true' })),
    );
    h.daemon.reload('SIGHUP');
    await waitFor('the change', () => h.log.find('config applied').length === 1);
    assert.equal(h.clientsBuilt(), 1);
    await writeFile(
      h.configPath,
      renderConfig(h.values({ package_matches: 'foo*', sync_interval: '1h', workers: '2' })),
    );
    h.daemon.reload('SIGHUP');
    await waitFor('the change', () => h.log.find('config applied').length === 2);
    assert.equal(h.clientsBuilt(), 2);
  });

  it('when another run holds the lock, logs who and tries again at the next tick', async (t) => {
    const fake = await startFake(t);
    const dir = await makeTempDir(t);
    const lock = await acquireRunLock({
      lockFile: join(dir, 'shared.lock'),
      log: silentLogger,
      onLost: () => {},
    });
    const h = await startDaemonHarness(t, fake, {
      package_matches: 'foo*',
      sync_interval: '100ms',
      lock_file_name: join(dir, 'shared.lock'),
    });
    await h.waitForRuns(2);
    assert.equal(h.runs[0]?.outcome.kind, 'locked');
    const warning = h.log.find('trying again at the next tick')[0];
    assert.match(
      warning?.msg ?? '',
      /another pypimirror run holds the lock .*shared\.lock: pid \d+ on host .* since /,
    );
    await lock.release();
    await waitFor('a run after the release', () => h.runs.some((r) => r.outcome.kind === 'ran'));
    assert.deepEqual(await projects(h.root), ['foo-bar']);
  });

  it('writes status.json and the metrics file after each run', async (t) => {
    const fake = await startFake(t);
    const dir = await makeTempDir(t);
    const metrics = join(dir, 'textfile', 'pypimirror.prom');
    const h = await startDaemonHarness(t, fake, {
      package_matches: 'foo*',
      sync_interval: '1h',
      metrics_file: metrics,
    });
    await h.waitForRuns(1);
    const status = await readStatusFile(h.root);
    assert.equal(status.command, 'run');
    assert.equal(status.lastRun.result, 'ok');
    assert.equal(status.lastRun.filesFetched, 2);
    assert.equal(status.lastSuccessAt, status.lastRun.finishedAt);
    // The next run is an interval after the run's end (a few ms after the report's own end: status, lock).
    const nextInMs = Date.parse(status.nextRunAt ?? '') - Date.parse(status.lastRun.finishedAt);
    assert.ok(nextInMs >= 3_600_000 && nextInMs < 3_601_000, `next run in ${nextInMs} ms`);
    const text = await readFile(metrics, 'utf8');
    assert.match(text, /^pypimirror_last_run_files_fetched\{mirror="[^"]+"\} 2$/m);
    assert.match(text, /^pypimirror_last_success_timestamp_seconds\{mirror="[^"]+"\} \d+(\.\d+)?$/m);
  });

  it('a lost lock aborts the run, and the status says so', async (t) => {
    const fake = await startFake(t);
    const big = await fake.addBigFile('foo_bar', 'foo_bar-2.0.tar.gz', 4 * 1024 * 1024);
    fake.throttle((p) => p.endsWith(big.filename), 512 * 1024, { times: 1 });
    const h = await startDaemonHarness(
      t,
      fake,
      { package_matches: 'foo*', sync_interval: '1h' },
      { lock: { staleMs: 2000, updateMs: 1000 } },
    );
    await fake.waitForRequest((r) => r.path.endsWith(big.filename));
    await rmdir(join(h.root, '.pypimirror.lock'));
    await h.waitForRuns(1, 8000);
    const outcome = h.runs[0]?.outcome;
    assert.ok(outcome?.kind === 'ran');
    assert.equal(outcome.result, 'aborted');
    const status = await readStatusFile(h.root);
    assert.equal(status.lastRun.result, 'aborted');
    assert.match(status.lastRun.error ?? '', /run lock .* was lost/);
    assert.equal(h.log.find('run lock lost; aborting the run', 'error').length, 1);
    await assert.rejects(stat(join(h.root, 'foo-bar', big.filename)));
  });
});

describe('daemon, the built CLI', () => {
  it('logs journal-style to the console, with timestamps to the file, and reopens the file on SIGHUP', async (t) => {
    const fake = await startFake(t);
    fake.addProject('other', [buildWheel({ name: 'other', version: '1.0' })]);
    const dir = await makeTempDir(t);
    const log = join(dir, 'log', 'pypimirror.log');
    const config = join(dir, 'pypimirror.cfg');
    const values = {
      mirror_file_path: join(dir, 'mirror'),
      index_url: fake.url,
      package_matches: 'foo*',
      sync_interval: '200ms',
      log_filename: log,
    };
    await writeFile(config, renderConfig(values));
    const run = startCli(t, ['run', config], { env: { JOURNAL_STREAM: '8:12345' } });
    await run.waitForOutput(/sync finished/);
    // logrotate: move the file away, then signal.
    await rename(log, `${log}.1`);
    run.kill('SIGHUP');
    await run.waitForOutput(/SIGHUP received: log file reopened/);
    await waitFor('the new log file', () =>
      stat(log).then(
        () => true,
        () => false,
      ),
    );
    await waitFor('a summary line in the new file', async () =>
      /sync finished/.test(await readFile(log, 'utf8')),
    );
    run.kill('SIGTERM');
    assert.equal((await run.waitForExit()).code, 0);

    const consoleLines = run.output().trim().split('\n');
    for (const line of consoleLines) assert.match(line, /^<[3467]>\S/, `not journal-style: ${line}`);
    assert.ok(consoleLines.includes('<4>SIGTERM received: stopping after cleaning up in-flight downloads'));
    const rotated = await readFile(`${log}.1`, 'utf8');
    const current = await readFile(log, 'utf8');
    assert.match(rotated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: daemon started /m);
    assert.match(
      rotated,
      /^\S+Z info: sync finished: 1 projects checked, 1 changed, 2 files \([\d.]+ KiB\) fetched/m,
    );
    assert.match(current, /^\S+Z info: sync finished: 1 projects checked, 0 changed/m);
    assert.match(current, /^\S+Z info: daemon stopped$/m);
    // Each line is in one file only.
    assert.doesNotMatch(current, /daemon started/);
  });

  it('exits 2 on a bad config at start', async () => {
    const dir = await import('node:os').then((os) => os.tmpdir());
    const result = await runCli(['run', join(dir, 'pypimirror-no-such-config.cfg')], { timeoutMs: 20_000 });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /pypimirror-no-such-config\.cfg/);
  });
});

describe('daemon logging', () => {
  it('a reloaded config switches verbose and log_filename; reopen() follows a rotated file', async (t) => {
    const dir = await makeTempDir(t);
    const console = new PassThrough();
    let consoleText = '';
    console.on('data', (d: Buffer) => (consoleText += d.toString()));
    const first = join(dir, 'first.log');
    const second = join(dir, 'logs', 'second.log');
    const logging = createLogger({ verbose: false, logFile: first, env: {}, isTty: false, stream: console });
    t.after(() => logging.close());
    logging.logger.debug('hidden');
    logging.logger.info('one');
    logging.configure({ verbose: true, logFile: second });
    logging.logger.debug('two', { project: 'numpy' });
    await waitFor('the line in second.log', async () =>
      /two/.test(await readFile(second, 'utf8').catch(() => '')),
    );
    await rename(second, `${second}.1`);
    logging.reopen();
    logging.logger.warn('three');
    await logging.close();
    assert.match(await readFile(first, 'utf8'), /^\S+Z info: one\n$/);
    assert.match(await readFile(`${second}.1`, 'utf8'), /^\S+Z debug: two project=numpy\n$/);
    assert.match(await readFile(second, 'utf8'), /^\S+Z warn: three\n$/);
    assert.equal(consoleText, 'info: one\ndebug: two project=numpy\nwarn: three\n');
  });
});
