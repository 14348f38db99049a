// Project and file selection, compiled once (docs/architecture.md "The directories"). Pure.
// Matching must keep up with PyPI's root listing (700 000 names × dozens of globs in well under a second):
// literal names go into a Set, every glob of one kind into a single combined RegExp built from
// minimatch's own translation, so one name costs one Set lookup and one regex run.
import { Minimatch } from 'minimatch';
import {
  compileFileSelection,
  selectProjectFiles,
  type CandidateFile,
  type FileSelectionKeys,
} from './file-selection.js';
import { normalizeName } from '../model/names.js';
import { isVersionFiltering, parsePackageMatch, type VersionPolicy } from './versions.js';

export interface Filters {
  /** True when the project (any spelling) is selected by package_matches. */
  matchProject(name: string): boolean;
  /** Same as matchProject for a name that is already normalised (skips the normalisation). */
  matchNormalizedProject(normalized: string): boolean;
  /** True when the file name is selected by filename_matches. */
  matchFile(filename: string): boolean;
  /** True when a `!` entry of package_matches excludes the (normalised) project: the closure skips it too. */
  isExcluded(normalized: string): boolean;
  /**
   * The files of one project the mirror holds: filename_matches, then the file keys (python_versions,
   * platforms, package_types, extensions, Requires-Python), then the version filters (keep_latest,
   * prereleases, the project's package_matches specifiers). `project` is the normalised name.
   */
  selectFiles(project: string, files: readonly CandidateFile[]): ReadonlySet<string>;
  /**
   * When every include is a literal project name (no glob characters) and there are no excludes that
   * matter, the normalised names; otherwise null. Lets a sync skip the root listing.
   */
  readonly literalProjects: readonly string[] | null;
}

const GLOB_CHARS = /[*?[\]{}]/;
/** Patterns minimatch must see: glob characters or an escape. */
const SPECIAL_CHARS = /[*?[\]{}\\]/;

// nobrace/noext: project and file names never need them, and `+(...)` in a file name is literal.
const OPTIONS = { nocase: true, dot: true, nobrace: true, noext: true, nocomment: true } as const;

/** A set of globs compiled to: exact names (lower-cased), one RegExp, and any leftovers minimatch keeps. */
interface Matcher {
  readonly isEmpty: boolean;
  test(subject: string): boolean;
}

function compileMatcher(patterns: readonly string[]): Matcher {
  const exact = new Set<string>();
  const sources: string[] = [];
  const leftovers: Minimatch[] = [];
  for (const pattern of patterns) {
    if (!SPECIAL_CHARS.test(pattern) && !pattern.startsWith('!') && !pattern.startsWith('#')) {
      exact.add(pattern.toLowerCase());
      continue;
    }
    const mm = new Minimatch(pattern, OPTIONS);
    const re = mm.negate || mm.set.length !== 1 ? false : mm.makeRe();
    if (re instanceof RegExp && re.flags.replace('i', '') === '') sources.push(`(?:${re.source})`);
    else leftovers.push(mm);
  }
  const combined = sources.length === 0 ? null : new RegExp(sources.join('|'), 'i');
  const isEmpty = exact.size === 0 && combined === null && leftovers.length === 0;
  return {
    isEmpty,
    test(subject) {
      if (exact.has(subject.toLowerCase())) return true;
      if (combined !== null && combined.test(subject)) return true;
      return leftovers.length > 0 && leftovers.some((m) => m.match(subject));
    },
  };
}

interface Compiled {
  readonly includes: Matcher;
  readonly excludes: Matcher;
}

function compile(globs: readonly string[], normalize: (glob: string) => string): Compiled {
  const includes: string[] = [];
  const excludes: string[] = [];
  for (const raw of globs) {
    const isExclude = raw.startsWith('!');
    (isExclude ? excludes : includes).push(normalize(isExclude ? raw.slice(1) : raw));
  }
  return { includes: compileMatcher(includes), excludes: compileMatcher(excludes) };
}

function matches(c: Compiled, subject: string): boolean {
  if (!c.excludes.isEmpty && c.excludes.test(subject)) return false;
  return c.includes.isEmpty || c.includes.test(subject);
}

/** Normalises a project glob like a name, keeping glob syntax: `Zope.*` → `zope-*`. */
function normalizeProjectGlob(glob: string): string {
  return normalizeName(glob);
}

/** The file and version keys of issue #11; Config has them under these names. */
export type SelectionKeys = FileSelectionKeys & VersionPolicy;

/** Every selection key open: the defaults, under which every file of a selected project is kept. */
export const OPEN_SELECTION: SelectionKeys = Object.freeze({
  pythonVersions: [],
  platforms: [],
  packageTypes: [],
  extensions: [],
  keepLatest: null,
  prereleases: true,
});

/**
 * The selection keys as part of a sync's scope key: nothing while every one is open, so a mirror that sets
 * none keeps the scope key it had before these keys existed (and is not re-planned on upgrade).
 */
export function selectionScope(keys: SelectionKeys): string[] {
  const lists = [keys.pythonVersions, keys.platforms, keys.packageTypes, keys.extensions];
  const isOpen = lists.every((l) => l.length === 0) && keys.keepLatest === null && keys.prereleases;
  if (isOpen) return [];
  return [...lists.map((l) => l.join(' ')), String(keys.keepLatest), String(keys.prereleases)];
}

/** The glob or name of a package_matches entry, its version specifier removed (`!` kept). */
export function packagePattern(entry: string): string {
  const match = parsePackageMatch(entry);
  if ('error' in match) return entry;
  return (match.isExclude ? '!' : '') + match.pattern;
}

/** Normalised project name → the specifiers its package_matches entries give it (validated entries). */
function collectSpecifiers(packageMatches: readonly string[]): Map<string, string[]> {
  const specifiers = new Map<string, string[]>();
  for (const entry of packageMatches) {
    const match = parsePackageMatch(entry);
    if ('error' in match || match.isExclude || match.isGlob) continue;
    const name = normalizeName(match.pattern);
    specifiers.set(name, [...(specifiers.get(name) ?? []), match.specifier]);
  }
  return specifiers;
}

/**
 * The dependency closure's part of the selection (src/sync/closure.ts): each project it pulls in, with the
 * specifier of every requirement on it. With `requirements` set and no include in package_matches, the
 * closure alone is selected (an empty package_matches does not mean every project then).
 */
export interface ClosureSelection {
  readonly specifiers: ReadonlyMap<string, readonly string[]>;
}

export function compileFilters(
  packageMatches: readonly string[],
  filenameMatches: readonly string[],
  selection: SelectionKeys = OPEN_SELECTION,
  closure: ClosureSelection | null = null,
): Filters {
  const patterns = packageMatches.map(packagePattern);
  const projects = compile(patterns, normalizeProjectGlob);
  const files = compile(filenameMatches, (g) => g);
  const includes = patterns.filter((g) => !g.startsWith('!'));
  const isClosureOnly = closure !== null && includes.length === 0;
  const isLiteral = includes.length > 0 && includes.every((g) => !GLOB_CHARS.test(g));
  const byMatches = (n: string): boolean => !isClosureOnly && matches(projects, n);
  const pulledIn = closure?.specifiers ?? new Map<string, readonly string[]>();
  const isSelected = (n: string): boolean => byMatches(n) || pulledIn.has(n);
  const literalProjects =
    isLiteral || isClosureOnly
      ? [...new Set([...includes.map(normalizeName), ...pulledIn.keys()])].filter(isSelected).sort()
      : null;
  const fileSelection = compileFileSelection(selection);
  const specifiers = collectSpecifiers(packageMatches);
  const matchFile = (filename: string): boolean => matches(files, filename);
  return {
    matchProject: (name) => isSelected(normalizeName(name)),
    matchNormalizedProject: isSelected,
    matchFile,
    isExcluded: (normalized) => !projects.excludes.isEmpty && projects.excludes.test(normalized),
    selectFiles(project, candidates) {
      const named = candidates.filter((f) => matchFile(f.filename));
      // A glob or a plain name puts no constraint on the versions: one empty specifier. A project both
      // matched and pulled in by the closure gets both lists.
      const own = byMatches(project) ? (specifiers.get(project) ?? ['']) : [];
      const wanted = [...own, ...(pulledIn.get(project) ?? [])];
      const specifiersOf = wanted.length === 0 ? [''] : wanted;
      // No file key and no version filter: every file filename_matches leaves is kept, with no version
      // parsed (a re-plan of 100 000 projects, issue #14 part 4).
      if (fileSelection.isEmpty && !isVersionFiltering(specifiersOf, selection))
        return new Set(named.map((f) => f.filename));
      return selectProjectFiles(project, named, fileSelection, specifiersOf, selection).files;
    },
    literalProjects,
  };
}
