// The file filters of issue #11 part 1, compiled once per config into one verdict per upstream file:
// `package_types` and `extensions` on the file's kind, `python_versions` and `platforms` on its tags
// (wheels) or its name (eggs, installers), then Requires-Python. Tag filters never drop an sdist. Pure.
import { compileKindSelection, fileKind, type FileKind } from './filetypes.js';
import {
  compilePlatforms,
  compilePythonVersions,
  isWheelSelected,
  type PlatformSelection,
  type PythonSelection,
} from './tags.js';
import { requiresPythonAllows } from './versions.js';

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
