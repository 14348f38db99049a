// Version selection (issue #11, part 2): PEP 440 order and specifiers through @renovatebot/pep440 (a
// port of pypa/packaging), `keep_latest`, `prereleases`, specifiers in `package_matches` entries, and the
// Requires-Python check against the `python_versions` of a mirror. Pure.
import { compare, explain, satisfies, validRange } from '@renovatebot/pep440';
import type { PythonVersion } from './tags.js';
import { sortVersionsNewestFirst } from './version-order.js';

/** Is `version` a valid PEP 440 version? */
export function isValidVersion(version: string): boolean {
  return explain(version) !== null;
}

/**
 * The canonical form of a PEP 440 version, for grouping files of one release (`1.0` and `1.0.0`,
 * `1.0RC1` and `1.0rc1` are one release): packaging's canonicalize_version. Invalid versions stay as is.
 */
export function canonicalVersion(version: string): string {
  const v = explain(version);
  if (v === null) return version;
  const release = [...v.release];
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  let out = v.epoch > 0 ? `${v.epoch}!` : '';
  out += release.join('.');
  if (v.pre !== null && v.pre.length === 2) out += `${String(v.pre[0])}${String(v.pre[1])}`;
  if (v.post !== null && typeof v.post === 'number') out += `.post${v.post}`;
  if (v.dev !== null && typeof v.dev === 'number') out += `.dev${v.dev}`;
  if (v.local !== null) out += `+${v.local}`;
  return out;
}

/** PEP 440 order; invalid versions sort before every valid one (and among themselves by text). */
export function compareVersions(a: string, b: string): number {
  const va = isValidVersion(a);
  const vb = isValidVersion(b);
  if (va && vb) return compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Is `version` a pre-release or development release (`a`, `b`, `rc`, `.dev`)? */
export function isPrerelease(version: string): boolean {
  return explain(version)?.is_prerelease ?? false;
}

/** Is `specifier` a valid PEP 440 specifier set (`>=1.0,<2`, `==1.*`, `~=3.1`; empty = anything)? */
export function isValidSpecifier(specifier: string): boolean {
  return validRange(specifier);
}

/**
 * Does `version` satisfy `specifier` (empty = every version)? Pre-releases are matched like any
 * version here; the `prereleases` policy is applied separately (selectVersions).
 */
export function satisfiesSpecifier(version: string, specifier: string): boolean {
  if (specifier.trim() === '') return true;
  return isValidVersion(version) && satisfies(version, specifier, { prereleases: true });
}

/** The versions a specifier names with `==` or `===` and no wildcard: its pins. */
export function pinnedVersions(specifier: string): string[] {
  const pins: string[] = [];
  for (const clause of specifier.split(',')) {
    const m = /^\s*(===?)\s*([^\s*]+)\s*$/.exec(clause);
    if (m !== null) pins.push(m[2] as string);
  }
  return pins;
}

/** Does the specifier name a pre-release (`>=2.0b1`, `==3.0rc2`)? Then pre-releases are wanted. */
function namesPrerelease(specifier: string): boolean {
  return specifier.split(',').some((clause) => {
    const m = /^\s*(?:===|==|!=|~=|<=|>=|<|>)\s*([^\s*]+?)(?:\.\*)?\s*$/.exec(clause);
    return m !== null && isPrerelease(m[1] as string);
  });
}

// ---------------------------------------------------------------------------------------------------
// Requires-Python

/** A patch level higher than any CPython will have, to stand for "the latest X.Y.z". */
const LAST_PATCH = 999;

/**
 * Can some CPython `X.Y.z` of one of `versions` satisfy `requiresPython`? pip checks the running
 * interpreter's full version; a mirror does not know the patch level, so it keeps a file when any patch
 * release of a listed version would install it: `>=3.11.2` keeps the file for `3.11`, `<3.11` does not.
 * The check tries `X.Y.0`, the last patch and every patch level the specifier names and its neighbours,
 * which covers every interval and exclusion a specifier set can express. An empty or invalid
 * Requires-Python (pip ignores invalid ones) and an empty `versions` (open dimension) allow the file.
 */
export function requiresPythonAllows(
  requiresPython: string | null,
  versions: readonly PythonVersion[],
): boolean {
  if (requiresPython === null || requiresPython.trim() === '' || versions.length === 0) return true;
  if (!validRange(requiresPython)) return true;
  return versions.some((v) => patchCandidates(v, requiresPython).some((c) => satisfies(c, requiresPython)));
}

/** `X.Y.z` levels worth trying for `specifier`: 0, the last, and each named `X.Y.z` with z-1 and z+1. */
export function patchCandidates(v: PythonVersion, specifier: string): string[] {
  const prefix = `${v.major}.${v.minor}`;
  const levels = new Set([0, LAST_PATCH]);
  const named = new RegExp(`(?:^|[^\\d.])${v.major}\\.${v.minor}\\.(\\d+)`, 'g');
  for (const m of specifier.matchAll(named)) {
    const z = Number(m[1]);
    for (const level of [z - 1, z, z + 1]) if (level >= 0) levels.add(level);
  }
  return [...levels].map((z) => `${prefix}.${z}`);
}

// ---------------------------------------------------------------------------------------------------
// package_matches entries with specifiers

/** A `package_matches` entry split into its glob-or-name part and its specifier. */
export interface PackageMatch {
  /** The project glob or name, `!` removed (`zope.*`, `requests`). */
  readonly pattern: string;
  readonly isExclude: boolean;
  /** True when `pattern` has glob characters; a glob never carries a specifier. */
  readonly isGlob: boolean;
  /** The PEP 440 specifier (`>=2.30`, `<2`), '' when none. */
  readonly specifier: string;
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Splits `requests>=2.30`, `numpy < 2`, `zope.*`, `!foo*`, `bar==1.*`. Returns a message saying what is
 * wrong for an entry that is neither a glob nor a name with a valid specifier.
 */
export function parsePackageMatch(entry: string): PackageMatch | { readonly error: string } {
  const trimmed = entry.trim();
  const isExclude = trimmed.startsWith('!');
  const body = isExclude ? trimmed.slice(1).trim() : trimmed;
  const m = /^([^<>=!~\s]+)\s*(.*)$/.exec(body);
  if (m === null) return { error: 'a project name or glob, optionally followed by a version specifier' };
  const pattern = m[1] as string;
  const specifier = (m[2] as string).trim();
  const isGlob = GLOB_CHARS.test(pattern);
  if (specifier === '') return { pattern, isExclude, isGlob, specifier };
  if (isGlob)
    return { error: `a version specifier only after a project name, not after the glob "${pattern}"` };
  if (isExclude) return { error: `no version specifier on an exclusion ("!${pattern}")` };
  if (!/^[<>=!~]/.test(specifier) || !validRange(specifier)) {
    return { error: `a PEP 440 version specifier like >=2.30 or <2 after "${pattern}", not "${specifier}"` };
  }
  return { pattern, isExclude, isGlob, specifier };
}

// ---------------------------------------------------------------------------------------------------
// keep_latest, prereleases, specifiers

/** One release of a project, as the file filters left it. */
export interface Release {
  readonly version: string;
  /** True when every selected file of the release is yanked (PEP 592). */
  readonly isYanked: boolean;
}

export interface VersionPolicy {
  /** `keep_latest`: keep the N latest releases per specifier; null keeps every release. */
  readonly keepLatest: number | null;
  /** `prereleases = false` drops pre-releases and dev releases unless a specifier names one. */
  readonly prereleases: boolean;
}

/** Does any version filter apply (keep_latest, prereleases = false, a non-empty specifier)? */
export function isVersionFiltering(specifiers: readonly string[], policy: VersionPolicy): boolean {
  return policy.keepLatest !== null || !policy.prereleases || specifiers.some((s) => s.trim() !== '');
}

/**
 * Which releases a project keeps. `specifiers` are the version constraints on the project, each one a
 * specifier set that may be '' (a plain name or glob): one from its `package_matches` entry, one per
 * requirement on it in the closure. A release is kept when it satisfies at least one of them, and:
 * - pre-releases are dropped unless `prereleases` is on or that specifier names a pre-release;
 * - with `keep_latest = N`, each specifier keeps only its N latest matching releases, counting releases
 *   that still have a selected, unyanked file (so a narrower specifier or a pin beats keep_latest: its
 *   releases are kept even when newer ones exist);
 * - a pin (`==1.2`, `===1.2`) always keeps the release it names, yanked or pre-release;
 * - with any version filter active, releases whose version is not valid PEP 440 are dropped (they cannot
 *   be ordered or matched); with none, every release is kept as before.
 * Returns the kept versions as given, newest first.
 */
export function selectVersions(
  releases: readonly Release[],
  specifiers: readonly string[],
  policy: VersionPolicy,
): string[] {
  const wanted = specifiers.length === 0 ? [''] : specifiers;
  const isFiltering =
    policy.keepLatest !== null || !policy.prereleases || wanted.some((s) => s.trim() !== '');
  if (!isFiltering) return sortNewestFirst(releases.map((r) => r.version));
  const valid = sortNewestFirst(releases.filter((r) => isValidVersion(r.version)).map((r) => r.version));
  const yanked = new Set(releases.filter((r) => r.isYanked).map((r) => r.version));
  const kept = new Set<string>();
  for (const specifier of wanted) {
    const allowPre = policy.prereleases || namesPrerelease(specifier);
    const pins = pinnedVersions(specifier).map(canonicalVersion);
    let counted = 0;
    for (const version of valid) {
      if (!satisfiesSpecifier(version, specifier)) continue;
      if (pins.includes(canonicalVersion(version))) {
        kept.add(version);
        continue;
      }
      if (!allowPre && isPrerelease(version)) continue;
      if (policy.keepLatest === null) {
        kept.add(version);
      } else if (!yanked.has(version) && counted < policy.keepLatest) {
        kept.add(version);
        counted += 1;
      }
    }
  }
  return valid.filter((v) => kept.has(v));
}

function sortNewestFirst(versions: readonly string[]): string[] {
  return sortVersionsNewestFirst(versions); // each version parsed once (version-order.ts)
}
