// The state's project entries at the two ends of a run (run.ts), without a copy per project where a single
// pass does: a no-op on a mirror of 100 000 projects reads every entry once, writes none when nothing
// changed, and its memory is the state's, not garbage made from it (issue #14 part 4). Pure.
import { isDeepStrictEqual } from 'node:util';
import type { MirroredProject, MirrorState } from '../mirror/state.js';
import type { QuarantineHold } from '../model/holds.js';

/** The state's entries as a map, in the state's order (no [name, entry] pair per project). */
export function projectMap(
  projects: Readonly<Record<string, MirroredProject>>,
): Map<string, MirroredProject> {
  const map = new Map<string, MirroredProject>();
  for (const name in projects) map.set(name, projects[name] as MirroredProject);
  return map;
}

/**
 * The entries as state.json stores them, sorted by name. The map of a run that added no project is in
 * order already (it was read sorted): then it is copied in one pass, with no sort.
 */
export function sortedProjects(
  projects: ReadonlyMap<string, MirroredProject>,
): Record<string, MirroredProject> {
  let previous = '';
  let isSorted = true;
  for (const name of projects.keys()) {
    if (name < previous) {
      isSorted = false;
      break;
    }
    previous = name;
  }
  const names = isSorted ? projects.keys() : [...projects.keys()].sort();
  const sorted: Record<string, MirroredProject> = {};
  for (const name of names) sorted[name] = projects.get(name) as MirroredProject;
  return sorted;
}

/** The entries' quarantine holds (for the report), with no array of every entry. */
export function* quarantineHolds(projects: ReadonlyMap<string, MirroredProject>): Generator<QuarantineHold> {
  for (const p of projects.values()) if (p.quarantine !== undefined) yield p.quarantine;
}

/** The root page's entries: every project with a page, by name. */
export function rootEntries(
  projects: ReadonlyMap<string, MirroredProject>,
): { name: string; displayName: string }[] {
  const entries: { name: string; displayName: string }[] = [];
  for (const [name, p] of projects)
    if (p.isEmpty !== true) entries.push({ name, displayName: p.displayName });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Whether the state a run would write says what state.json says already: the run's entries are the very
 * ones it read (a project the run noted has a new entry), and every other field is equal, the last run's
 * times apart (its outcome counts). Then state.json is not written again: a no-op through the changelog
 * whose serial did not move leaves it as it is, and its `lastRun` is the last run that changed something.
 */
export function isStateUnchanged(
  before: MirrorState,
  read: ReadonlyMap<string, MirroredProject>,
  projects: ReadonlyMap<string, MirroredProject>,
  next: Omit<MirrorState, 'projects'>,
): boolean {
  if (before.lastRun === null || next.lastRun === null || before.lastRun.ok !== next.lastRun.ok) return false;
  if (projects.size !== read.size) return false;
  for (const [name, p] of projects) if (read.get(name) !== p) return false;
  const fields = new Set([...Object.keys(before), ...Object.keys(next)]);
  for (const field of fields) {
    if (field === 'projects' || field === 'lastRun') continue;
    const key = field as keyof Omit<MirrorState, 'projects'>;
    if (!isDeepStrictEqual(before[key], next[key])) return false;
  }
  return true;
}
