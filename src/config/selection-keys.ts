// The values of the selection keys of issue #11 (python_versions, platforms, package_types, extensions)
// and the entries of package_matches, which may carry a version specifier. Pure, like validate.ts.
import {
  isExtension,
  isPackageType,
  EXTENSIONS_EXPECTED,
  PACKAGE_TYPES_EXPECTED,
} from '../plan/filetypes.js';
import {
  parsePlatform,
  parsePythonValue,
  PLATFORMS_EXPECTED,
  PYTHON_VERSIONS_EXPECTED,
} from '../plan/tags.js';
import type { Config } from './types.js';

/** The keys whose value is a list of words checked one by one against the selection engine. */
export type SelectionWordKey = 'python_versions' | 'platforms' | 'package_types' | 'extensions';

const WORDS: Readonly<Record<SelectionWordKey, { isValid: (word: string) => boolean; expected: string }>> = {
  python_versions: { isValid: (w) => parsePythonValue(w) !== null, expected: PYTHON_VERSIONS_EXPECTED },
  platforms: { isValid: (w) => parsePlatform(w) !== null, expected: PLATFORMS_EXPECTED },
  package_types: { isValid: isPackageType, expected: PACKAGE_TYPES_EXPECTED },
  extensions: { isValid: isExtension, expected: EXTENSIONS_EXPECTED },
};

/** Null when `word` is a valid value of `key`, else what was expected. */
export function checkSelectionWord(key: SelectionWordKey, word: string): string | null {
  const { isValid, expected } = WORDS[key];
  return isValid(word) ? null : `expected ${expected}`;
}

/** Starts a specifier clause: `<`, `>`, `=`, `~`, `!=` (a lone `!` starts an exclusion). */
const STARTS_CLAUSE = /^(?:[<>=~]|!=)/;
/** Holds a specifier (after the name's first character, so `!foo` does not count). */
const HAS_SPECIFIER = /^.[^<>=~]*(?:[<>=~]|!=)/;

/** Does `token` continue the specifier of `previous` (an operator, or a comma list still open)? */
function continuesSpecifier(previous: string, token: string): boolean {
  if (STARTS_CLAUSE.test(token)) return true;
  return HAS_SPECIFIER.test(previous) && (token.startsWith(',') || /[<>=~,]$/.test(previous));
}

/**
 * Splits a package_matches value into entries on whitespace, keeping a version specifier with its name
 * however it is spaced: `requests >= 2.30, <3  numpy<2 zope.*` → `requests>=2.30,<3`, `numpy<2`, `zope.*`.
 */
export function splitPackageMatches(text: string): string[] {
  const entries: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    const last = entries.length - 1;
    const previous = entries[last];
    if (previous !== undefined && continuesSpecifier(previous, token)) {
      entries[last] = previous + token;
    } else {
      entries.push(token);
    }
  }
  return entries;
}

/** What the file and version keys keep, as `check` comment lines (none when every key is open). */
export function describeFileSelection(cfg: Config): string[] {
  const lines: string[] = [];
  if (cfg.pythonVersions.length > 0)
    lines.push(
      `#   for Python ${cfg.pythonVersions.join(' ')} (wheels it installs, files whose Requires-Python allows it)`,
    );
  if (cfg.platforms.length > 0)
    lines.push(`#   on platforms ${cfg.platforms.join(' ')} (pure -any wheels on every platform)`);
  if (cfg.packageTypes.length > 0) lines.push(`#   package types: ${cfg.packageTypes.join(' ')}`);
  if (cfg.extensions.length > 0) lines.push(`#   extensions: ${cfg.extensions.join(' ')}`);
  if (cfg.keepLatest !== null) {
    const releases = cfg.keepLatest === 1 ? 'the latest release' : `the ${cfg.keepLatest} latest releases`;
    lines.push(`#   ${releases} of each project (and every release a version specifier pins)`);
  }
  if (!cfg.prereleases) lines.push('#   no pre-releases, unless a version specifier names one');
  return lines;
}
