// Run-lock holders for the lock tests: a lock left behind by a killed holder (on this host or another), and
// a live holder process whose event loop is blocked (as by a long synchronous parse) until the test lets go.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ownerPath } from '../../src/mirror/lock.js';
import { repoRoot } from './repo-root.js';
import { waitFor } from './wait-for.js';

const LOCK_MODULE = pathToFileURL(join(repoRoot, 'dist/src/mirror/lock.js')).href;
const LOG_MODULE = pathToFileURL(join(repoRoot, 'dist/src/log.js')).href;

/** The pid of a process that has exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

/** A lock directory as a killed holder leaves it, with its owner file, last refreshed `ageMs` ago. */
export async function leaveLock(
  lockFile: string,
  owner: { pid: number; host: string; startTime?: number },
  ageMs = 0,
): Promise<void> {
  await mkdir(lockFile, { recursive: true });
  await writeFile(ownerPath(lockFile), JSON.stringify({ ...owner, since: '2026-01-01T00:00:00Z' }));
  await setLockAge(lockFile, ageMs);
}

/** Sets the lock's last refresh (its directory's mtime) to `ageMs` ago. */
export async function setLockAge(lockFile: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  await utimes(lockFile, when, when);
}

export interface BlockedHolder {
  readonly pid: number;
  /** Lets the holder's event loop run again. */
  unblock(): Promise<void>;
  /** After unblock: the holder refreshes a few times, releases, and says whether it ever lost the lock. */
  outcome(): Promise<'kept' | 'lost'>;
}

/**
 * A child process that takes `lockFile` (refreshing every `updateMs`, stale after `staleMs` for others),
 * then blocks its event loop (a synchronous wait, at most 60 s) until unblock(): no timer, no refresh runs.
 */
export async function startBlockedHolder(
  t: TestContext,
  dir: string,
  lockFile: string,
  opts: { staleMs: number; updateMs: number },
): Promise<BlockedHolder> {
  const flag = join(dir, 'unblock');
  const script = `
    const { existsSync } = await import('node:fs');
    const { acquireRunLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const { silentLogger } = await import(${JSON.stringify(LOG_MODULE)});
    let lost = false;
    const lock = await acquireRunLock({
      lockFile: ${JSON.stringify(lockFile)}, log: silentLogger, staleMs: ${opts.staleMs},
      updateMs: ${opts.updateMs}, onLost() { lost = true; },
    });
    console.log('locked');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const until = Date.now() + 60000;
    while (!existsSync(${JSON.stringify(flag)}) && Date.now() < until) Atomics.wait(cell, 0, 0, 20);
    console.log('unblocked');
    await new Promise((r) => setTimeout(r, ${3 * opts.updateMs}));
    await lock.release();
    console.log(lost ? 'lost' : 'kept');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  await waitFor('the holder to take the lock', () => out.includes('locked'), { timeoutMs: 15_000 });
  assert.ok(child.pid !== undefined);
  return {
    pid: child.pid,
    unblock: () => writeFile(flag, ''),
    outcome: async () => {
      await exited;
      const last = out.trim().split('\n').at(-1);
      assert.ok(last === 'kept' || last === 'lost', out);
      return last;
    },
  };
}

/**
 * A CommonJS preload that SIGKILLs its process right after its `KILL_AFTER_STEP`th call that changes a
 * file whose name holds `KILL_LOCK_NAME` (the lock, its owner file, their temp files, the mutex), made
 * through node:fs or node:fs/promises: a holder killed after each step of taking and giving up the lock.
 */
const KILL_AFTER_STEP_PRELOAD = `
const fs = require('node:fs');
const { basename } = require('node:path');
const { syncBuiltinESMExports } = require('node:module');
const name = process.env.KILL_LOCK_NAME;
const after = Number(process.env.KILL_AFTER_STEP);
let steps = 0;
const touches = (p) => typeof p === 'string' && basename(p).includes(name);
const step = () => { if (++steps === after) process.kill(process.pid, 'SIGKILL'); };
for (const m of ['mkdir', 'rmdir', 'unlink', 'rename', 'writeFile', 'open', 'chmod']) {
  const promised = fs.promises[m];
  fs.promises[m] = async function (p, ...rest) {
    const result = await promised.call(this, p, ...rest);
    if (touches(p)) step();
    return result;
  };
  const withCallback = fs[m];
  fs[m] = function (p, ...rest) {
    const cb = rest.at(-1);
    if (!touches(p) || typeof cb !== 'function') return withCallback.call(this, p, ...rest);
    return withCallback.call(this, p, ...rest.slice(0, -1), (...a) => { if (!a[0]) step(); cb(...a); });
  };
}
// The lock's own steps are synchronous calls (mirror/lock.ts); openSync is left alone, as writeFileSync's own
// open is one step with its write.
for (const m of ['mkdirSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'writeFileSync', 'chmodSync']) {
  const direct = fs[m];
  fs[m] = function (p, ...rest) {
    const result = direct.call(this, p, ...rest);
    if (touches(p)) step();
    return result;
  };
}
syncBuiltinESMExports();
`;

/**
 * A process that takes `lockFile` and gives it up, SIGKILLed right after its `step`th change to the lock's
 * files (see KILL_AFTER_STEP_PRELOAD): 'killed', or 'done' when it has fewer steps than that.
 */
export async function holderKilledAfterStep(
  t: TestContext,
  dir: string,
  lockFile: string,
  step: number,
): Promise<'killed' | 'done'> {
  const preload = join(dir, 'kill-after-step.cjs');
  await writeFile(preload, KILL_AFTER_STEP_PRELOAD);
  const script = `
    const { acquireRunLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const { silentLogger } = await import(${JSON.stringify(LOG_MODULE)});
    const lock = await acquireRunLock({ lockFile: ${JSON.stringify(lockFile)}, log: silentLogger, onLost() {} });
    await lock.release();
    console.log('done');`;
  const child = spawn(process.execPath, ['--require', preload, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, KILL_LOCK_NAME: basename(lockFile), KILL_AFTER_STEP: String(step) },
  });
  t.after(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  if (signal === 'SIGKILL') return 'killed';
  assert.equal(code, 0, out);
  assert.equal(out.trim(), 'done');
  return 'done';
}
