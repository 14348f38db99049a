// Every config key in one table: its type, its default (as it would be written in the file) and its
// meaning. validate.ts reads the defaults through the same parsers as the file's values; `check` and the
// samples test read the table too. README "Config file" is the contract these rows follow.

export const MIRROR_SECTION = 'mirror';
/** ConfigParser's default section; the name is case-sensitive, as in Python. */
export const DEFAULT_SECTION = 'DEFAULT';
/** `[upstream:NAME]` sections name further upstreams (src/config/upstream-sections.ts). */
export const UPSTREAM_SECTION_PREFIX = 'upstream:';

type ConfigValueType =
  | 'path'
  | 'paths'
  | 'globs'
  | 'words'
  | 'boolean'
  | 'url'
  | 'duration'
  | 'integer'
  | 'size'
  | 'percent'
  | 'instant'
  | 'storage'
  | 'word';

export interface ConfigKeySpec {
  readonly type: ConfigValueType;
  /** The default as written in the file; null when the key has none (required, or unset = off). */
  readonly default: string | null;
  readonly isRequired: boolean;
  /** How the default reads in the README and in `check`. */
  readonly defaultText: string;
  readonly meaning: string;
  /** Bounds: integers as they are, durations in milliseconds. */
  readonly min?: number;
  readonly max?: number;
}

/** `min_release_age` is compared with upload times, never handed to setTimeout: up to ten years. */
const MAX_RELEASE_AGE_MS = 3650 * 86_400_000;

/** Durations end up in setTimeout, which fires at once for delays above 2^31-1 ms (24.8 days). */
const MAX_DURATION_MS = 24 * 86_400_000;
const MIN_DURATION_MS = 50;

/** The keys pypimirror reads, in the order `check` prints them. */
export const CONFIG_KEYS = {
  mirror_file_path: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: 'required (unless `storage` is set)',
    meaning: "root of the tree, the web server's document root; relative to the config file's directory",
  },
  storage: {
    type: 'storage',
    default: null,
    isRequired: false,
    defaultText: '(empty = the local `mirror_file_path`)',
    meaning:
      '`s3://BUCKET/PREFIX`: keep the tree in an S3 bucket (AWS S3, a Ceph RADOS Gateway, MinIO) under ' +
      'PREFIX instead of on local disk; pip installs from `ENDPOINT/BUCKET/PREFIX/`; credentials come ' +
      'from the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, AWS_PROFILE), ' +
      'never from this file',
  },
  s3_endpoint: {
    type: 'url',
    default: null,
    isRequired: false,
    defaultText: '(empty = AWS S3)',
    meaning:
      'with `storage = s3://...`: the S3 service, http(s) (`http://rgw.example:7480`); path-style requests',
  },
  s3_region: {
    type: 'word',
    default: null,
    isRequired: false,
    defaultText: '(empty = `AWS_REGION`, else `us-east-1`)',
    meaning: 'with `storage = s3://...`: the region requests are signed for',
  },
  package_matches: {
    type: 'globs',
    default: '',
    isRequired: false,
    defaultText: '(empty = every project)',
    meaning:
      'globs on project names, whitespace or newline separated, matched after PEP 503 normalisation ' +
      '(`zope.*` matches `zope-interface`); a leading `!` excludes; a project name may carry a PEP 440 ' +
      'version specifier (`requests>=2.30`, `numpy<2`)',
  },
  requirements: {
    type: 'paths',
    default: '',
    isRequired: false,
    defaultText: '(none)',
    meaning:
      "pip requirements files (relative to the config file's directory), whitespace separated: the mirror " +
      'also holds every project they name and, transitively, every dependency the kept releases need on ' +
      'the target `python_versions` x `platforms` (the dependency closure); with no other name in ' +
      '`package_matches`, only that closure is mirrored',
  },
  filename_matches: {
    type: 'globs',
    default: '',
    isRequired: false,
    defaultText: '(empty = every file)',
    meaning: 'globs on file names (`*.whl`, `*.tar.gz`)',
  },
  python_versions: {
    type: 'words',
    default: '',
    isRequired: false,
    defaultText: '(empty = every Python)',
    meaning:
      'CPython versions (`3.11 3.12`): keep the wheels pip would install on one of them, and files whose ' +
      "Requires-Python allows one; microrepo's `cp311`, `py3`, `py2.py3`, `any`, `source` also read",
  },
  platforms: {
    type: 'words',
    default: '',
    isRequired: false,
    defaultText: '(empty = every platform)',
    meaning:
      'platform families with their architecture (`manylinux_x86_64 musllinux_aarch64 win_amd64 ' +
      'macosx_arm64`), each standing for every version of the family; pure (`-any`) wheels are always kept',
  },
  package_types: {
    type: 'words',
    default: '',
    isRequired: false,
    defaultText: '(empty = every type)',
    meaning: "microrepo's package types (`sdist bdist_wheel bdist_egg bdist_wininst bdist_msi`)",
  },
  extensions: {
    type: 'words',
    default: '',
    isRequired: false,
    defaultText: '(empty = every extension)',
    meaning: 'file name extensions (`whl gz tgz zip bz2 egg exe`; `tar.gz` also reads)',
  },
  keep_latest: {
    type: 'integer',
    default: null,
    isRequired: false,
    defaultText: '(empty = every release)',
    meaning:
      'per project, keep the N newest releases (PEP 440 order) that still have a selected, unyanked file; ' +
      'a version specifier in `package_matches` (or a pin) keeps its releases anyway',
    min: 1,
    max: 1_000_000,
  },
  prereleases: {
    type: 'boolean',
    default: 'true',
    isRequired: false,
    defaultText: 'true',
    meaning:
      'keep pre-releases and dev releases (`false` drops them unless a specifier names one); true by ' +
      'default so that existing mirrors do not change',
  },
  cleanup: {
    type: 'boolean',
    default: 'true',
    isRequired: false,
    defaultText: 'true',
    meaning: 'remove files and projects that upstream dropped or the config no longer selects',
  },
  create_indexes: {
    type: 'boolean',
    default: 'true',
    isRequired: false,
    defaultText: 'true',
    meaning: 'write index pages',
  },
  find_links_dir: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      'a flat directory holding every mirrored file (hard links, or copies on another file system), for ' +
      "`pip install --no-index --find-links DIR`; outside `mirror_file_path`; relative to the config file's directory",
  },
  lock_file_name: {
    type: 'path',
    default: '.pypimirror.lock',
    isRequired: false,
    defaultText: '`.pypimirror.lock`',
    meaning: 'lock file; a relative path is inside `mirror_file_path` (the z3c rule)',
  },
  log_filename: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning: "also log to this file; relative to the config file's directory",
  },
  verbose: {
    type: 'boolean',
    default: 'false',
    isRequired: false,
    defaultText: 'false',
    meaning: 'debug logging',
  },
  base_url: {
    type: 'url',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      'public http(s) URL of the mirror, shown on the root page and by `check` (links stay relative); ' +
      'no `user:password@`, no `?query`',
  },
  index_url: {
    type: 'url',
    default: 'https://pypi.org/simple/',
    isRequired: false,
    defaultText: '`https://pypi.org/simple/`',
    meaning: 'upstream Simple API base, http(s); may carry `user:password@` (never logged)',
  },
  sync_interval: {
    type: 'duration',
    default: '10m',
    isRequired: false,
    defaultText: '`10m`',
    meaning: 'time between syncs in `run` (`30s`, `10m`, `1h30m`, `500ms`, `2d`; a plain number is seconds)',
    min: MIN_DURATION_MS,
    max: MAX_DURATION_MS,
  },
  workers: {
    type: 'integer',
    default: '8',
    isRequired: false,
    defaultText: '8',
    meaning: "concurrent upstream requests, 1 to 64 (microrepo's `processes` is an alias)",
    min: 1,
    max: 64,
  },
  timeout: {
    type: 'duration',
    default: '30s',
    isRequired: false,
    defaultText: '`30s`',
    meaning: 'connect timeout and read (idle) timeout of each upstream request',
    min: MIN_DURATION_MS,
    max: MAX_DURATION_MS,
  },
  metrics_file: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning: "Prometheus textfile-collector output; relative to the config file's directory",
  },
  max_deletions: {
    type: 'percent',
    default: '10',
    isRequired: false,
    defaultText: '10',
    meaning:
      'a percentage (`10`, `2.5`; `10%%` also reads, as INI needs `%%` for a `%`): deletions are held when one run, or all runs within `max_deletions_window`, would remove more than ' +
      'this share of the selected projects or of their files (`sync --allow-deletions` releases a hold once)',
    min: 0,
    max: 100,
  },
  max_deletions_window: {
    type: 'duration',
    default: '7d',
    isRequired: false,
    defaultText: '`7d`',
    meaning: 'the rolling window over which `max_deletions` also counts, so that a slow bleed is caught',
    min: MIN_DURATION_MS,
    max: MAX_DURATION_MS,
  },
  allow_replaced_files: {
    type: 'boolean',
    default: 'false',
    isRequired: false,
    defaultText: 'false',
    meaning:
      'when upstream serves other bytes under a file name already mirrored, replace the file (page and file ' +
      'change together); by default the mirrored file is kept and a warning logged',
  },
  max_file_size: {
    type: 'size',
    default: '10G',
    isRequired: false,
    defaultText: '`10G`',
    meaning:
      'largest file downloaded (`500M`, `10G`; a plain number is bytes); a longer body is cut off and refused',
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  },
  request_deadline: {
    type: 'duration',
    default: '15m',
    isRequired: false,
    defaultText: '`15m`',
    meaning:
      'total time one upstream request may take, body included, however steadily bytes trickle in ' +
      '(a file gets one more second per MiB of its size)',
    min: MIN_DURATION_MS,
    max: MAX_DURATION_MS,
  },
  ca_file: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      "PEM file of extra CA certificates trusted for the upstream (a corporate CA), besides Node's own and " +
      "`NODE_EXTRA_CA_CERTS`; relative to the config file's directory",
  },
  min_release_age: {
    type: 'duration',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      'quarantine: a file uploaded less than this long ago (`3d`, `12h`; PEP 700 upload-time) is not ' +
      'mirrored nor listed until it is old enough; `0` = none; also per `[upstream:NAME]` section',
    min: 0,
    max: MAX_RELEASE_AGE_MS,
  },
  quarantine_exempt: {
    type: 'globs',
    default: '',
    isRequired: false,
    defaultText: '(none)',
    meaning: 'globs on project names that `min_release_age` does not hold back (urgent fixes)',
  },
  exclude_newer: {
    type: 'instant',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      "keep only files uploaded before this instant (`2026-11-01T00:00:00Z`, UTC; uv's name), on every upstream",
  },
  bundle_private_key: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      "outside mirror of an air-gapped pair: the Ed25519 private key (PEM, from `pypimirror keygen`) `export` signs bundles with; relative to the config file's directory",
  },
  bundle_public_key: {
    type: 'path',
    default: null,
    isRequired: false,
    defaultText: '(none)',
    meaning:
      "inside mirror of an air-gapped pair: the Ed25519 public key (PEM) `import` checks bundles against; relative to the config file's directory",
  },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Other tools' names for our keys: alias → key. Giving both is an error. */
export const KEY_ALIASES: Readonly<Record<string, ConfigKey>> = { processes: 'workers' };

/** z3c.pypimirror keys that mean nothing now: accepted, warned about once, with the reason. */
export const OBSOLETE_KEYS: Readonly<Record<string, string>> = {
  external_links: 'has no effect since PEP 470 (indexes no longer list files hosted elsewhere); ignored',
  follow_external_index_pages:
    'has no effect since PEP 470 (indexes no longer link to external pages); ignored',
  fetch_since_days:
    'has no effect: each run fetches exactly what changed upstream since the last one (serials); ignored',
};

/** ConfigParser.BOOLEAN_STATES; matched case-insensitively. */
export const BOOLEAN_STATES: Readonly<Record<string, boolean>> = {
  '1': true,
  yes: true,
  true: true,
  on: true,
  '0': false,
  no: false,
  false: false,
  off: false,
};

/** Every key a complete sample config should mention: the keys, their aliases and the obsolete z3c keys. */
export function listDocumentedKeys(): string[] {
  return [...Object.keys(CONFIG_KEYS), ...Object.keys(KEY_ALIASES), ...Object.keys(OBSOLETE_KEYS)];
}

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key);
}
