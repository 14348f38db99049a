// RawConfig → frozen Config, collecting every problem (with file, line, key, value and what was expected)
// before throwing one ConfigError. Pure: no file system; paths are resolved, never checked for existence.
// Each value is checked by checks.ts; where the lock and the flat directory may be, by places.ts.
import path from 'node:path';
import {
  ConfigError,
  MAX_SHOWN_ISSUES,
  formatConfigIssue,
  limitShown,
  redactSecrets,
  redactUrl,
} from '../errors.js';
import type { ConfigIssue } from '../errors.js';
import {
  checkBoolean,
  checkDuration,
  checkFilenameGlob,
  checkHttpUrl,
  checkInstant,
  checkInteger,
  checkPackageMatch,
  checkPath,
  checkPercent,
  checkProjectGlob,
  checkRequirementsPath,
  checkSingle,
  checkSize,
  splitWords,
  type Check,
} from './checks.js';
import {
  CONFIG_KEYS,
  DEFAULT_SECTION,
  KEY_ALIASES,
  MIRROR_SECTION,
  OBSOLETE_KEYS,
  UPSTREAM_SECTION_PREFIX,
  isConfigKey,
} from './defaults.js';
import type { ConfigKey, ConfigKeySpec } from './defaults.js';
import { checkFindLinksPlace, checkLockPlace } from './places.js';
import { checkSelectionWord, splitPackageMatches, type SelectionWordKey } from './selection-keys.js';
import { isUpstreamSectionName, readUpstreamSections } from './upstream-sections.js';
import {
  checkRegion,
  formatStorageUrl,
  parseStorageUrl,
  S3_LEASE_KEY,
  type StorageUrl,
} from './storage-keys.js';
import type { Config, RawConfig, RawValue, S3Storage } from './types.js';

export interface ValidateOptions {
  /** Directory a relative `raw.file` is resolved against. */
  cwd: string;
  /** Problems parseIni found; reported in the same ConfigError, before or between the validation ones. */
  parseIssues?: readonly ConfigIssue[];
}

/** Globs per key: ample for any selection, and a bound on what matching every listed name costs. */
const MAX_GLOBS = 10_000;

/** The keys read, before the required ones are known to be there. */
type Values = Omit<Config, 'file' | 'warnings' | 'mirrorRoot' | 'lockFile' | 'indexUrl' | 'workers'> & {
  readonly mirrorRoot: string | null;
  readonly lockFile: string | null;
  readonly indexUrl: URL | null;
  readonly workers: number | null;
};

/**
 * Checks a RawConfig and returns the frozen Config, or throws ConfigError('CONFIG_INVALID') listing every
 * problem (parse problems included). `[mirror]` values win over `[DEFAULT]` ones.
 */
export function validateConfig(raw: RawConfig, opts: ValidateOptions): Config {
  const file = path.resolve(opts.cwd, raw.file);
  const keys = new KeyReader(raw, opts.parseIssues ?? []);
  const values = readKeys(keys, path.dirname(file));
  reportUnknown(keys, raw);
  reportClashes(keys, raw, values);
  const { mirrorRoot, lockFile, indexUrl, workers } = values;
  if (
    keys.errors.length > 0 ||
    mirrorRoot === null ||
    lockFile === null ||
    indexUrl === null ||
    workers === null
  ) {
    throw new ConfigError('CONFIG_INVALID', raw.file, arrangeIssues(keys.errors));
  }
  const warnings = Object.freeze(limitShown(arrangeIssues(keys.warnings).map(formatConfigIssue), 'warnings'));
  return Object.freeze({ file, ...values, mirrorRoot, lockFile, indexUrl, workers, warnings });
}

/** The main section's values (`[mirror]` over `[DEFAULT]`), read key by key, with the problems found. */
class KeyReader {
  readonly errors: ConfigIssue[];
  readonly warnings: ConfigIssue[] = [];
  readonly values: ReadonlyMap<string, RawValue>;
  private readonly keysWithParseIssues: ReadonlySet<string | null>;
  private readonly mainSection: string | null;

  constructor(
    readonly raw: RawConfig,
    parseIssues: readonly ConfigIssue[],
  ) {
    this.errors = [...parseIssues];
    this.keysWithParseIssues = new Set(parseIssues.map((i) => i.key));
    const hasMirror = raw.sections.has(MIRROR_SECTION);
    this.mainSection = hasMirror
      ? MIRROR_SECTION
      : raw.sections.has(DEFAULT_SECTION)
        ? DEFAULT_SECTION
        : null;
    this.values = new Map([
      ...(raw.sections.get(DEFAULT_SECTION)?.values ?? []),
      ...((hasMirror && raw.sections.get(MIRROR_SECTION)?.values) || []),
    ]);
  }

  report(list: ConfigIssue[], key: string, v: RawValue | undefined, expected: string, value?: string): void {
    list.push({
      file: this.raw.file,
      line: v?.line ?? null,
      section: v?.section ?? this.mainSection,
      key,
      value: value ?? v?.value ?? null,
      expected,
    });
  }

  /** Reads one key (or its alias) through `check`: missing → the default; bad → reported, null. */
  read<T>(key: ConfigKey, check: (text: string) => Check<T>): T | null {
    const spec: ConfigKeySpec = CONFIG_KEYS[key];
    const alias = Object.keys(KEY_ALIASES).find((a) => KEY_ALIASES[a] === key && this.values.has(a));
    const name = this.values.has(key) || alias === undefined ? key : alias;
    const v = this.values.get(name);
    const isUnset = v === undefined || (spec.default === null && !spec.isRequired && v.value.trim() === '');
    if (isUnset) {
      if (spec.isRequired && !this.keysWithParseIssues.has(key)) {
        this.report(this.errors, key, v, describeRequired(key));
      }
      if (spec.default === null) return null;
      const fallback = check(spec.default);
      if (!fallback.ok) throw new Error(`defaults.ts: bad default for ${key}: ${fallback.expected}`);
      return fallback.value;
    }
    const result = check(v.value);
    if (result.ok) return result.value;
    const shown = spec.type === 'url' && v.value.includes('@') ? redactUrl(v.value.trim()) : v.value;
    this.report(this.errors, name, v, result.expected + describeInlineComment(v.value), shown);
    return null;
  }

  /** A whitespace-separated list (`split` says how), each item checked on its own and reported alone. */
  list(
    key: ConfigKey,
    checkItem: (item: string) => string | null,
    split: (text: string) => string[] = splitWords,
  ): readonly string[] {
    const v = this.values.get(key);
    const items = split(v?.value ?? '');
    if (items.length > MAX_GLOBS) {
      const noun = key.endsWith('_matches') ? 'globs' : 'values';
      const expected = `expected at most ${MAX_GLOBS} ${noun} (the cap); this list has ${items.length}`;
      this.report(this.errors, key, v, expected);
      return Object.freeze([]);
    }
    for (const item of items) {
      const expected = checkItem(item);
      if (expected !== null) this.report(this.errors, key, v, expected, item);
    }
    return Object.freeze(items);
  }

  words(key: SelectionWordKey): readonly string[] {
    return this.list(key, (word) => checkSelectionWord(key, word));
  }

  boolean(key: ConfigKey): boolean {
    return this.read(key, checkBoolean) ?? false;
  }

  duration(key: ConfigKey): number {
    return this.read(key, (text) => checkDuration(text, CONFIG_KEYS[key])) ?? 0;
  }

  path(key: ConfigKey, base: string | null): string | null {
    return this.read(key, (text) => (base === null ? checkSingle(text, 'a path') : checkPath(text, base)));
  }

  /** Whether the key is set to something other than blanks. */
  isSet(key: ConfigKey): boolean {
    return (this.values.get(key)?.value.trim() ?? '') !== '';
  }

  /** Reports a required key that is missing (unless parsing it failed already). */
  require(key: ConfigKey): void {
    if (!this.keysWithParseIssues.has(key))
      this.report(this.errors, key, this.values.get(key), describeRequired(key));
  }
}

/**
 * `storage`, `s3_endpoint`, `s3_region` (issue #15), and whether mirror_file_path is required: only without an
 * s3 storage. Keys that an s3 storage makes meaningless, or that mean nothing without one, are warned about.
 */
function readS3Storage(keys: KeyReader): S3Storage | null {
  const location = keys.read<StorageUrl>('storage', (text) => {
    const parsed = parseStorageUrl(text);
    return 'expected' in parsed ? { ok: false, expected: parsed.expected } : { ok: true, value: parsed };
  });
  const endpoint = keys.read('s3_endpoint', (text) => checkHttpUrl(text, 'endpoint'));
  const region = keys.read<string>('s3_region', (text) => {
    const expected = checkRegion(text);
    return expected === null ? { ok: true, value: text.trim() } : { ok: false, expected };
  });
  const warn = (key: ConfigKey, why: string): void => {
    if (keys.isSet(key)) keys.report(keys.warnings, key, keys.values.get(key), why);
  };
  if (!keys.isSet('storage')) {
    if (!keys.isSet('mirror_file_path')) keys.require('mirror_file_path');
    warn('s3_endpoint', 'means nothing without storage = s3://...; ignored');
    warn('s3_region', 'means nothing without storage = s3://...; ignored');
    return null;
  }
  warn('mirror_file_path', 'ignored with storage = s3://...: the tree is in the bucket');
  warn('lock_file_name', 'ignored with storage = s3://...: the run lock is a lease in the bucket');
  return location === null ? null : Object.freeze({ ...location, endpoint, region });
}

/** Every key of the main section and the [upstream:NAME] sections, in the order their problems are listed. */
function readKeys(keys: KeyReader, configDir: string): Values {
  const s3Storage = readS3Storage(keys);
  const localRoot = keys.path('mirror_file_path', configDir);
  const mirrorRoot = s3Storage === null ? localRoot : formatStorageUrl(s3Storage);
  const head = {
    mirrorRoot,
    s3Storage,
    // `numpy < 2` reads as one entry, `numpy<2`.
    packageMatches: keys.list('package_matches', checkPackageMatch, splitPackageMatches),
    requirements: Object.freeze(
      keys.list('requirements', checkRequirementsPath).map((p) => path.resolve(configDir, p)),
    ),
    // Read by load.ts (readRequirementsKey): this module touches no file.
    requirementRoots: Object.freeze([]),
    requirementFiles: Object.freeze([]),
    filenameMatches: keys.list('filename_matches', checkFilenameGlob),
    pythonVersions: keys.words('python_versions'),
    platforms: keys.words('platforms'),
    packageTypes: keys.words('package_types'),
    extensions: keys.words('extensions'),
    keepLatest: keys.read('keep_latest', (text) => checkInteger(text, CONFIG_KEYS.keep_latest)),
    prereleases: keys.boolean('prereleases'),
    cleanup: keys.boolean('cleanup'),
    createIndexes: keys.boolean('create_indexes'),
    findLinksDir: keys.path('find_links_dir', configDir),
    // With s3 storage the run lock is a lease object in the bucket (mirror/s3-lease.ts).
    lockFile: s3Storage === null ? keys.path('lock_file_name', mirrorRoot) : `${mirrorRoot}/${S3_LEASE_KEY}`,
    logFile: keys.path('log_filename', configDir),
    verbose: keys.boolean('verbose'),
    baseUrl: keys.read('base_url', (text) => checkHttpUrl(text, 'public')),
    indexUrl: keys.read('index_url', (text) => checkHttpUrl(text, 'index')),
    syncIntervalMs: keys.duration('sync_interval'),
    workers: keys.read('workers', (text) => checkInteger(text, CONFIG_KEYS.workers)),
    timeoutMs: keys.duration('timeout'),
    metricsFile: keys.path('metrics_file', configDir),
    maxDeletionsPercent: keys.read('max_deletions', checkPercent) ?? 0,
    maxDeletionsWindowMs: keys.duration('max_deletions_window'),
    allowReplacedFiles: keys.boolean('allow_replaced_files'),
    maxFileSize: keys.read('max_file_size', (text) => checkSize(text, CONFIG_KEYS.max_file_size)) ?? 0,
    requestDeadlineMs: keys.duration('request_deadline'),
    caFile: keys.path('ca_file', configDir),
    // `0` is no quarantine (in a section: none for that upstream, whatever [mirror] says).
    minReleaseAgeMs:
      keys.read('min_release_age', (text) => checkDuration(text, CONFIG_KEYS.min_release_age)) || null,
    quarantineExempt: keys.list('quarantine_exempt', checkProjectGlob),
    excludeNewer: keys.read('exclude_newer', checkInstant),
  };
  const { timeoutMs, requestDeadlineMs, caFile, minReleaseAgeMs } = head;
  const upstreams = readUpstreamSections(
    keys.raw,
    {
      url: (text) => checkHttpUrl(text, 'index'),
      duration: (key) => (text) => checkDuration(text, CONFIG_KEYS[key]),
      path: (text) => checkPath(text, configDir),
      packageMatch: checkPackageMatch,
      splitPackageMatches,
      defaults: { timeoutMs, requestDeadlineMs, caFile, minReleaseAgeMs },
    },
    keys.errors,
  );
  return {
    ...head,
    upstreams: Object.freeze(upstreams),
    bundlePrivateKey: keys.path('bundle_private_key', configDir),
    bundlePublicKey: keys.path('bundle_public_key', configDir),
  };
}

/** Warnings for unknown and obsolete keys and unknown sections; an error for a key set under both its names. */
function reportUnknown(keys: KeyReader, raw: RawConfig): void {
  const { values, errors, warnings } = keys;
  for (const [alias, key] of Object.entries(KEY_ALIASES)) {
    const [v, first] = [values.get(alias), values.get(key)];
    if (v === undefined || first === undefined) continue;
    keys.report(
      errors,
      alias,
      v,
      `is another name for ${key}, which is also set (line ${first.line}); keep one`,
    );
  }
  for (const [key, v] of values) {
    if (isConfigKey(key) || Object.hasOwn(KEY_ALIASES, key)) continue;
    const reason = OBSOLETE_KEYS[key];
    if (reason !== undefined) keys.report(warnings, key, v, reason);
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
}

/** The lock or the flat directory where they would collide; a password sent in clear text. */
function reportClashes(keys: KeyReader, raw: RawConfig, found: Values): void {
  const { mirrorRoot, lockFile, findLinksDir, indexUrl, s3Storage } = found;
  const { values, errors, warnings } = keys;
  const lockClash =
    s3Storage !== null || mirrorRoot === null || lockFile === null
      ? null
      : checkLockPlace(lockFile, mirrorRoot);
  if (lockClash !== null) keys.report(errors, 'lock_file_name', values.get('lock_file_name'), lockClash);
  const flatClash =
    mirrorRoot === null || findLinksDir === null
      ? null
      : s3Storage !== null
        ? `needs the mirror on this machine's file system to link its files from, and storage = ${mirrorRoot}; expected find_links_dir unset`
        : checkFindLinksPlace(findLinksDir, mirrorRoot);
  if (flatClash !== null) keys.report(errors, 'find_links_dir', values.get('find_links_dir'), flatClash);
  const clearText = 'sends its password in clear text over http; use https';
  if (indexUrl?.protocol === 'http:' && indexUrl.password !== '') {
    keys.report(warnings, 'index_url', values.get('index_url'), clearText, redactUrl(indexUrl));
  }
  for (const u of found.upstreams) {
    if (u.indexUrl.protocol !== 'http:' || u.indexUrl.password === '') continue;
    const v = raw.sections.get(`${UPSTREAM_SECTION_PREFIX}${u.name}`)?.values.get('index_url');
    keys.report(warnings, 'index_url', v, clearText, redactUrl(u.indexUrl));
  }
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
