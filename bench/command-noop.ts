// The bench's syncs through the pypimirror command itself, as cron runs it: its #! line (the glibc and V8
// settings), the config file, the logger, the lock and status.json, from spawn to exit. The no-op: the
// medians of several runs (one process's start varies by tens of ms on a shared machine), judged against
// issue #14's no-op targets (peak RSS, end-to-end time); the first sync, into an empty mirror, against its
// first-sync peak RSS. The sync-child rows beside them show runSync alone.
import { rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeUpstream } from '../test/helpers/fake-upstream.js';
import { findExecutable } from '../test/helpers/web-servers.js';
import {
  atMost,
  combine,
  interleavedRuns,
  ISSUE_14,
  medianRuns,
  type Check,
  type MedianRun,
  type Row,
} from './checks.js';

const COMMAND = fileURLToPath(new URL('../src/pypimirror.cjs', import.meta.url));

/** What the command syncs: `mirrorRoot` (for the no-op, the mirror a first sync left) from `fake`. */
export interface CommandSyncTarget {
  readonly fake: FakeUpstream;
  readonly mirrorRoot: string;
  readonly packageMatches: readonly string[];
  readonly workers: number;
  /** How many runs the figures are the medians of (after one warm-up run, for the no-op). */
  readonly rounds: number;
  /** Scratch directory for the config file and time(1)'s output. */
  readonly work: string;
  /** The bench's lower bound for `requests` and `bytes` (seconds). */
  lowerBound(requests: number, bytes: number): number;
}

/** `pypimirror sync CONFIG` for `target.mirrorRoot`, `rounds` times: the medians, and per run the requests and
 * bytes (every run makes the same ones). `fresh`: the mirror emptied before each run, and no warm-up run. */
async function runCommandSync(
  target: CommandSyncTarget,
  rounds: number,
  fresh: boolean,
): Promise<{ run: MedianRun; node: MedianRun | null; requests: number; bytes: number }> {
  const config = join(target.work, `${basename(target.mirrorRoot)}.cfg`);
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${target.mirrorRoot}\nindex_url = ${target.fake.url}\n` +
      `package_matches = ${target.packageMatches.join(' ')}\nworkers = ${target.workers}\n`,
  );
  const timeTool = findExecutable('time');
  target.fake.resetLog();
  const env = { ...process.env, PYPIMIRROR_CONFIG: undefined };
  const opts = { env, timeTool, scratchFile: join(target.work, 'time.out') };
  const sync = { command: COMMAND, args: ['sync', config] };
  // A first sync is long and its cache is the upstream's: no warm-up run. A no-op's rounds alternate with
  // `node -e 0`, whose time beside it shows what the machine gave Node in the same moments.
  const [run, node] = fresh
    ? [
        await medianRuns(sync.command, sync.args, rounds, {
          ...opts,
          before: () => rm(target.mirrorRoot, { recursive: true, force: true }),
          warmUp: false,
        }),
        null,
      ]
    : ((await interleavedRuns([sync, { command: process.execPath, args: ['-e', '0'] }], rounds, opts)) as [
        MedianRun,
        MedianRun,
      ]);
  const runs = Math.max(1, rounds) + (fresh ? 0 : 1);
  return {
    run,
    node,
    requests: Math.ceil(target.fake.requests.length / runs),
    bytes: Math.round(target.fake.bytesSent() / runs),
  };
}

/** The run's peak RSS against `limit`, or a line saying why there is none. */
function peakRssCheck(run: MedianRun, limit: number): Check {
  return Number.isNaN(run.peakRssMiB)
    ? { target: 'peak RSS (needs GNU time(1), not installed)', result: '–', isMet: null }
    : atMost('peak RSS', run.peakRssMiB, limit, 'MiB', '#14 part 2');
}

function commandRow(
  scenario: string,
  target: CommandSyncTarget,
  measured: { run: MedianRun; requests: number; bytes: number },
  checks: Check[],
): Row {
  return {
    scenario,
    requests: measured.requests,
    bytes: measured.bytes,
    wallSeconds: measured.run.seconds,
    processSeconds: measured.run.seconds,
    peakRssMiB: measured.run.peakRssMiB,
    cpuSeconds: measured.run.cpuSeconds,
    lowerBoundSeconds: target.lowerBound(measured.requests, measured.bytes),
    checks,
    ...combine(checks),
  };
}

/** `pypimirror sync CONFIG` on an up-to-date mirror: the row, judged against issue #14's no-op targets. */
export async function measureCommandNoop(target: CommandSyncTarget): Promise<Row> {
  const measured = await runCommandSync(target, target.rounds, false);
  const checks = [
    { target: 'requests ≤ 2', result: `${measured.requests}`, isMet: measured.requests <= 2 },
    peakRssCheck(measured.run, ISSUE_14.noopPeakRssMiB),
    atMost('process', measured.run.seconds, ISSUE_14.noopProcessSeconds, 's', '#14 part 3', 2),
  ];
  const ms = (run: MedianRun): number[] => run.allSeconds.map((seconds) => Math.round(seconds * 1000));
  const node = measured.node;
  if (node !== null) {
    const result = `${(node.seconds * 1000).toFixed(0)} ms`;
    checks.push({ target: 'node -e 0 in the same rounds (reference)', result, isMet: null });
  }
  return {
    ...commandRow('no-op resync, the pypimirror command (end to end)', target, measured, checks),
    notes: { msPerRound: ms(measured.run), ...(node === null ? {} : { nodeMsPerRound: ms(node) }) },
  };
}

/**
 * `pypimirror sync CONFIG` into an empty mirror, as a user's first run: the row judged against issue #14's
 * first-sync peak RSS (the command's whole process, as the issue measured it), with its time against the
 * lower bound as a reference (the sync-child row judges the sync's own time). Medians of `rounds` (≥ 1).
 */
export async function measureCommandFirstSync(target: CommandSyncTarget): Promise<Row> {
  const measured = await runCommandSync(target, target.rounds, true);
  const lower = target.lowerBound(measured.requests, measured.bytes);
  const checks = [
    peakRssCheck(measured.run, ISSUE_14.firstSyncPeakRssMiB),
    {
      target: 'process ÷ lower bound (reference)',
      result: `${(measured.run.seconds / lower).toFixed(2)} ×`,
      isMet: null,
    },
  ];
  return commandRow('first sync, the pypimirror command (end to end)', target, measured, checks);
}
