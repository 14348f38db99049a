// Distribution file names (docs/protocol.md §4): the version a file belongs to, for PEP 700 `versions`. Pure.
import { normalizeName } from '../model/names.js';

const SDIST_EXTENSIONS = [
  '.tar.gz',
  '.tar.bz2',
  '.tar.xz',
  '.tar.zst',
  '.tgz',
  '.tbz',
  '.txz',
  '.tar',
  '.zip',
];

/** The version in a wheel, sdist or egg file name of `project`, or null when it cannot be told. */
export function parseFileVersion(filename: string, project: string): string | null {
  const lower = filename.toLowerCase();
  if (lower.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    return parts.length === 5 || parts.length === 6 ? (parts[1] ?? null) : null;
  }
  if (lower.endsWith('.egg')) {
    const parts = filename.slice(0, -4).split('-');
    return parts.length >= 2 ? (parts[1] ?? null) : null;
  }
  const ext = SDIST_EXTENSIONS.find((e) => lower.endsWith(e));
  if (ext === undefined) return null;
  const stem = filename.slice(0, -ext.length);
  // Walk the '-' positions and compare the canonical prefix with the project (pip's _find_name_version_sep).
  const want = normalizeName(project);
  for (let i = stem.indexOf('-'); i !== -1; i = stem.indexOf('-', i + 1)) {
    if (normalizeName(stem.slice(0, i)) === want) {
      const version = stem.slice(i + 1);
      return version === '' ? null : version;
    }
  }
  return null;
}
