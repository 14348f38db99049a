// The deletion guards (issue #10): may this run remove what it plans to remove? Counted on the mirrored
// selection (projects with a page, and their files), per run and across the rolling `max_deletions_window`,
// never on the upstream listing. Pure: run.ts gathers the counts and applies the verdict.
import type { DeletionCounts, DeletionHold, RemovalEntry } from '../model/holds.js';
import type { SuspectPage } from '../plan/planner.js';
import { formatDuration } from '../util/duration.js';

export interface GuardInput {
  /** `max_deletions`, 0-100. */
  readonly maxPercent: number;
  /** `max_deletions_window`. */
  readonly windowMs: number;
  readonly now: Date;
  /** Before the run: mirrored projects with a page, and their files. */
  readonly mirrored: DeletionCounts;
  /**
   * What the run would remove, as judged: whole projects (by the project share), and files of projects that
   * stay (by the file share). A removed project's files count as the project, so that a small mirror may
   * lose one project whatever its size.
   */
  readonly removing: DeletionCounts;
  /** Of the mirrored projects, how many answered 404 and how many came back quarantined this run. */
  readonly gone: number;
  readonly quarantined: number;
  /** Earlier runs' removals (any age: pruned here). */
  readonly history: readonly RemovalEntry[];
  /** Why discovery holds deletions (the listing failed, was empty or lost the selection), or null. */
  readonly discoveryHold: string | null;
}

/**
 * Is `count` of `base` more than the share? A hold needs more than max(share of base, 1) items, so that a
 * small mirror may lose one project (1 of 3 is not held, 2 of 3 is). max_deletions = 0 holds every removal;
 * 100 never holds on the share.
 */
export function isOverShare(count: number, base: number, percent: number): boolean {
  if (count <= 0) return false;
  if (percent <= 0) return true;
  return count > Math.max((base * percent) / 100, 1);
}

/** The entries of `history` within the window ending `now`. */
export function pruneHistory(history: readonly RemovalEntry[], now: Date, windowMs: number): RemovalEntry[] {
  const from = now.getTime() - windowMs;
  return history.filter((e) => {
    const at = Date.parse(e.at);
    return Number.isFinite(at) && at > from && at <= now.getTime();
  });
}

function total(entries: readonly DeletionCounts[]): DeletionCounts {
  return entries.reduce((a, e) => ({ projects: a.projects + e.projects, files: a.files + e.files }), {
    projects: 0,
    files: 0,
  });
}

/** Why the run's removals must be held (the clause the warning ends with), or null when they may go. */
export function judgeDeletions(input: GuardInput): string | null {
  const { maxPercent: percent, mirrored, removing } = input;
  if (removing.projects === 0 && removing.files === 0 && input.discoveryHold === null) return null;
  if (input.discoveryHold !== null) return `because ${input.discoveryHold}`;
  const over = (counts: DeletionCounts, base: DeletionCounts): boolean =>
    isOverShare(counts.projects, base.projects, percent) || isOverShare(counts.files, base.files, percent);
  const missing = input.gone + input.quarantined;
  if (isOverShare(missing, mirrored.projects, percent)) {
    const parts = [];
    if (input.gone > 0) parts.push(`${input.gone} answered 404`);
    if (input.quarantined > 0) parts.push(`${input.quarantined} came back quarantined`);
    return (
      `as ${parts.join(' and ').replace(' ', ` of the ${mirrored.projects} selected projects `)}, more ` +
      `than max_deletions = ${percent}% (held like a failed listing)`
    );
  }
  if (over(removing, mirrored)) return `more than max_deletions = ${percent}%`;
  const earlier = pruneHistory(input.history, input.now, input.windowMs);
  if (earlier.length === 0) return null;
  const before = total(earlier);
  const sum = total([before, removing]);
  // The window's base is the mirror as it was when the window's first removal happened (about).
  if (!over(sum, total([mirrored, before]))) return null;
  const since = earlier.map((e) => e.at).sort()[0] ?? '';
  return (
    `which with the ${before.projects} projects and ${before.files} other files removed since ${since} would ` +
    `make ${sum.projects} projects and ${sum.files} other files within max_deletions_window = ` +
    `${formatDuration(input.windowMs)}, more than max_deletions = ${percent}%`
  );
}

/** The release hint every hold ends with. */
const RELEASE_HINT = 'run "pypimirror sync --allow-deletions" once to let them go';

/** The one warning of a run hold. */
export function formatHold(cause: string, removing: DeletionCounts, mirrored: DeletionCounts): string {
  return (
    `deletions held: this run would remove ${removing.projects} of ${mirrored.projects} selected projects ` +
    `(${removing.files} of ${mirrored.files} files), ${cause}; ${RELEASE_HINT}`
  );
}

const SUSPECT_TEXT: Readonly<Record<SuspectPage['reason'], string>> = {
  empty: 'lists no file',
  truncated: 'may have ended early',
  shrank: 'dropped more than half of them',
};

/** Suspect pages named in a warning, at most. */
const MAX_NAMED = 10;

/** The one warning for the run's suspect pages (each keeps every file this run). */
export function formatSuspectHold(pages: readonly (SuspectPage & { readonly project: string })[]): string {
  const counts = total(pages.map((p) => ({ projects: 0, files: p.dropped })));
  const mirrored = pages.reduce((sum, p) => sum + p.mirrored, 0);
  const named = pages
    .slice(0, MAX_NAMED)
    .map((p) => `${p.project}: ${p.dropped} of ${p.mirrored} files, the page ${SUSPECT_TEXT[p.reason]}`);
  const more = pages.length > MAX_NAMED ? `; and ${pages.length - MAX_NAMED} more` : '';
  return (
    `deletions held: ${pages.length} project pages would drop ${counts.files} of their ${mirrored} mirrored ` +
    `files but look cut short or shrank suddenly, so these projects keep every file this run ` +
    `(${named.join('; ')}${more}); ${RELEASE_HINT}`
  );
}

/** `check`'s line about a hold still in force (from state.json), or null. */
export function describeHold(hold: DeletionHold | null | undefined): string | null {
  if (hold === null || hold === undefined) return null;
  return `# deletions held since ${hold.since}: ${hold.message}`;
}
