// RawConfig → frozen Config, collecting every problem (with file, line, key, value and what was expected)
// before throwing one ConfigError. Pure: no file system; paths are resolved, never checked for existence.
import path from 'node:path';
import {
  ConfigError,
  MAX_SHOWN_ISSUES,
  formatConfigIssue,
  limitShown,
  redactSecrets,
  redactUrl,
} from '../errors.js';
import { parsePackageMatch } from '../plan/versions.js';
import type { ConfigIssue } from '../errors.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import {
  BOOLEAN_STATES,
  CONFIG_KEYS,
  DEFAULT_SECTION,
  KEY_ALIASES,
  MIRROR_SECTION,
  OBSOLETE_KEYS,
  UPSTREAM_SECTION_PREFIX,
  isConfigKey,
} from './defaults.js';
import type { ConfigKey, ConfigKeySpec } from './defaults.js';
import {
  FIND_LINKS_DIRTY,
  FIND_LINKS_RECORD,
  INDEX_HTML,
  INDEX_JSON,
  isSystemDirectory,
  ROOT_MARKER,
  STATE_DIR,
} from '../model/layout.js';
import { isNormalizedName } from '../model/names.js';
import { checkSelectionWord, splitPackageMatches, type SelectionWordKey } from './selection-keys.js';
import { isUpstreamSectionName, readUpstreamSections } from './upstream-sections.js';
import type { Config, RawConfig, RawValue } from './types.js';

export interface ValidateOptions {
  /** Directory a relative `raw.file` is resolved against. */
  cwd: string;
  /** Problems parseIni found; reported in the same ConfigError, before or between the validation ones. */
  parseIssues?: readonly ConfigIssue[];
}

type Check<T> = { ok: true; value: T } | { ok: false; expected: string };

const accept = <T>(value: T): Check<T> => ({ ok: true, value });
const reject = <T>(expected: string): Check<T> => ({ ok: false, expected });

/** Globs per key: ample for any selection, and a bound on what matching every listed name costs. */
const MAX_GLOBS = 10_000;
const PROJECT_GLOB = /^[A-Za-z0-9._\-*?[\]!]+$/;
const UNCLOSED_BRACKET = /\[[^\]]*$/;

/**
 * Checks a RawConfig and returns the frozen Config, or throws ConfigError('CONFIG_INVALID') listing every
 * problem (parse problems included). `[mirror]` values win over `[DEFAULT]` ones.
 */
export function validateConfig(raw: RawConfig, opts: ValidateOptions): Config {
  const file = path.resolve(opts.cwd, raw.file);
  const configDir = path.dirname(file);
  const errors: ConfigIssue[] = [...(opts.parseIssues ?? [])];
  const warnings: ConfigIssue[] = [];
  const keysWithParseIssues = new Set(errors.map((i) => i.key));
  const hasMirror = raw.sections.has(MIRROR_SECTION);
  const mainSection = hasMirror ? MIRROR_SECTION : raw.sections.has(DEFAULT_SECTION) ? DEFAULT_SECTION : null;
  const values = new Map([
    ...(raw.sections.get(DEFAULT_SECTION)?.values ?? []),
    ...((hasMirror && raw.sections.get(MIRROR_SECTION)?.values) || []),
  ]);
  const report = (
    list: ConfigIssue[],
    key: string,
    v: RawValue | undefined,
    expected: string,
    value?: string,
  ) =>
    list.push({
      file: raw.file,
      line: v?.line ?? null,
      section: v?.section ?? mainSection,
      key,
      value: value ?? v?.value ?? null,
      expected,
    });

  /** Reads one key (or its alias) through `check`: missing → the default; bad → reported, null. */
  function read<T>(key: ConfigKey, check: (text: string) => Check<T>): T | null {
    const spec: ConfigKeySpec = CONFIG_KEYS[key];
    const alias = Object.keys(KEY_ALIASES).find((a) => KEY_ALIASES[a] === key && values.has(a));
    const name = values.has(key) || alias === undefined ? key : alias;
    const v = values.get(name);
    const isUnset = v === undefined || (spec.default === null && !spec.isRequired && v.value.trim() === '');
    if (isUnset) {
      if (spec.isRequired && !keysWithParseIssues.has(key)) report(errors, key, v, describeRequired(key));
      if (spec.default === null) return null;
      const fallback = check(spec.default);
      if (!fallback.ok) throw new Error(`defaults.ts: bad default for ${key}: ${fallback.expected}`);
      return fallback.value;
    }
    const result = check(v.value);
    if (result.ok) return result.value;
    const shown = spec.type === 'url' && v.value.includes('@') ? redactUrl(v.value.trim()) : v.value;
    report(errors, name, v, result.expected + describeInlineComment(v.value), shown);
    return null;
  }

  /** A whitespace-separated list (`split` says how), each item checked on its own and reported alone. */
  function readList(
    key: ConfigKey,
    checkItem: (item: string) => string | null,
    split: (text: string) => string[] = splitWords,
  ): string[] {
    const v = values.get(key);
    const items = split(v?.value ?? '');
    if (items.length > MAX_GLOBS) {
      const noun = key.endsWith('_matches') ? 'globs' : 'values';
      report(
        errors,
        key,
        v,
        `expected at most ${MAX_GLOBS} ${noun} (the cap); this list has ${items.length}`,
      );
      return [];
    }
    for (const item of items) {
      const expected = checkItem(item);
      if (expected !== null) report(errors, key, v, expected, item);
    }
    return items;
  }
  const readWords = (key: SelectionWordKey) => readList(key, (word) => checkSelectionWord(key, word));

  const readBoolean = (key: ConfigKey) => read(key, checkBoolean) ?? false;
  const readDuration = (key: ConfigKey) => read(key, (text) => checkDuration(text, CONFIG_KEYS[key])) ?? 0;
  const readPath = (key: ConfigKey, base: string | null) =>
    read(key, (text) => (base === null ? checkSingle(text, 'a path') : checkPath(text, base)));

  const mirrorRoot = readPath('mirror_file_path', configDir);
  // `numpy < 2` reads as one entry, `numpy<2`.
  const packageMatches = readList('package_matches', checkPackageMatch, splitPackageMatches);
  const requirements = readList('requirements', checkRequirementsPath).map((p) => path.resolve(configDir, p));
  const filenameMatches = readList('filename_matches', checkFilenameGlob);
  const pythonVersions = readWords('python_versions');
  const platforms = readWords('platforms');
  const packageTypes = readWords('package_types');
  const extensions = readWords('extensions');
  const keepLatest = read('keep_latest', (text) => checkInteger(text, CONFIG_KEYS.keep_latest));
  const prereleases = readBoolean('prereleases');
  const cleanup = readBoolean('cleanup');
  const createIndexes = readBoolean('create_indexes');
  const findLinksDir = readPath('find_links_dir', configDir);
  const lockFile = readPath('lock_file_name', mirrorRoot);
  const logFile = readPath('log_filename', configDir);
  const verbose = readBoolean('verbose');
  const baseUrl = read('base_url', (text) => checkHttpUrl(text, 'public'));
  const indexUrl = read('index_url', (text) => checkHttpUrl(text, 'index'));
  const syncIntervalMs = readDuration('sync_interval');
  const workers = read('workers', (text) => checkInteger(text, CONFIG_KEYS.workers));
  const timeoutMs = readDuration('timeout');
  const metricsFile = readPath('metrics_file', configDir);
  const maxDeletionsPercent = read('max_deletions', checkPercent) ?? 0;
  const maxDeletionsWindowMs = readDuration('max_deletions_window');
  const allowReplacedFiles = readBoolean('allow_replaced_files');
  const maxFileSize = read('max_file_size', (text) => checkSize(text, CONFIG_KEYS.max_file_size)) ?? 0;
  const requestDeadlineMs = readDuration('request_deadline');
  const caFile = readPath('ca_file', configDir);
  // `0` is no quarantine (in a section: none for that upstream, whatever [mirror] says).
  const minReleaseAgeMs =
    read('min_release_age', (text) => checkDuration(text, CONFIG_KEYS.min_release_age)) || null;
  const quarantineExempt = readList('quarantine_exempt', checkProjectGlob);
  const excludeNewer = read('exclude_newer', checkInstant);
  const upstreams = readUpstreamSections(
    raw,
    {
      url: (text) => checkHttpUrl(text, 'index'),
      duration: (key) => (text) => checkDuration(text, CONFIG_KEYS[key]),
      path: (text) => checkPath(text, configDir),
      packageMatch: checkPackageMatch,
      splitPackageMatches,
      defaults: { timeoutMs, requestDeadlineMs, caFile, minReleaseAgeMs },
    },
    errors,
  );
  const bundlePrivateKey = readPath('bundle_private_key', configDir);
  const bundlePublicKey = readPath('bundle_public_key', configDir);

  for (const [alias, key] of Object.entries(KEY_ALIASES)) {
    const [v, first] = [values.get(alias), values.get(key)];
    if (v === undefined || first === undefined) continue;
    report(errors, alias, v, `is another name for ${key}, which is also set (line ${first.line}); keep one`);
  }
  for (const [key, v] of values) {
    if (isConfigKey(key) || Object.hasOwn(KEY_ALIASES, key)) continue;
    const reason = OBSOLETE_KEYS[key];
    if (reason !== undefined) report(warnings, key, v, reason);
    else {
      // Suggestions cost an edit distance per known key: only for the warnings that will be shown.
      const hint = warnings.length < MAX_SHOWN_ISSUES ? suggestKey(key) : '';
      warnings.push({ ...locate(raw.file, v), expected: `unknown key "${key}"${hint}, ignored` });
    }
  }
  for (const [name, section] of raw.sections) {
    if (name === MIRROR_SECTION || name === DEFAULT_SECTION || isUpstreamSectionName(name)) continue;
    const guess = [MIRROR_SECTION, DEFAULT_SECTION].find(
      (s) => s.toLowerCase() === name.trim().toLowerCase(),
    );
    const hint =
      guess === undefined
        ? `pypimirror reads [${MIRROR_SECTION}], [${DEFAULT_SECTION}] and [upstream:NAME]`
        : `did you mean [${guess}]?`;
    const where = { file: raw.file, line: section.line, section: name, key: null, value: null };
    warnings.push({ ...where, expected: `unknown section, ignored; ${hint}` });
  }
  const lockClash = mirrorRoot === null || lockFile === null ? null : checkLockPlace(lockFile, mirrorRoot);
  if (lockClash !== null) report(errors, 'lock_file_name', values.get('lock_file_name'), lockClash);
  const flatClash =
    mirrorRoot === null || findLinksDir === null ? null : checkFindLinksPlace(findLinksDir, mirrorRoot);
  if (flatClash !== null) report(errors, 'find_links_dir', values.get('find_links_dir'), flatClash);
  const clearText = 'sends its password in clear text over http; use https';
  if (indexUrl?.protocol === 'http:' && indexUrl.password !== '') {
    report(warnings, 'index_url', values.get('index_url'), clearText, redactUrl(indexUrl));
  }
  for (const u of upstreams) {
    if (u.indexUrl.protocol !== 'http:' || u.indexUrl.password === '') continue;
    const v = raw.sections.get(`${UPSTREAM_SECTION_PREFIX}${u.name}`)?.values.get('index_url');
    report(warnings, 'index_url', v, clearText, redactUrl(u.indexUrl));
  }

  if (
    errors.length > 0 ||
    mirrorRoot === null ||
    lockFile === null ||
    indexUrl === null ||
    workers === null
  ) {
    throw new ConfigError('CONFIG_INVALID', raw.file, arrangeIssues(errors));
  }
  return Object.freeze({
    file,
    mirrorRoot,
    packageMatches: Object.freeze(packageMatches),
    filenameMatches: Object.freeze(filenameMatches),
    requirements: Object.freeze(requirements),
    // Read by load.ts (readRequirementsKey): this module touches no file.
    requirementRoots: Object.freeze([]),
    requirementFiles: Object.freeze([]),
    pythonVersions: Object.freeze(pythonVersions),
    platforms: Object.freeze(platforms),
    packageTypes: Object.freeze(packageTypes),
    extensions: Object.freeze(extensions),
    keepLatest,
    prereleases,
    cleanup,
    createIndexes,
    findLinksDir,
    lockFile,
    logFile,
    verbose,
    baseUrl,
    indexUrl,
    syncIntervalMs,
    workers,
    timeoutMs,
    metricsFile,
    maxDeletionsPercent,
    maxDeletionsWindowMs,
    allowReplacedFiles,
    maxFileSize,
    requestDeadlineMs,
    caFile,
    upstreams: Object.freeze(upstreams),
    minReleaseAgeMs,
    quarantineExempt: Object.freeze(quarantineExempt),
    excludeNewer,
    bundlePrivateKey,
    bundlePublicKey,
    warnings: Object.freeze(limitShown(arrangeIssues(warnings).map(formatConfigIssue), 'warnings')),
  });
}

function locate(file: string, v: RawValue): Omit<ConfigIssue, 'expected'> {
  return { file, line: v.line, section: v.section, key: null, value: null };
}

function describeRequired(key: ConfigKey): string {
  const where = `in [${MIRROR_SECTION}] or [${DEFAULT_SECTION}]`;
  return key === 'mirror_file_path'
    ? `required: the mirror's root directory, e.g. ${key} = /srv/pypi, ${where}`
    : `required ${where}`;
}

/** ConfigParser keeps `# ...` after a value; say so when a bad value looks like it has a comment. */
function describeInlineComment(value: string): string {
  return /\s[#;]/.test(value) ? ' (a comment must be on a line of its own)' : '';
}

function checkSingle(text: string, what: string): Check<string> {
  const value = text.trim();
  if (value === '') return reject(`expected ${what}`);
  if (value.includes('\n')) return reject(`expected ${what} on one line`);
  return accept(value);
}

function checkPath(text: string, base: string): Check<string> {
  const single = checkSingle(text, 'a path');
  if (!single.ok) return single;
  if (single.value.includes('\0')) return reject('expected a path without NUL characters');
  return accept(path.resolve(base, single.value));
}

/** pypimirror's own entries in <root>/.pypimirror/ (mirror/state.ts, status.ts, ownership.ts, find-links.ts). */
const STATE_ENTRIES: readonly string[] = [
  'state.json',
  'status.json',
  ROOT_MARKER,
  'projects',
  FIND_LINKS_RECORD,
  FIND_LINKS_DIRTY,
];

/**
 * Why the flat directory cannot be at `dir`, or null when it can: not inside the mirror (the web server would
 * serve it as part of the index, and the root's entries are projects), not holding the mirror, and not a
 * system directory.
 */
function checkFindLinksPlace(dir: string, root: string): string | null {
  const expected = 'expected a directory of its own outside the mirror, like /srv/pypimirror-find-links';
  if (isWithin(dir, root)) {
    return (
      `is inside mirror_file_path (${root}): the web server would serve it as part of the index, and ` +
      `pypimirror would take it for a project directory; ${expected}`
    );
  }
  if (isWithin(root, dir)) return `holds mirror_file_path (${root}); ${expected}`;
  if (isSystemDirectory(dir)) return `is a system directory; ${expected}`;
  return null;
}

/**
 * Why the lock (a directory while held, with `.owner` and `.acquiring` siblings) could collide with a project
 * directory, a root page, the root or the state, or null when it cannot. Inside the root, its first path
 * segment must not be a normalised project name or a root page, nor be or hold pypimirror's own state.
 */
function checkLockPlace(lockFile: string, root: string): string | null {
  const expected =
    "expected a name no project can have (with a '.', like .pypimirror.lock) or a path outside the mirror";
  if (isWithin(root, lockFile)) return `is the mirror root or a folder above it; ${expected}`;
  if (!isWithin(lockFile, root)) return null;
  const [first = '', second, ...deeper] = path.relative(root, lockFile).split(path.sep);
  if (isNormalizedName(first) || first === INDEX_HTML || first === INDEX_JSON) {
    return `could collide with the project directory or page "${first}"; ${expected}`;
  }
  if (first !== STATE_DIR) return null;
  if (second === undefined) return `is pypimirror's state directory; ${expected}`;
  const isOwn = (name: string): boolean => STATE_ENTRIES.includes(name);
  const clashes =
    deeper.length > 0 ? isOwn(second) : [second, `${second}.owner`, `${second}.acquiring`].some(isOwn);
  return clashes ? `collides with pypimirror's own files in ${STATE_DIR}/; ${expected}` : null;
}

/** Whether `inner` is `outer` or lies beneath it (both absolute and normalised). */
function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function checkBoolean(text: string): Check<boolean> {
  const state = BOOLEAN_STATES[text.trim().toLowerCase()];
  return state === undefined ? reject('expected true/false, yes/no, on/off or 1/0') : accept(state);
}

function checkInteger(text: string, spec: ConfigKeySpec): Check<number> {
  const n = /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  return n >= min && n <= max ? accept(n) : reject(`expected a whole number from ${min} to ${max}`);
}

function checkDuration(text: string, spec: ConfigKeySpec): Check<number> {
  const ms = parseDuration(text);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  if (ms !== null && ms >= min && ms <= max) return accept(ms);
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return reject(`expected a duration ${range}, like 30s, 10m or 1h30m (a plain number is seconds)`);
}

/** A percentage: `10`, `2.5` or `10%` (written `10%%` in the file, as ConfigParser needs), 0 to 100. */
function checkPercent(text: string): Check<number> {
  const m = /^(\d{1,3}(?:\.\d{1,3})?)\s*%?$/.exec(text.trim());
  const n = m === null ? NaN : Number(m[1]);
  return n >= 0 && n <= 100 ? accept(n) : reject('expected a percentage from 0 to 100, like 10');
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `500M`, `10G`, `4GiB`, `64k` (binary units) or a plain number of bytes. */
function checkSize(text: string, spec: ConfigKeySpec): Check<number> {
  const m = /^(\d{1,15})\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const n = m === null ? NaN : Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? NaN);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  return Number.isSafeInteger(n) && n >= min && n <= max
    ? accept(n)
    : reject('expected a size like 500M or 10G (K, M, G, T are powers of 1024; a plain number is bytes)');
}

/**
 * An http(s) URL. `index`: the upstream Simple API base, which must have no query and gets a final '/'.
 * `public`: the mirror's own address, published on its root page, which must carry no credentials.
 */
function checkHttpUrl(text: string, kind: 'index' | 'public'): Check<URL> {
  const single = checkSingle(text, 'an http:// or https:// URL');
  if (!single.ok) return single;
  let url: URL;
  try {
    url = new URL(single.value);
  } catch {
    const hint = /^[a-z][a-z0-9+.-]*:/i.test(single.value) ? '' : ' (this one has no scheme)';
    return reject(`expected an http:// or https:// URL${hint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return reject(`expected an http:// or https:// URL, not ${url.protocol}`);
  }
  if (/\s/.test(single.value)) return reject('expected a URL without spaces (write them as %%20)');
  if (kind === 'public' && (url.username !== '' || url.password !== '')) {
    return reject(
      'expected the public URL without a user name or password: it is published on the root page; ' +
        "give pip its credentials in pip.conf or ~/.netrc, not in pypimirror's config",
    );
  }
  if (url.search !== '' || url.hash !== '') return reject('expected a URL without ?query or #fragment');
  if (kind === 'index' && !url.pathname.endsWith('/')) url.pathname += '/';
  return accept(url);
}

/** An instant in ISO 8601 with a zone (`2026-11-01T00:00:00Z`, or a date alone, taken as UTC midnight). */
function checkInstant(text: string): Check<string> {
  const single = checkSingle(text, 'an instant like 2026-11-01T00:00:00Z');
  if (!single.ok) return single;
  const isDate = /^\d{4}-\d{2}-\d{2}$/.test(single.value);
  const isInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;
  const ms =
    isDate || isInstant.test(single.value)
      ? Date.parse(isDate ? `${single.value}T00:00:00Z` : single.value)
      : NaN;
  if (Number.isNaN(ms)) {
    return reject(
      'expected an instant with its zone, like 2026-11-01T00:00:00Z (or a date, 2026-11-01, UTC)',
    );
  }
  return accept(new Date(ms).toISOString());
}

function checkProjectGlob(glob: string): string | null {
  const body = glob.startsWith('!') ? glob.slice(1) : glob;
  if (body === '') return 'expected a glob after "!" (like !*-dev), with no space between';
  if (body.startsWith('!')) return 'expected a single leading "!" to exclude';
  if (!PROJECT_GLOB.test(body)) {
    const allowed = 'letters, digits, ".", "_", "-" and the glob characters * ? [ ] !';
    return `expected a glob on project names: ${allowed}`;
  }
  return UNCLOSED_BRACKET.test(body) ? 'expected "]" to close "["' : null;
}

/** A glob, an `!` exclusion, or a project name with a PEP 440 specifier (`requests>=2.30`). */
function checkPackageMatch(entry: string): string | null {
  const match = parsePackageMatch(entry);
  if ('error' in match) {
    // Without an operator it was meant as a glob: say what a glob needs.
    const asGlob = /[<>=~]/.test(entry) ? null : checkProjectGlob(entry);
    return asGlob ?? `expected ${match.error}`;
  }
  return checkProjectGlob((match.isExclude ? '!' : '') + match.pattern);
}

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

function checkRequirementsPath(item: string): string | null {
  return item.includes('\0') ? 'expected a path without NUL characters' : null;
}

function checkFilenameGlob(glob: string): string | null {
  if (/[/\\]/.test(glob)) return 'expected a glob on file names, without "/" or "\\"';
  return UNCLOSED_BRACKET.test(glob) ? 'expected "]" to close "["' : null;
}

function suggestKey(key: string): string {
  const known = [...Object.keys(CONFIG_KEYS), ...Object.keys(KEY_ALIASES)];
  const best = known.find((k) => measureEditDistance(k, key) <= 2);
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

function measureEditDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * Credentials and query values hidden (redactSecrets), duplicates dropped, in line order (issues without a
 * line, like missing keys, last).
 */
function arrangeIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .map((i) => ({
      ...i,
      value: i.value === null ? null : redactSecrets(i.value),
      expected: redactSecrets(i.expected),
    }))
    .filter((i) => !seen.has(formatConfigIssue(i)) && seen.add(formatConfigIssue(i)))
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}
