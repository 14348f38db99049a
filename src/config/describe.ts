// The effective settings, for `pypimirror check`: INI that ConfigParser (and parse-ini.ts) reads back to the
// same Config, credentials aside. Not built on `ini.encode`: it writes lists as `key[]=` lines and escapes
// `;`/`#` with backslashes, neither of which ConfigParser understands (see parse-ini.ts).
import { redactUrl } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { CONFIG_KEYS, MIRROR_SECTION, UPSTREAM_SECTION_PREFIX } from './defaults.js';
import type { ConfigKey } from './defaults.js';
import type { Config, UpstreamSection } from './types.js';
import { UPSTREAM_SECTION_KEYS } from './upstream-sections.js';

const INDENT = '    ';

const SHOW: { readonly [K in ConfigKey]: (cfg: Config) => string | readonly string[] | null } = {
  mirror_file_path: (cfg) => (cfg.s3Storage === null ? cfg.mirrorRoot : null),
  storage: (cfg) => (cfg.s3Storage === null ? null : cfg.mirrorRoot),
  s3_endpoint: (cfg) => (cfg.s3Storage?.endpoint == null ? null : cfg.s3Storage.endpoint.href),
  s3_region: (cfg) => cfg.s3Storage?.region ?? null,
  package_matches: (cfg) => cfg.packageMatches,
  requirements: (cfg) => cfg.requirements,
  filename_matches: (cfg) => cfg.filenameMatches,
  python_versions: (cfg) => cfg.pythonVersions,
  platforms: (cfg) => cfg.platforms,
  package_types: (cfg) => cfg.packageTypes,
  extensions: (cfg) => cfg.extensions,
  keep_latest: (cfg) => (cfg.keepLatest === null ? null : String(cfg.keepLatest)),
  prereleases: (cfg) => String(cfg.prereleases),
  cleanup: (cfg) => String(cfg.cleanup),
  create_indexes: (cfg) => String(cfg.createIndexes),
  find_links_dir: (cfg) => cfg.findLinksDir,
  lock_file_name: (cfg) => (cfg.s3Storage === null ? cfg.lockFile : null),
  log_filename: (cfg) => cfg.logFile,
  verbose: (cfg) => String(cfg.verbose),
  base_url: (cfg) => (cfg.baseUrl === null ? null : redactUrl(cfg.baseUrl)),
  index_url: (cfg) => redactUrl(cfg.indexUrl),
  sync_interval: (cfg) => formatDuration(cfg.syncIntervalMs),
  workers: (cfg) => String(cfg.workers),
  timeout: (cfg) => formatDuration(cfg.timeoutMs),
  metrics_file: (cfg) => cfg.metricsFile,
  max_deletions: (cfg) => String(cfg.maxDeletionsPercent),
  max_deletions_window: (cfg) => formatDuration(cfg.maxDeletionsWindowMs),
  allow_replaced_files: (cfg) => String(cfg.allowReplacedFiles),
  max_file_size: (cfg) => String(cfg.maxFileSize),
  request_deadline: (cfg) => formatDuration(cfg.requestDeadlineMs),
  ca_file: (cfg) => cfg.caFile,
  min_release_age: (cfg) => (cfg.minReleaseAgeMs === null ? null : formatDuration(cfg.minReleaseAgeMs)),
  quarantine_exempt: (cfg) => cfg.quarantineExempt,
  exclude_newer: (cfg) => cfg.excludeNewer,
  bundle_private_key: (cfg) => cfg.bundlePrivateKey,
  bundle_public_key: (cfg) => cfg.bundlePublicKey,
};

/** What an `[upstream:NAME]` section shows: every key it may set, with [mirror]'s value where it set none. */
const SHOW_UPSTREAM: {
  readonly [K in (typeof UPSTREAM_SECTION_KEYS)[number]]: (
    u: UpstreamSection,
  ) => string | readonly string[] | null;
} = {
  index_url: (u) => redactUrl(u.indexUrl),
  package_matches: (u) => u.packageMatches,
  timeout: (u) => formatDuration(u.timeoutMs),
  request_deadline: (u) => formatDuration(u.requestDeadlineMs),
  ca_file: (u) => u.caFile,
  // `0`, not empty: an empty value would read back as [mirror]'s quarantine.
  min_release_age: (u) => (u.minReleaseAgeMs === null ? '0' : formatDuration(u.minReleaseAgeMs)),
};

/**
 * `[mirror]` and one `key = value` line per key, in the order of defaults.ts, then each `[upstream:NAME]`
 * section; lists as indented continuation lines, unset keys as `key =`, passwords in URLs hidden. Ends
 * without a newline.
 */
export function describeConfig(cfg: Config): string {
  const lines = [`[${MIRROR_SECTION}]`];
  describeKeys(lines, cfg, Object.keys(CONFIG_KEYS) as ConfigKey[], SHOW);
  for (const upstream of cfg.upstreams) {
    lines.push('', `[${UPSTREAM_SECTION_PREFIX}${upstream.name}]`);
    describeKeys(lines, upstream, UPSTREAM_SECTION_KEYS, SHOW_UPSTREAM);
  }
  return lines.join('\n');
}

function describeKeys<T, K extends string>(
  lines: string[],
  subject: T,
  keys: readonly K[],
  show: { readonly [key in K]: (subject: T) => string | readonly string[] | null },
): void {
  for (const key of keys) {
    const shown = show[key](subject);
    if (shown === null) {
      lines.push(`${key} =`);
    } else if (typeof shown === 'string') {
      lines.push(`${key} = ${escapeValue(shown)}`);
    } else if (shown.some((item) => /^[#;]/.test(item))) {
      // a continuation line starting with # or ; would read as a comment; lists split on spaces too
      lines.push(`${key} = ${shown.map(escapeValue).join(' ')}`.trimEnd());
    } else {
      lines.push(`${key} =`, ...shown.map((item) => INDENT + escapeValue(item)));
    }
  }
}

/** `%` starts an interpolation when read back: double it. */
function escapeValue(value: string): string {
  return value.replaceAll('%', '%%');
}
