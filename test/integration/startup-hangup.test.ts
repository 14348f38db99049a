// A SIGHUP while the program is still loading (systemd's Type=exec counts the daemon as started at exec, so
// `systemctl reload` or logrotate's postrotate can come at once) must not kill `run`: it is handled once the
// daemon is up. One-shot commands keep SIGHUP's default action. The signal is sent as soon as
// /proc/<pid>/status shows a SIGHUP handler, i.e. right after main.ts installed its guard, while app.ts and
// its dependencies load.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli } from '../helpers/cli-process.js';
import { writeMirrorConfig } from '../helpers/daemon-config.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const SIGHUP_BIT = 1n << 0n; // signal 1, bit 0 of SigCgt

/** Whether `pid` has a handler for SIGHUP (Linux /proc); null once the process is gone. */
async function catchesHangup(pid: number): Promise<boolean | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  const mask = status === null ? undefined : /^SigCgt:\s+([0-9a-f]+)$/m.exec(status)?.[1];
  return mask === undefined ? null : (BigInt(`0x${mask}`) & SIGHUP_BIT) !== 0n;
}

/** Polls every millisecond (at most 10 s) until `pid` catches SIGHUP. */
async function untilHangupCaught(pid: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const caught = await catchesHangup(pid);
    if (caught === true) return;
    if (caught === null) throw new Error('the process ended before it caught SIGHUP');
    if (performance.now() > deadline) throw new Error('no SIGHUP handler after 10 s');
    await sleep(1);
  }
}

async function setUp(t: TestContext): Promise<{ root: string; config: string; log: string }> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('small', [buildWheel({ name: 'small', version: '1.0' })]);
  return writeMirrorConfig(await makeTempDir(t), fake.url, 'small');
}

test('run: a SIGHUP during start-up is handled once the daemon is up, not fatal', async (t) => {
  const s = await setUp(t);
  const run = startCli(t, ['run', s.config]);
  await untilHangupCaught(run.pid);
  run.kill('SIGHUP');
  await run.waitForOutput(/SIGHUP received during start-up \(1×\): handling it now/);
  await run.waitForOutput(/SIGHUP received: log file reopened/);
  // The daemon goes on: its first sync completes and publishes the project.
  await waitFor('the first sync', async () =>
    (await readFile(join(s.root, 'small', 'index.html'), 'utf8').catch(() => '')).includes('small-1.0'),
  );
  run.kill('SIGTERM');
  const exit = await run.waitForExit(15_000);
  assert.equal(exit.code, 0, run.output());
  assert.match(await readFile(s.log, 'utf8'), /SIGHUP received during start-up/);
});

test('sync: a SIGHUP during start-up ends it, as SIGHUP always has (default action)', async (t) => {
  const s = await setUp(t);
  const sync = startCli(t, ['sync', s.config]);
  await untilHangupCaught(sync.pid);
  sync.kill('SIGHUP');
  const exit = await sync.waitForExit(15_000);
  assert.equal(exit.signal, 'SIGHUP', sync.output());
});
