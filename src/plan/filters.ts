// Project and file selection, compiled once (STYLE.md §4.11). Pure.
import { Minimatch } from 'minimatch';
import { normalizeName } from './names.js';

export interface Filters {
  /** True when the project (any spelling) is selected by package_matches. */
  matchProject(name: string): boolean;
  /** True when the file name is selected by filename_matches. */
  matchFile(filename: string): boolean;
  /**
   * When every include is a literal project name (no glob characters) and there are no excludes that
   * matter, the normalised names; otherwise null. Lets a sync skip the root listing.
   */
  readonly literalProjects: readonly string[] | null;
}

interface Compiled {
  includes: Minimatch[];
  excludes: Minimatch[];
}

const GLOB_CHARS = /[*?[\]{}]/;

function compile(globs: readonly string[], normalize: (glob: string) => string): Compiled {
  const includes: Minimatch[] = [];
  const excludes: Minimatch[] = [];
  for (const raw of globs) {
    const isExclude = raw.startsWith('!');
    const pattern = normalize(isExclude ? raw.slice(1) : raw);
    // nobrace/noext: project and file names never need them, and `+(...)` in a file name is literal.
    const mm = new Minimatch(pattern, {
      nocase: true,
      dot: true,
      nobrace: true,
      noext: true,
      nocomment: true,
    });
    (isExclude ? excludes : includes).push(mm);
  }
  return { includes, excludes };
}

function matches(c: Compiled, subject: string): boolean {
  if (c.excludes.some((m) => m.match(subject))) return false;
  return c.includes.length === 0 || c.includes.some((m) => m.match(subject));
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
    matchFile: (filename) => matches(files, filename),
    literalProjects,
  };
}
