// What monitoring reads after each run: `<mirror_file_path>/.pypimirror/status.json` (always) and, when
// `metrics_file` is set, a Prometheus textfile-collector file. Building both is pure; writing is atomic.
import { redactSecrets } from './errors.js';
import { STATUS_KEY } from './storage/keys.js';
import type { Storage } from './storage/types.js';
import type { DeletionHold } from './model/holds.js';
import type { SyncReport } from './sync/report.js';
import { writeFileAtomic } from './util/fs.js';

/**
 * ok: all good; held: finished, but deletions were held (see lastRun.deletionsHeld); failed: finished, some
 * projects failed; aborted: stopped early; error: the run crashed.
 */
export type RunResult = 'ok' | 'held' | 'failed' | 'aborted' | 'error';

export interface LastRun {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly result: RunResult;
  readonly projectsChecked: number;
  readonly projectsChanged: number;
  readonly projectsRemoved: number;
  readonly projectsFailed: number;
  readonly filesFetched: number;
  readonly bytesFetched: number;
  readonly filesRemoved: number;
  readonly requests: number;
  /** The first MAX_LISTED failed projects. */
  readonly failedProjects: readonly string[];
  readonly deferred: number;
  /** The hold's warning and counts (projects and files held, of the selection), or null. */
  readonly deletionsHeld: DeletionHold | null;
  readonly listingFailed: boolean;
  /** Why the run did not finish normally, or null. */
  readonly error: string | null;
}

export interface MirrorStatus extends StatusMeta {
  readonly formatVersion: 1;
  readonly lastRun: LastRun;
  /** End of the last run whose result was ok. */
  readonly lastSuccessAt: string | null;
  /** When the daemon will start its next run; null for `sync`. */
  readonly nextRunAt: string | null;
  /** Since the status file was first written. */
  readonly totals: {
    readonly runs: number;
    readonly failedRuns: number;
    readonly filesFetched: number;
    readonly bytesFetched: number;
    readonly filesRemoved: number;
  };
}

export interface StatusMeta {
  readonly command: 'run' | 'sync';
  readonly pid: number;
  readonly host: string;
  readonly version: string;
  readonly config: string;
  readonly mirror: string;
}

const MAX_LISTED = 50;

function describeError(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** A run as the status file tells it, from its report (null when the run threw `error`). */
export function summarizeRun(input: {
  readonly report: SyncReport | null;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly error: unknown;
  /** The run was stopped (shutdown or a lost lock) rather than crashed. */
  readonly isAborted: boolean;
}): LastRun {
  const { report } = input;
  const isOk = report !== null && report.failures.length === 0 && !report.listingFailed && !report.aborted;
  const result: RunResult =
    input.isAborted || report?.aborted === true
      ? 'aborted'
      : report === null
        ? 'error'
        : !isOk
          ? 'failed'
          : report.deletionsHeld !== null
            ? 'held'
            : 'ok';
  const error =
    input.error !== null && input.error !== undefined
      ? describeError(input.error)
      : report?.listingFailed === true
        ? 'the upstream listing could not be fetched'
        : null;
  return {
    startedAt: report?.startedAt ?? input.startedAt.toISOString(),
    finishedAt: report?.finishedAt ?? input.finishedAt.toISOString(),
    durationMs: report?.durationMs ?? input.finishedAt.getTime() - input.startedAt.getTime(),
    result,
    projectsChecked: report?.projectsChecked ?? 0,
    projectsChanged: report?.projectsChanged ?? 0,
    projectsRemoved: report?.projectsRemoved ?? 0,
    projectsFailed: report?.failures.length ?? 0,
    filesFetched: report?.filesFetched ?? 0,
    bytesFetched: report?.bytesFetched ?? 0,
    filesRemoved: report?.filesRemoved ?? 0,
    requests: report?.requests ?? 0,
    failedProjects: (report?.failures ?? []).slice(0, MAX_LISTED).map((f) => f.project),
    deferred: report?.deferred.length ?? 0,
    deletionsHeld: report?.deletionsHeld ?? null,
    listingFailed: report?.listingFailed ?? false,
    error,
  };
}

/** The status after `run`, carrying the last success and the totals over from `previous`. */
export function nextStatus(
  previous: MirrorStatus | null,
  run: LastRun,
  meta: StatusMeta,
  nextRunAt: Date | null,
): MirrorStatus {
  const totals = previous?.totals ?? {
    runs: 0,
    failedRuns: 0,
    filesFetched: 0,
    bytesFetched: 0,
    filesRemoved: 0,
  };
  return {
    formatVersion: 1,
    ...meta,
    lastRun: run,
    lastSuccessAt: run.result === 'ok' ? run.finishedAt : (previous?.lastSuccessAt ?? null),
    nextRunAt: nextRunAt === null ? null : nextRunAt.toISOString(),
    totals: {
      runs: totals.runs + 1,
      failedRuns: totals.failedRuns + (run.result === 'ok' ? 0 : 1),
      filesFetched: totals.filesFetched + run.filesFetched,
      bytesFetched: totals.bytesFetched + run.bytesFetched,
      filesRemoved: totals.filesRemoved + run.filesRemoved,
    },
  };
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Reads the previous status; null when there is none or it is unreadable (it is rebuilt, never fatal). */
export async function readStatus(storage: Storage): Promise<MirrorStatus | null> {
  try {
    const value = JSON.parse((await storage.get(STATUS_KEY))?.toString('utf8') ?? 'null') as unknown;
    if (typeof value !== 'object' || value === null) return null;
    const status = value as Partial<MirrorStatus>;
    const totals = status.totals;
    if (status.formatVersion !== 1 || typeof totals !== 'object' || totals === null) return null;
    if (
      ![totals.runs, totals.failedRuns, totals.filesFetched, totals.bytesFetched, totals.filesRemoved].every(
        isNumber,
      )
    )
      return null;
    return status as MirrorStatus;
  } catch {
    return null;
  }
}

export async function writeStatus(storage: Storage, status: MirrorStatus): Promise<void> {
  await storage.put(STATUS_KEY, `${JSON.stringify(status, null, 2)}\n`);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/**
 * The Prometheus text exposition of `status`, for node_exporter's textfile collector. Every sample carries a
 * `mirror` label, so several mirrors can write files into the same collector directory.
 */
export function renderMetrics(status: MirrorStatus): string {
  const labels = `{mirror="${escapeLabel(status.mirror)}"}`;
  const run = status.lastRun;
  const lines: string[] = [];
  const add = (name: string, type: 'gauge' | 'counter', help: string, value: number | null): void => {
    if (value === null) return;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  };
  add(
    'pypimirror_last_run_start_timestamp_seconds',
    'gauge',
    'Start of the last sync.',
    seconds(run.startedAt),
  );
  add('pypimirror_last_run_end_timestamp_seconds', 'gauge', 'End of the last sync.', seconds(run.finishedAt));
  add('pypimirror_last_run_duration_seconds', 'gauge', 'Duration of the last sync.', run.durationMs / 1000);
  add(
    'pypimirror_last_run_success',
    'gauge',
    '1 if the last sync finished with no failure, else 0.',
    run.result === 'ok' ? 1 : 0,
  );
  add(
    'pypimirror_last_success_timestamp_seconds',
    'gauge',
    'End of the last sync that finished with no failure.',
    status.lastSuccessAt === null ? null : seconds(status.lastSuccessAt),
  );
  add(
    'pypimirror_next_run_timestamp_seconds',
    'gauge',
    'When the daemon starts its next sync.',
    status.nextRunAt === null ? null : seconds(status.nextRunAt),
  );
  add(
    'pypimirror_last_run_projects_checked',
    'gauge',
    'Projects checked by the last sync.',
    run.projectsChecked,
  );
  add(
    'pypimirror_last_run_projects_changed',
    'gauge',
    'Projects changed by the last sync.',
    run.projectsChanged,
  );
  add(
    'pypimirror_last_run_projects_failed',
    'gauge',
    'Projects that failed in the last sync.',
    run.projectsFailed,
  );
  add('pypimirror_last_run_files_fetched', 'gauge', 'Files fetched by the last sync.', run.filesFetched);
  add('pypimirror_last_run_bytes_fetched', 'gauge', 'Bytes fetched by the last sync.', run.bytesFetched);
  add('pypimirror_last_run_files_removed', 'gauge', 'Files removed by the last sync.', run.filesRemoved);
  const held = run.deletionsHeld ?? null;
  add(
    'pypimirror_last_run_deletions_held',
    'gauge',
    '1 if the last sync held deletions (max_deletions, a suspect page, the listing), else 0.',
    held === null ? 0 : 1,
  );
  add(
    'pypimirror_last_run_deletions_held_projects',
    'gauge',
    'Projects whose removal the last sync held.',
    held?.projects ?? 0,
  );
  add(
    'pypimirror_last_run_deletions_held_files',
    'gauge',
    'Files whose removal the last sync held.',
    held?.files ?? 0,
  );
  add('pypimirror_runs_total', 'counter', 'Syncs run.', status.totals.runs);
  add(
    'pypimirror_runs_failed_total',
    'counter',
    'Syncs that did not finish cleanly.',
    status.totals.failedRuns,
  );
  add('pypimirror_files_fetched_total', 'counter', 'Files fetched.', status.totals.filesFetched);
  add('pypimirror_bytes_fetched_total', 'counter', 'Bytes fetched.', status.totals.bytesFetched);
  add('pypimirror_files_removed_total', 'counter', 'Files removed.', status.totals.filesRemoved);
  return `${lines.join('\n')}\n`;
}

export async function writeMetrics(path: string, status: MirrorStatus): Promise<void> {
  await writeFileAtomic(path, renderMetrics(status));
}
