// The attack tests' runner: the built CLI in a child process, its peak memory read from /proc while it runs,
// killed (and said to be) if it does not end on its own within a bound.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { type HostileUpstream, type Scenario, startHostileUpstream } from './hostile-upstream.js';
import { CLI } from './run-cli.js';
import { repoRoot } from './repo-root.js';

/** Every attack run must stay under this peak RSS (issue #10's goal for the attack suite). */
export const ATTACK_RSS_LIMIT_MIB = 300;

/** How often /proc/<pid>/status is read. VmHWM is a high-water mark, so a read late still sees an earlier peak. */
const POLL_MS = 20;

export interface MeasuredRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved. */
  readonly output: string;
  /** The child's VmHWM as last read before it exited, in MiB (0 when it never could be read). */
  readonly peakRssMiB: number;
  /** True when the run did not end by itself within `timeoutMs` and was killed. */
  readonly timedOut: boolean;
}

async function readPeakKiB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? null : Number(kib);
  } catch {
    return null; // gone already
  }
}

/**
 * Runs `pypimirror <args>` (dist/src/pypimirror.cjs through node, with the flags of its #! line) and measures it.
 * `signalAfterMs` sends `signal` (default SIGTERM) once, that long after the start; `signalWhen` sends it
 * once, the first time the predicate holds (polled with the RSS), so a signal can wait for the child to
 * reach a point (a request the upstream saw) however slowly a loaded machine starts it.
 */
export function runCliMeasured(
  t: TestContext,
  args: readonly string[],
  opts: {
    timeoutMs?: number;
    env?: Record<string, string>;
    signalAfterMs?: number;
    signalWhen?: () => boolean;
    signal?: NodeJS.Signals;
  } = {},
): Promise<MeasuredRun> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const child = spawn(process.execPath, ['--single-threaded-gc', CLI, ...args], {
    cwd: repoRoot,
    env: {
      ...process.env,
      JOURNAL_STREAM: undefined,
      PYPIMIRROR_CONFIG: undefined,
      GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=33554432',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let peakKiB = 0;
  let timedOut = false;
  const pid = child.pid;
  let isSignalled = false;
  const poll = setInterval(() => {
    if (pid === undefined) return;
    if (!isSignalled && opts.signalWhen?.() === true) {
      isSignalled = true;
      child.kill(opts.signal ?? 'SIGTERM');
    }
    void readPeakKiB(pid).then((kib) => {
      if (kib !== null && kib > peakKiB) peakKiB = kib;
    });
  }, POLL_MS);
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const signaller =
    opts.signalAfterMs === undefined
      ? undefined
      : setTimeout(() => child.kill(opts.signal ?? 'SIGTERM'), opts.signalAfterMs);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      if (signaller !== undefined) clearTimeout(signaller);
      resolve({ code, signal, output, peakRssMiB: Math.round(peakKiB / 102.4) / 10, timedOut });
    });
  });
}

/** Writes `<dir>/pypimirror.cfg`: `[mirror]` and the given keys (values as written in the file). */
export async function writeAttackConfig(
  dir: string,
  values: Readonly<Record<string, string>>,
): Promise<string> {
  const path = join(dir, 'pypimirror.cfg');
  const lines = ['[mirror]', ...Object.entries(values).map(([k, v]) => `${k} = ${v}`), ''];
  await writeFile(path, lines.join('\n'));
  return path;
}

/** Starts the upstream of `scenario`, closed after the test. */
export async function startScenario(t: TestContext, scenario: Scenario): Promise<HostileUpstream> {
  const up = await startHostileUpstream(scenario);
  t.after(() => up.close());
  return up;
}

/** The attack suite's promise for every run: it ended by itself, within ATTACK_RSS_LIMIT_MIB. */
export function assertBounded(run: MeasuredRun, what: string): void {
  assert.equal(run.timedOut, false, `${what}: did not end on its own:\n${run.output.slice(-4000)}`);
  assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `${what}: peak RSS ${run.peakRssMiB} MiB`);
}
