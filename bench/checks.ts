// The bench's verdicts: each scenario's figures against their targets (issue #14's where it sets one for the
// scenario, the bench's own otherwise), the table `npm run bench` prints, one line per target with MET or
// MISSED, and the start-up timings of the command itself (issue #14 part 3) beside Node's own start.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { LaunchAnswer } from './launcher.js';

const LAUNCHER = fileURLToPath(new URL('./launcher.js', import.meta.url));

/** One line of the table (bundle-bench.ts builds its own). */
export interface Row {
  readonly scenario: string;
  readonly requests: number;
  readonly bytes: number;
  /** runSync alone, inside the child. */
  readonly wallSeconds: number;
  /** The child process from spawn to exit (node start-up included). */
  readonly processSeconds: number;
  readonly peakRssMiB: number;
  /** CPU seconds the sync used (user + system), inside the child. */
  readonly cpuSeconds: number;
  readonly lowerBoundSeconds: number;
  /** Every target of the scenario, judged (checks.ts). */
  readonly checks: readonly Check[];
  /** The checks as one (combine): all met, or not. */
  readonly target: string;
  readonly result: string;
  readonly isMet: boolean | null;
  readonly notes?: Readonly<Record<string, unknown>>;
}

/** Issue #14's targets that a bench scenario measures. */
export const ISSUE_14 = {
  /** Part 2: peak RSS of a first sync. */
  firstSyncPeakRssMiB: 90,
  /** Part 2: peak RSS of a no-op re-sync of a small mirror. */
  noopPeakRssMiB: 75,
  /** Part 2: peak RSS while reading the 700 000-project listing. */
  listingPeakRssMiB: 120,
  /** Part 3: `pypimirror --version` and `check`, process start to exit. */
  startupMs: 100,
  /** Part 3: a no-op sync at 20 ms per request, process start to exit. */
  noopProcessSeconds: 0.15,
} as const;

/** One figure of a scenario against one target. `isMet` null: a reference figure, no target. */
export interface Check {
  readonly target: string;
  readonly result: string;
  readonly isMet: boolean | null;
}

/** A check of `value` against `limit` (at most), both shown with `unit` and `digits` decimals. */
export function atMost(
  what: string,
  value: number,
  limit: number,
  unit: string,
  source: string,
  digits = 0,
): Check {
  return {
    target: `${what} ≤ ${limit} ${unit} (${source})`,
    result: `${value.toFixed(digits)} ${unit}`,
    isMet: value <= limit,
  };
}

/** The scenario's verdict as one target, result and isMet (the JSON's fields before `checks` existed). */
export function combine(checks: readonly Check[]): { target: string; result: string; isMet: boolean | null } {
  const judged = checks.filter((c) => c.isMet !== null);
  return {
    target: checks.map((c) => c.target).join('; '),
    result: checks.map((c) => c.result).join('; '),
    isMet: judged.length === 0 ? null : judged.every((c) => c.isMet === true),
  };
}

/** What the table shows of a row. */
export interface TableRow {
  readonly scenario: string;
  readonly cells: readonly string[];
  readonly checks: readonly Check[];
}

/**
 * The table: the scenario's figures on its first line, then one line per target, each ending in MET or
 * MISSED (nothing for a reference figure). A last line counts them.
 */
export function formatTable(figureHeaders: readonly string[], rows: readonly TableRow[]): string {
  const header = ['scenario', ...figureHeaders, 'target', 'verdict', 'figure'];
  const lines: string[][] = [];
  for (const row of rows) {
    const checks = row.checks.length === 0 ? [{ target: '', result: '', isMet: null }] : row.checks;
    checks.forEach((check, i) => {
      // The scenario and its figures on its first line only.
      const figures = i === 0 ? [row.scenario, ...row.cells] : ['', ...figureHeaders.map(() => '')];
      const verdict = check.isMet === null ? '' : check.isMet ? 'MET' : 'MISSED';
      lines.push([...figures, check.target, verdict, check.result]);
    });
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const show = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const all = rows.flatMap((r) => r.checks).filter((c) => c.isMet !== null);
  const met = all.filter((c) => c.isMet === true).length;
  return (
    [show(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(show)].join('\n') +
    `\n\ntargets met: ${met} of ${all.length}${met === all.length ? '' : ` (missed: ${all.length - met})`}\n`
  );
}

/** The launcher (launcher.ts): started with the first command timed, referenced only while it runs one. */
let launcher: { child: ChildProcess; next: number; pending: Map<number, (a: LaunchAnswer) => void> } | null =
  null;

function startLauncher(): NonNullable<typeof launcher> {
  const child = spawn(process.execPath, [LAUNCHER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const started = { child, next: 1, pending: new Map<number, (a: LaunchAnswer) => void>() };
  createInterface({ input: child.stdout as Readable }).on('line', (line) => {
    const answer = JSON.parse(line) as LaunchAnswer;
    started.pending.get(answer.id)?.(answer);
    started.pending.delete(answer.id);
    if (started.pending.size === 0) idle(started.child);
  });
  child.once('exit', (code) => {
    launcher = null;
    const error = { ms: NaN, code: null, stderr: `the bench's launcher exited with ${code}` };
    for (const [id, resolve] of started.pending) resolve({ id, ...error });
  });
  return started;
}

/** Lets the bench exit while the launcher waits for its next command (its stdin's end stops it). */
function idle(child: ChildProcess): void {
  child.unref();
  (child.stdin as Writable & { unref?: () => void }).unref?.();
  (child.stdout as Readable & { unref?: () => void }).unref?.();
}

function busy(child: ChildProcess): void {
  child.ref();
  (child.stdin as Writable & { ref?: () => void }).ref?.();
  (child.stdout as Readable & { ref?: () => void }).ref?.();
}

/** Milliseconds from spawn to exit of `command args`, which must exit 0, started by the launcher. */
async function timeOnce(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  launcher ??= startLauncher();
  const { child, pending } = launcher;
  const id = launcher.next++;
  const childEnv = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const answer = await new Promise<LaunchAnswer>((resolve) => {
    pending.set(id, resolve);
    busy(child);
    child.stdin?.write(`${JSON.stringify({ id, command, args, env: childEnv })}\n`);
  });
  if (answer.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited with ${answer.code}: ${answer.stderr.slice(0, 500)}`,
    );
  return answer.ms;
}

/** One run of a command: wall seconds from spawn to exit; its peak RSS and CPU seconds (NaN without time(1)). */
export interface CommandRun {
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly cpuSeconds: number;
}

/**
 * Runs `command args`, which must exit 0, under GNU time(1) (`timeTool`, its path) when there is one: its peak
 * RSS counts the whole process, exit included, which a figure read inside the process cannot.
 */
export async function runMeasured(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeTool: string | undefined,
  scratchFile: string,
): Promise<CommandRun> {
  if (timeTool === undefined) {
    return { seconds: (await timeOnce(command, args, env)) / 1000, peakRssMiB: NaN, cpuSeconds: NaN };
  }
  const ms = await timeOnce(timeTool, ['-f', '%M %U %S', '-o', scratchFile, command, ...args], env);
  const [kib, user, system] =
    (await readFile(scratchFile, 'utf8')).trim().split('\n').at(-1)?.split(' ') ?? [];
  await rm(scratchFile, { force: true });
  return { seconds: ms / 1000, peakRssMiB: Number(kib) / 1024, cpuSeconds: Number(user) + Number(system) };
}

/** The medians of several runs of one command (each figure's own median), and every run's wall time. */
export interface MedianRun extends CommandRun {
  readonly allSeconds: readonly number[];
}

/** Options of medianRuns and interleavedRuns. */
export interface MedianRunOptions {
  env?: NodeJS.ProcessEnv;
  timeTool: string | undefined;
  scratchFile: string;
  /** Run before each run (the warm-up's too), e.g. to empty a mirror. */
  before?: () => Promise<void>;
  /** Default true: one run first, not counted, so that the page cache is warm. */
  warmUp?: boolean;
}

/**
 * `rounds` runs of `command args` (after one warm-up run, so the page cache is warm), each measured as
 * runMeasured does: the median of each figure. On a shared machine the CPU figure is the steadier one.
 */
export async function medianRuns(
  command: string,
  args: readonly string[],
  rounds: number,
  opts: MedianRunOptions,
): Promise<MedianRun> {
  const [run] = await interleavedRuns([{ command, args }], rounds, opts);
  return run as MedianRun;
}

/**
 * medianRuns of several commands in interleaved rounds (each round runs every command once, in order), so
 * that a moment when the machine is slower (a shared VM's neighbours) weighs on each of them alike: their
 * figures compare with each other. The medians, in the order of `commands`.
 */
export async function interleavedRuns(
  commands: readonly { readonly command: string; readonly args: readonly string[] }[],
  rounds: number,
  opts: MedianRunOptions,
): Promise<MedianRun[]> {
  const env = opts.env ?? process.env;
  if (opts.warmUp !== false) {
    for (const { command, args } of commands) {
      await opts.before?.();
      await timeOnce(command, args, env);
    }
  }
  const runs: CommandRun[][] = commands.map(() => []);
  for (let i = 0; i < Math.max(1, rounds); i++) {
    for (const [c, { command, args }] of commands.entries()) {
      await opts.before?.();
      runs[c]?.push(await runMeasured(command, args, env, opts.timeTool, opts.scratchFile));
    }
  }
  return runs.map((of) => {
    const median = (pick: (run: CommandRun) => number): number => {
      const sorted = of.map(pick).sort((a, b) => a - b);
      return sorted[sorted.length >> 1] ?? NaN;
    };
    return {
      seconds: median((r) => r.seconds),
      cpuSeconds: median((r) => r.cpuSeconds),
      peakRssMiB: median((r) => r.peakRssMiB),
      allSeconds: of.map((r) => r.seconds),
    };
  });
}
