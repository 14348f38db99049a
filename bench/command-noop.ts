// The bench's no-op through the pypimirror command itself, as cron runs it: its #! line (the glibc and V8
// settings), the config file, the logger, the lock and status.json, from spawn to exit; the medians of
// several runs (one process's start varies by tens of ms on a shared machine). Issue #14's no-op targets
// (peak RSS, end-to-end time) are this process's; the sync-child row beside it shows runSync alone.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeUpstream } from '../test/helpers/fake-upstream.js';
import { findExecutable } from '../test/helpers/web-servers.js';
import { atMost, combine, ISSUE_14, medianRuns, type Row } from './checks.js';

const COMMAND = fileURLToPath(new URL('../src/pypimirror.cjs', import.meta.url));

/** What the no-op is run against: the mirror a first sync of `packageMatches` from `fake` left. */
export interface CommandNoopTarget {
  readonly fake: FakeUpstream;
  readonly mirrorRoot: string;
  readonly packageMatches: readonly string[];
  readonly workers: number;
  /** How many runs the figures are the medians of (after one warm-up run). */
  readonly rounds: number;
  /** Scratch directory for the config file and time(1)'s output. */
  readonly work: string;
  /** The bench's lower bound for `requests` and `bytes` (seconds). */
  lowerBound(requests: number, bytes: number): number;
}

/** `pypimirror sync CONFIG` on an up-to-date mirror: the row, judged against issue #14's no-op targets. */
export async function measureCommandNoop(target: CommandNoopTarget): Promise<Row> {
  const config = join(target.work, 'noop.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${target.mirrorRoot}\nindex_url = ${target.fake.url}\n` +
      `package_matches = ${target.packageMatches.join(' ')}\nworkers = ${target.workers}\n`,
  );
  const timeTool = findExecutable('time');
  target.fake.resetLog();
  const env = { ...process.env, PYPIMIRROR_CONFIG: undefined };
  const run = await medianRuns(COMMAND, ['sync', config], target.rounds, {
    env,
    timeTool,
    scratchFile: join(target.work, 'time.out'),
  });
  // What one run asked for: every run (the warm-up too) makes the same requests.
  const runs = Math.max(1, target.rounds) + 1;
  const requests = Math.ceil(target.fake.requests.length / runs);
  const rss =
    timeTool === undefined
      ? { target: 'peak RSS (needs GNU time(1), not installed)', result: '–', isMet: null }
      : atMost('peak RSS', run.peakRssMiB, ISSUE_14.noopPeakRssMiB, 'MiB', '#14 part 2');
  const checks = [
    { target: 'requests ≤ 2', result: `${requests}`, isMet: requests <= 2 },
    rss,
    atMost('process', run.seconds, ISSUE_14.noopProcessSeconds, 's', '#14 part 3', 2),
  ];
  const bytes = Math.round(target.fake.bytesSent() / runs);
  return {
    scenario: 'no-op resync, the pypimirror command (end to end)',
    requests,
    bytes,
    wallSeconds: run.seconds,
    processSeconds: run.seconds,
    peakRssMiB: run.peakRssMiB,
    cpuSeconds: run.cpuSeconds,
    lowerBoundSeconds: target.lowerBound(requests, bytes),
    checks,
    ...combine(checks),
  };
}
