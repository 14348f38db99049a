// `[upstream:NAME]` sections (issue #12): further upstreams, each serving the projects its package_matches
// selects, in file order, before [mirror]'s index_url. Pure, like validate.ts, which calls it with its own
// value checks (so that a section's key reads exactly like the [mirror] key of the same name).
import type { ConfigIssue } from '../errors.js';
import { CONFIG_KEYS, UPSTREAM_SECTION_PREFIX } from './defaults.js';
import type { ConfigKey } from './defaults.js';
import { formatDuration } from '../util/duration.js';
import type { Config, RawConfig, RawValue, UpstreamSection } from './types.js';

/** A value check: the value, or what was expected. */
type ValueCheck<T> = (text: string) => { ok: true; value: T } | { ok: false; expected: string };

/** The checks validate.ts reads [mirror]'s keys with, and [mirror]'s values the sections default to. */
export interface SectionChecks {
  readonly url: ValueCheck<URL>;
  readonly duration: (key: ConfigKey) => ValueCheck<number>;
  readonly path: ValueCheck<string>;
  /** Null when the package_matches entry is valid, else what was expected. */
  readonly packageMatch: (entry: string) => string | null;
  readonly splitPackageMatches: (text: string) => string[];
  readonly defaults: {
    readonly timeoutMs: number;
    readonly requestDeadlineMs: number;
    readonly caFile: string | null;
    readonly minReleaseAgeMs: number | null;
  };
}

/** The keys an upstream section may set: where it fetches from, how, and what it serves. */
export const UPSTREAM_SECTION_KEYS = [
  'index_url',
  'package_matches',
  'timeout',
  'request_deadline',
  'ca_file',
  'min_release_age',
] as const satisfies readonly ConfigKey[];

/** More sections than this is a mistake (each is a client with its own connections and state). */
const MAX_UPSTREAM_SECTIONS = 100;
const SECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Is this the name of an upstream section (`upstream:NAME`, NAME valid or not)? */
export function isUpstreamSectionName(section: string): boolean {
  return section.startsWith(UPSTREAM_SECTION_PREFIX);
}

/**
 * The `[upstream:NAME]` sections of `raw`, in file order, validated; every problem (a bad name, an unknown
 * key, a bad or missing value) goes to `errors` with file, line, section and key.
 */
export function readUpstreamSections(
  raw: RawConfig,
  checks: SectionChecks,
  errors: ConfigIssue[],
): UpstreamSection[] {
  const sections = [...raw.sections].filter(([name]) => isUpstreamSectionName(name));
  sections.sort(([, a], [, b]) => a.line - b.line);
  const out: UpstreamSection[] = [];
  for (const [section, { line, values }] of sections) {
    const issue = (key: string | null, v: RawValue | undefined, expected: string, value?: string): void => {
      errors.push({
        file: raw.file,
        line: v?.line ?? line,
        section,
        key,
        value: value ?? v?.value ?? null,
        expected,
      });
    };
    const name = section.slice(UPSTREAM_SECTION_PREFIX.length);
    if (!SECTION_NAME.test(name)) {
      issue(
        null,
        undefined,
        'expected [upstream:NAME], NAME of letters, digits, ".", "_" and "-", at most 64',
      );
      continue;
    }
    if (out.length === MAX_UPSTREAM_SECTIONS) {
      issue(null, undefined, `expected at most ${MAX_UPSTREAM_SECTIONS} [upstream:NAME] sections`);
      break;
    }
    for (const [key, v] of values) {
      if (!(UPSTREAM_SECTION_KEYS as readonly string[]).includes(key)) {
        issue(
          key,
          v,
          `unknown key in an upstream section; expected one of ${UPSTREAM_SECTION_KEYS.join(', ')}`,
        );
      }
    }
    const read = <T>(key: ConfigKey, check: ValueCheck<T>, fallback: T): T | null => {
      const v = values.get(key);
      // `key =` leaves an optional key unset, as in [mirror] (`check` writes unset keys that way).
      if (v === undefined || (CONFIG_KEYS[key].default === null && v.value.trim() === '')) return fallback;
      const result = check(v.value);
      if (result.ok) return result.value;
      const isSecret = CONFIG_KEYS[key].type === 'url' && v.value.includes('@');
      issue(key, v, result.expected, isSecret ? '***' : v.value);
      return null;
    };
    const indexUrl = values.has('index_url') ? read<URL | null>('index_url', checks.url, null) : null;
    if (!values.has('index_url'))
      issue('index_url', undefined, 'required in an upstream section: its Simple API base');
    const packageMatches = readMatches(values.get('package_matches'), checks, issue);
    const timeoutMs = read('timeout', checks.duration('timeout'), checks.defaults.timeoutMs);
    const requestDeadlineMs = read(
      'request_deadline',
      checks.duration('request_deadline'),
      checks.defaults.requestDeadlineMs,
    );
    const caFile = read<string | null>('ca_file', checks.path, checks.defaults.caFile);
    // Unset: [mirror]'s quarantine; `0`: none for this upstream.
    const minReleaseAgeMs =
      read<number | null>(
        'min_release_age',
        checks.duration('min_release_age'),
        checks.defaults.minReleaseAgeMs,
      ) || null;
    if (indexUrl === null || packageMatches === null || timeoutMs === null || requestDeadlineMs === null)
      continue;
    out.push({
      name,
      indexUrl,
      packageMatches: Object.freeze(packageMatches),
      timeoutMs,
      requestDeadlineMs,
      caFile,
      minReleaseAgeMs,
    });
  }
  return out;
}

/** package_matches, required and not empty: it says which projects the upstream serves. */
function readMatches(
  v: RawValue | undefined,
  checks: SectionChecks,
  issue: (key: string, v: RawValue | undefined, expected: string, value?: string) => void,
): string[] | null {
  const entries = checks.splitPackageMatches(v?.value ?? '');
  if (entries.filter((e) => !e.startsWith('!')).length === 0) {
    issue(
      'package_matches',
      v,
      'required in an upstream section: the projects it serves (globs or names, like acme-* torch)',
    );
    return null;
  }
  let isValid = true;
  for (const entry of entries) {
    const expected = checks.packageMatch(entry);
    if (expected === null) continue;
    issue('package_matches', v, expected, entry);
    isValid = false;
  }
  return isValid ? entries : null;
}

/**
 * `check`'s lines on the upstreams: which serves which globs, first match first (none with one upstream),
 * and the release-time keys. Passwords in URLs hidden by `redact`.
 */
export function describeUpstreams(cfg: Config, redact: (url: URL) => string): string[] {
  const lines: string[] = [];
  if (cfg.upstreams.length > 0) {
    lines.push(
      '# upstreams, in this order: a project comes only from the first whose package_matches selects it',
    );
    for (const u of cfg.upstreams) {
      lines.push(
        `#   [${UPSTREAM_SECTION_PREFIX}${u.name}] ${redact(u.indexUrl)} serves: ${u.packageMatches.join(' ')}`,
      );
    }
    const rest = cfg.packageMatches.length === 0 ? 'every other project' : cfg.packageMatches.join(' ');
    lines.push(`#   [mirror] index_url ${redact(cfg.indexUrl)} serves: ${rest} (less the above)`);
  }
  const ages = [
    ...(cfg.minReleaseAgeMs === null ? [] : [`${formatDuration(cfg.minReleaseAgeMs)} ([mirror])`]),
    ...cfg.upstreams
      .filter((u) => u.minReleaseAgeMs !== cfg.minReleaseAgeMs)
      .map(
        (u) =>
          `${u.minReleaseAgeMs === null ? 'none' : formatDuration(u.minReleaseAgeMs)} ([upstream:${u.name}])`,
      ),
  ];
  if (ages.length > 0) {
    const exempt = cfg.quarantineExempt.length === 0 ? '' : `; exempt: ${cfg.quarantineExempt.join(' ')}`;
    lines.push(`# quarantine: files younger than min_release_age are held back: ${ages.join(', ')}${exempt}`);
  }
  if (cfg.excludeNewer !== null) {
    lines.push(`# exclude_newer: only files uploaded before ${cfg.excludeNewer}, from every upstream`);
  }
  return lines;
}
