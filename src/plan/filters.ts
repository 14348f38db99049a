// Project and file selection, compiled once (STYLE.md §4.11). Pure.
// Matching must keep up with PyPI's root listing (700 000 names × dozens of globs in well under a second):
// literal names go into a Set, every glob of one kind into a single combined RegExp built from
// minimatch's own translation, so one name costs one Set lookup and one regex run.
import { Minimatch } from 'minimatch';
import { normalizeName } from './names.js';

export interface Filters {
  /** True when the project (any spelling) is selected by package_matches. */
  matchProject(name: string): boolean;
  /** Same as matchProject for a name that is already normalised (skips the normalisation). */
  matchNormalizedProject(normalized: string): boolean;
  /** True when the file name is selected by filename_matches. */
  matchFile(filename: string): boolean;
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
export function normalizeProjectGlob(glob: string): string {
  return normalizeName(glob);
}

export function compileFilters(
  packageMatches: readonly string[],
  filenameMatches: readonly string[],
): Filters {
  const projects = compile(packageMatches, normalizeProjectGlob);
  const files = compile(filenameMatches, (g) => g);
  const includes = packageMatches.filter((g) => !g.startsWith('!'));
  const isLiteral = includes.length > 0 && includes.every((g) => !GLOB_CHARS.test(g));
  const literalProjects = isLiteral
    ? [...new Set(includes.map(normalizeName))].filter((n) => matches(projects, n)).sort()
    : null;
  return {
    matchProject: (name) => matches(projects, normalizeName(name)),
    matchNormalizedProject: (normalized) => matches(projects, normalized),
    matchFile: (filename) => matches(files, filename),
    literalProjects,
  };
}
