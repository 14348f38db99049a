// What one sync did, for the summary line, the exit code, the status file and metrics.
import type { DeletionCounts, DeletionHold, QuarantineHold } from '../model/holds.js';
import { formatHold as formatQuarantine } from '../plan/quarantine.js';

export interface ProjectFailure {
  readonly project: string;
  readonly reason: string;
}

export interface SyncReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Selected projects considered this run (unchanged ones included). */
  readonly projectsChecked: number;
  /** Projects whose page was rewritten, added or removed. */
  readonly projectsChanged: number;
  readonly projectsRemoved: number;
  readonly filesFetched: number;
  readonly bytesFetched: number;
  readonly filesRemoved: number;
  readonly failures: readonly ProjectFailure[];
  /** Projects whose upstream page was older than the serial that made us fetch it: retried next run. */
  readonly deferred: readonly string[];
  /** The deletions this run held (guards.ts), with the counts, or null. */
  readonly deletionsHeld: DeletionHold | null;
  readonly listingFailed: boolean;
  readonly aborted: boolean;
  /** Upstream requests made (pages, listing, files). */
  readonly requests: number;
  /** Files min_release_age holds back across the mirror after the run (plan/quarantine.ts), or null / absent. */
  readonly quarantine?: QuarantineHold | null;
}

/** How far a run has got, for a progress line on a terminal. */
export interface SyncProgress {
  readonly projectsDone: number;
  readonly projectsToCheck: number;
  readonly filesFetched: number;
  readonly bytesFetched: number;
}

export function formatProgress(p: SyncProgress): string {
  return `${p.projectsDone}/${p.projectsToCheck} projects, ${p.filesFetched} files (${formatBytes(p.bytesFetched)}) fetched`;
}

/** All good: nothing failed, nothing held (a held run exits 1, so that cron tells the admin). */
export function isReportOk(report: SyncReport): boolean {
  return (
    report.failures.length === 0 && !report.listingFailed && !report.aborted && report.deletionsHeld === null
  );
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The one summary line every sync ends with. */
export function formatSummary(r: SyncReport): string {
  const parts = [
    `${r.projectsChecked} projects checked`,
    `${r.projectsChanged} changed`,
    `${r.filesFetched} files (${formatBytes(r.bytesFetched)}) fetched`,
    `${r.filesRemoved} files and ${r.projectsRemoved} projects removed`,
    `${r.failures.length} failed`,
  ];
  if (r.deferred.length > 0) parts.push(`${r.deferred.length} deferred (stale upstream page)`);
  const held = r.deletionsHeld;
  if (held !== null) parts.push(`${held.projects} projects and ${held.files} files kept by a hold`);
  if (r.quarantine != null) parts.push(formatQuarantine(r.quarantine));
  const isHeldOnly = held !== null && r.failures.length === 0 && !r.listingFailed;
  const head = r.aborted
    ? 'sync aborted'
    : isReportOk(r)
      ? 'sync finished'
      : isHeldOnly
        ? 'sync finished with held deletions'
        : 'sync finished with errors';
  return `${head}: ${parts.join(', ')} in ${(r.durationMs / 1000).toFixed(1)} s`;
}

/** The line `sync --dry-run` ends with. `removing` is null when nothing would be removed (held or cleanup off). */
export function formatDryRunSummary(
  r: SyncReport,
  fetch: { readonly files: number; readonly bytes: number },
  removing: DeletionCounts | null,
): string {
  const removal =
    removing === null
      ? r.deletionsHeld !== null
        ? 'remove nothing (deletions held, see the warning)'
        : 'remove nothing'
      : `remove ${removing.projects} projects and ${removing.files} files`;
  const failed = r.failures.length > 0 ? `; ${r.failures.length} projects failed` : '';
  return (
    `dry run: ${r.projectsChecked} projects checked; would fetch ${fetch.files} files ` +
    `(${formatBytes(fetch.bytes)}) and ${removal}${failed}; nothing was changed`
  );
}
