// The file filters of issue #11 part 1, compiled once per config into one verdict per upstream file:
// `package_types` and `extensions` on the file's kind, `python_versions` and `platforms` on its tags
// (wheels) or its name (eggs, installers), then Requires-Python. Tag filters never drop an sdist. Pure.
import { binarySdistName, compileKindSelection, fileKind, type FileKind } from './filetypes.js';
import {
  compilePlatforms,
  compilePythonVersions,
  isWheelSelected,
  type PlatformSelection,
  type PythonSelection,
} from './tags.js';
import { parseFileVersion } from './filenames.js';
import {
  canonicalVersion,
  isVersionFiltering,
  requiresPythonAllows,
  selectVersions,
  type Release,
  type VersionPolicy,
} from './versions.js';

/** The four keys as the config holds them (whitespace-separated values, already validated). */
export interface FileSelectionKeys {
  readonly pythonVersions: readonly string[];
  readonly platforms: readonly string[];
  readonly packageTypes: readonly string[];
  readonly extensions: readonly string[];
}

/** Why a file is not selected: the key that dropped it. */
export type FileRejection =
  'package_types' | 'extensions' | 'python_versions' | 'platforms' | 'requires_python';

export interface FileSelection {
  readonly python: PythonSelection;
  readonly platforms: PlatformSelection;
  /** True when no key is set: every file passes (a planner may skip the per-file work). */
  readonly isEmpty: boolean;
  /** Null when the file is selected, else the key that drops it. */
  reject(filename: string, requiresPython: string | null): FileRejection | null;
}

/** Python side of a non-wheel binary: its `pyX.Y` label, `any` passing whenever a version is listed. */
function binaryPythonAllowed(kind: FileKind, python: PythonSelection): boolean {
  if (python.isOpen || python.labels.has(kind.pythonLabel)) return true;
  return kind.pythonLabel === 'any' && python.versions.length > 0;
}

export function compileFileSelection(keys: FileSelectionKeys): FileSelection {
  const python = compilePythonVersions(keys.pythonVersions);
  const platforms = compilePlatforms(keys.platforms);
  const kinds = compileKindSelection(keys.packageTypes, keys.extensions);
  const isEmpty =
    python.isOpen && platforms.isOpen && keys.packageTypes.length === 0 && keys.extensions.length === 0;
  return {
    python,
    platforms,
    isEmpty,
    reject(filename, requiresPython) {
      if (isEmpty) return null;
      const kind = fileKind(filename);
      const byKind = kinds.reject(filename, kind);
      if (byKind !== null) return byKind;
      if (kind.wheel !== null) {
        if (!isWheelSelected(kind.wheel, python, platforms)) {
          // Tell the user which key to loosen: platforms when some triple passes the Python side.
          const pyOnly = isWheelSelected(kind.wheel, python, compilePlatforms([]));
          return pyOnly ? 'platforms' : 'python_versions';
        }
      } else if (kind.platformTag !== null) {
        if (!binaryPythonAllowed(kind, python)) return 'python_versions';
        if (!platforms.accepts(kind.platformTag)) return 'platforms';
      }
      return requiresPythonAllows(requiresPython, python.versions) ? null : 'requires_python';
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Per project: the file filters, then the version filters among the releases they leave.

/** What the per-project selection needs of an upstream file (UpstreamFile has all of it). */
export interface CandidateFile {
  readonly filename: string;
  readonly requiresPython: string | null;
  /** null = not yanked. */
  readonly yanked: string | null;
}

export interface ProjectSelection {
  /** Releases that keep at least one file after the file filters: what the closure's `releases` returns. */
  readonly releases: readonly Release[];
  /** Versions kept by the version filters, newest first (as spelled by their first file). */
  readonly versions: readonly string[];
  /** File names selected: file filters passed and the release kept. */
  readonly files: ReadonlySet<string>;
  /** Why each other file was dropped: a file key, or `versions` (the version filters). */
  readonly rejected: ReadonlyMap<string, FileRejection | 'versions'>;
}

/**
 * Selects the files of one project: each file through `selection`, then the releases left through
 * selectVersions with `specifiers` (the project's package_matches specifier and, under the closure, the
 * specifier of each requirement on it). A file whose version cannot be told from its name belongs to no
 * release: it is kept only when no version filter is active.
 */
export function selectProjectFiles(
  project: string,
  files: readonly CandidateFile[],
  selection: FileSelection,
  specifiers: readonly string[],
  policy: VersionPolicy,
): ProjectSelection {
  const rejected = new Map<string, FileRejection | 'versions'>();
  const byRelease = new Map<string, { version: string; files: CandidateFile[] }>();
  const unversioned: string[] = [];
  for (const file of files) {
    const reason = selection.reject(file.filename, file.requiresPython);
    if (reason !== null) {
      rejected.set(file.filename, reason);
      continue;
    }
    const version = parseFileVersion(binarySdistName(file.filename), project);
    if (version === null) {
      unversioned.push(file.filename);
      continue;
    }
    const key = canonicalVersion(version);
    const entry = byRelease.get(key) ?? { version, files: [] };
    entry.files.push(file);
    byRelease.set(key, entry);
  }
  const releases = [...byRelease.values()].map((r) => ({
    version: r.version,
    isYanked: r.files.every((f) => f.yanked !== null),
  }));
  const versions = selectVersions(releases, specifiers, policy);
  const keptKeys = new Set(versions.map(canonicalVersion));
  const kept = new Set<string>();
  for (const [key, release] of byRelease) {
    for (const file of release.files) {
      if (keptKeys.has(key)) kept.add(file.filename);
      else rejected.set(file.filename, 'versions');
    }
  }
  const isFiltering = isVersionFiltering(specifiers, policy);
  for (const filename of unversioned) {
    if (isFiltering) rejected.set(filename, 'versions');
    else kept.add(filename);
  }
  return { releases, versions, files: kept, rejected };
}
