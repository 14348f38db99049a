// The state's project entries at the two ends of a run (run.ts), without a copy per project where a single
// pass does: a no-op on a mirror of 100 000 projects reads every entry once, writes none when nothing
// changed, and its memory is the state's, not garbage made from it (issue #14 part 4). Pure.
import { isDeepStrictEqual } from 'node:util';
import type { MirroredProject, MirrorState } from '../mirror/state.js';
import type { QuarantineHold } from '../model/holds.js';

/** Names of the state objects' entries, enumerated once each (see projectNames). */
const namesOf = new WeakMap<object, readonly string[]>();

/**
 * The names of `projects` (a state's entries, never given a name or losing one once made), in their order.
 * Enumerating the keys of an object of 100 000 entries costs about 26 ms however little is done with each:
 * the passes of a run over the state's entries share one enumeration.
 */
export function projectNames(projects: Readonly<Record<string, MirroredProject>>): readonly string[] {
  let names = namesOf.get(projects);
  if (names === undefined) {
    names = Object.keys(projects);
    namesOf.set(projects, names);
  }
  return names;
}

/** The project entries as a map reads them: the state's as read, or a run's (Map is one too). */
export interface ProjectEntries {
  readonly size: number;
  get(name: string): MirroredProject | undefined;
  has(name: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<MirroredProject>;
  [Symbol.iterator](): Iterator<[string, MirroredProject]>;
  /** Each entry in order, with no iterator: the fastest walk over 100 000 entries. */
  forEach(visit: (entry: MirroredProject, name: string) => void): void;
}

/**
 * The state's entries as read, in the state's order: its own object (parsed from JSON: every enumerable
 * key is its own), not a copy (no [name, entry] pair per project).
 */
export class StoredProjects implements ProjectEntries {
  constructor(readonly entries: Readonly<Record<string, MirroredProject>>) {}

  get size(): number {
    return projectNames(this.entries).length;
  }

  forEach(visit: (entry: MirroredProject, name: string) => void): void {
    for (const name of projectNames(this.entries)) visit(this.entries[name] as MirroredProject, name);
  }

  get(name: string): MirroredProject | undefined {
    return Object.hasOwn(this.entries, name) ? this.entries[name] : undefined;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.entries, name);
  }

  keys(): Iterable<string> {
    return projectNames(this.entries);
  }

  *values(): Generator<MirroredProject> {
    for (const name of projectNames(this.entries)) yield this.entries[name] as MirroredProject;
  }

  *[Symbol.iterator](): Generator<[string, MirroredProject]> {
    for (const name of projectNames(this.entries)) yield [name, this.entries[name] as MirroredProject];
  }
}

/**
 * A run's entries: the ones it read, with what it changed over them (copy on write). A run that changes
 * nothing copies no entry, and whether it changed anything is known from its changes alone.
 */
export class RunProjects implements ProjectEntries {
  /** Entries set (or removed: null) by the run. */
  readonly #changes = new Map<string, MirroredProject | null>();
  /** Entries added less entries removed. */
  #added = 0;

  constructor(readonly read: StoredProjects) {}

  get size(): number {
    return this.read.size + this.#added;
  }

  get(name: string): MirroredProject | undefined {
    const changed = this.#changes.get(name);
    if (changed !== undefined) return changed ?? undefined;
    return this.#changes.has(name) ? undefined : this.read.get(name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, entry: MirroredProject): void {
    if (!this.has(name)) this.#added++;
    this.#changes.set(name, entry);
  }

  delete(name: string): void {
    if (!this.has(name)) return;
    this.#added--;
    this.#changes.set(name, null);
  }

  /** Every entry is the very one read (an entry set again to the object read counts as unchanged). */
  isAsRead(): boolean {
    for (const [name, entry] of this.#changes)
      if (entry === null ? this.read.has(name) : this.read.get(name) !== entry) return false;
    return true;
  }

  /** The entries read, in their order, then those the run added, in the order it added them. */
  forEach(visit: (entry: MirroredProject, name: string) => void): void {
    const changes = this.#changes;
    const read = this.read.entries;
    if (changes.size === 0) {
      this.read.forEach(visit);
      return;
    }
    for (const name of projectNames(read)) {
      const changed = changes.get(name);
      if (changed === undefined) {
        if (!changes.has(name)) visit(read[name] as MirroredProject, name);
      } else if (changed !== null) visit(changed, name);
    }
    for (const [name, entry] of changes) if (entry !== null && !this.read.has(name)) visit(entry, name);
  }

  *[Symbol.iterator](): Generator<[string, MirroredProject]> {
    const all: [string, MirroredProject][] = [];
    this.forEach((entry, name) => all.push([name, entry]));
    yield* all;
  }

  *keys(): Generator<string> {
    for (const [name] of this) yield name;
  }

  *values(): Generator<MirroredProject> {
    for (const [, entry] of this) yield entry;
  }
}

/**
 * Visits the entries in name order. The entries read come sorted (state.json is) and a run's new ones after
 * them (RunProjects): the first name out of order starts the rest, which alone is sorted, then merged with
 * the sorted part before it. One walk with forEach: RunProjects' iterators build an array of every entry.
 */
function forEachByName(
  projects: ProjectEntries,
  visit: (entry: MirroredProject, name: string) => void,
): void {
  const names: string[] = [];
  const entries: MirroredProject[] = [];
  let sortedCount = -1;
  projects.forEach((entry, name) => {
    if (sortedCount < 0 && names.length > 0 && name < (names[names.length - 1] as string)) {
      sortedCount = names.length;
    }
    names.push(name);
    entries.push(entry);
  });
  const at = (k: number): void => visit(entries[k] as MirroredProject, names[k] as string);
  if (sortedCount < 0) {
    for (let k = 0; k < names.length; k++) at(k);
    return;
  }
  const name = (k: number): string => names[k] as string;
  const rest = Array.from({ length: names.length - sortedCount }, (_, i) => sortedCount + i).sort((a, b) =>
    name(a) < name(b) ? -1 : 1,
  );
  for (let i = 0, j = 0; i < sortedCount || j < rest.length;) {
    const isFromSorted = j >= rest.length || (i < sortedCount && name(i) < name(rest[j] as number));
    at(isFromSorted ? i++ : (rest[j++] as number));
  }
}

/** The entries as state.json stores them, sorted by name. */
export function sortedProjects(projects: ProjectEntries): Record<string, MirroredProject> {
  const sorted: Record<string, MirroredProject> = {};
  forEachByName(projects, (entry, name) => (sorted[name] = entry));
  return sorted;
}

/** The entries' quarantine holds (for the report), with no array of every entry. */
export function quarantineHolds(projects: ProjectEntries): QuarantineHold[] {
  const holds: QuarantineHold[] = [];
  projects.forEach((p) => {
    if (p.quarantine !== undefined) holds.push(p.quarantine);
  });
  return holds;
}

/** The root page's entries: every project with a page, by name. */
export function rootEntries(projects: ProjectEntries): { name: string; displayName: string }[] {
  const entries: { name: string; displayName: string }[] = [];
  forEachByName(projects, (p, name) => {
    if (p.isEmpty !== true) entries.push({ name, displayName: p.displayName });
  });
  return entries;
}

/**
 * Whether the state a run would write says what state.json says already: the run's entries are the very
 * ones it read (a project the run noted has a new entry), and every other field is equal, the last run's
 * times apart (its outcome counts). Then state.json is not written again: a no-op through the changelog
 * whose serial did not move leaves it as it is, and its `lastRun` is the last run that changed something.
 */
export function isStateUnchanged(
  before: MirrorState,
  projects: RunProjects,
  next: Omit<MirrorState, 'projects'>,
): boolean {
  if (before.lastRun === null || next.lastRun === null || before.lastRun.ok !== next.lastRun.ok) return false;
  if (!projects.isAsRead()) return false;
  const fields = new Set([...Object.keys(before), ...Object.keys(next)]);
  for (const field of fields) {
    if (field === 'projects' || field === 'lastRun') continue;
    const key = field as keyof Omit<MirrorState, 'projects'>;
    if (!isDeepStrictEqual(before[key], next[key])) return false;
  }
  return true;
}
