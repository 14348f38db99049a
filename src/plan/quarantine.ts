// Release times (issue #12): `min_release_age` holds back files uploaded less than that long ago, and
// `exclude_newer` keeps only files uploaded before an instant. Both read the PEP 700 `upload-time` of each
// file. A held file is neither mirrored nor listed; the earliest instant a held file comes of age is kept
// with the project, so the sync looks at it again then, whatever the upstream's change log says. Pure.
import type { QuarantineHold } from '../model/holds.js';
import type { UpstreamFile } from '../model/upstream.js';

export interface ReleaseTimePolicy {
  /** Files younger than this are held; null: no quarantine (none set, or the project is exempt). */
  readonly minReleaseAgeMs: number | null;
  /** Files uploaded at or after this instant (ISO 8601) are left out for good; null: no cut. */
  readonly excludeNewer: string | null;
  readonly now: Date;
}

export interface ReleaseTimeSplit {
  /** The files that pass both keys, in page order. */
  readonly admitted: readonly UpstreamFile[];
  /** The files `min_release_age` holds back, or null when it holds none. */
  readonly hold: QuarantineHold | null;
  /** Files `exclude_newer` leaves out. */
  readonly excluded: number;
  /** Files without an upload time, which neither key can judge: held back, and an error for the caller. */
  readonly undated: readonly string[];
}

/** Whether either key applies: only then do upload times matter. */
export function isReleaseTimePolicyActive(policy: ReleaseTimePolicy): boolean {
  return policy.minReleaseAgeMs !== null || policy.excludeNewer !== null;
}

/**
 * Splits a page's files by their upload times under `policy` (a policy with no key admits every file).
 * Only held files that `isWanted` (filename_matches) count in the hold: the others would not be mirrored anyway.
 */
export function splitByReleaseTime(
  files: readonly UpstreamFile[],
  policy: ReleaseTimePolicy,
  isWanted: (filename: string) => boolean = () => true,
): ReleaseTimeSplit {
  if (!isReleaseTimePolicyActive(policy)) return { admitted: files, hold: null, excluded: 0, undated: [] };
  const cut = policy.excludeNewer === null ? Infinity : Date.parse(policy.excludeNewer);
  const now = policy.now.getTime();
  const admitted: UpstreamFile[] = [];
  const undated: string[] = [];
  let excluded = 0;
  let held = 0;
  let until = Infinity;
  for (const file of files) {
    const uploaded = file.uploadTime === null ? NaN : Date.parse(file.uploadTime);
    if (Number.isNaN(uploaded)) {
      undated.push(file.filename);
    } else if (uploaded >= cut) {
      excluded++;
    } else if (policy.minReleaseAgeMs !== null && uploaded + policy.minReleaseAgeMs > now) {
      if (!isWanted(file.filename)) continue;
      held++;
      until = Math.min(until, uploaded + policy.minReleaseAgeMs);
    } else {
      admitted.push(file);
    }
  }
  const hold = held === 0 ? null : { files: held, until: new Date(until).toISOString() };
  return { admitted, hold, excluded, undated };
}

/** Several holds as one (the files added up, the earliest instant), or null when there are none. */
export function mergeHolds(holds: Iterable<QuarantineHold | null | undefined>): QuarantineHold | null {
  let files = 0;
  let until: string | null = null;
  for (const hold of holds) {
    if (hold == null) continue;
    files += hold.files;
    if (until === null || hold.until < until) until = hold.until;
  }
  return until === null ? null : { files, until };
}

/** `N files held by min_release_age until <instant>`, for the run summary and `check`. */
export function formatHold(hold: QuarantineHold): string {
  const noun = hold.files === 1 ? 'file' : 'files';
  return `${hold.files} ${noun} held by min_release_age (the first comes of age at ${hold.until})`;
}
