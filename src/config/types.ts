// Config moves one way: raw (INI text → RawConfig, every value a string with its line) → validated → frozen.

/** One key as read from the INI file, after `%(key)s` interpolation and continuation lines. */
export interface RawValue {
  value: string;
  /** 1-based line where the key starts. */
  line: number;
  /** The section it was read from (`DEFAULT`, `mirror`, ...). */
  section: string;
}

/** What the INI reader produces: sections → lower-cased keys → raw values. */
export interface RawConfig {
  file: string;
  sections: ReadonlyMap<string, { line: number; values: ReadonlyMap<string, RawValue> }>;
}

/** The validated, frozen configuration. Paths are absolute; durations carry units. */
export interface Config {
  /** The file it was read from (absolute). */
  readonly file: string;
  /**
   * The tree's root directory; with `storage = s3://...` (s3Storage set) the storage URL instead, for
   * messages only: never a local path then.
   */
  readonly mirrorRoot: string;
  /** `storage = s3://BUCKET/PREFIX` with `s3_endpoint` and `s3_region` (issue #15); null: the local tree. */
  readonly s3Storage: S3Storage | null;
  /**
   * Entries as written (for `check` and fingerprints): globs, `!`-prefixed ones exclude, and project names
   * that may carry a PEP 440 specifier (`requests>=2.30`, spaces removed). Empty = every project.
   */
  readonly packageMatches: readonly string[];
  /** `requirements`: pip requirements files (absolute paths), the roots of the dependency closure. */
  readonly requirements: readonly string[];
  /** The requirements those files hold (includes followed), as written, each with its `file:line`. */
  readonly requirementRoots: readonly RequirementRoot[];
  /** Every requirements file read, includes too (absolute): the daemon watches them. */
  readonly requirementFiles: readonly string[];
  /** Globs on file names. Empty = every file. */
  readonly filenameMatches: readonly string[];
  /** File filters (issue #11): `python_versions`, `platforms`, `package_types`, `extensions`; empty = open. */
  readonly pythonVersions: readonly string[];
  readonly platforms: readonly string[];
  readonly packageTypes: readonly string[];
  readonly extensions: readonly string[];
  /** `keep_latest`: the N newest releases per project, or null for every release. */
  readonly keepLatest: number | null;
  /** `prereleases = false` drops pre-releases and dev releases unless a specifier names one. */
  readonly prereleases: boolean;
  readonly cleanup: boolean;
  readonly createIndexes: boolean;
  /** `find_links_dir`: a flat directory holding every mirrored file (for `pip --find-links`), or null. */
  readonly findLinksDir: string | null;
  readonly lockFile: string;
  readonly logFile: string | null;
  readonly verbose: boolean;
  readonly baseUrl: URL | null;
  /** Upstream Simple API base, always ending in '/'. May carry credentials: never log it unredacted. */
  readonly indexUrl: URL;
  readonly syncIntervalMs: number;
  readonly workers: number;
  /** Per-request connect and read (idle body) timeout. */
  readonly timeoutMs: number;
  /** Prometheus textfile-collector output, or null. */
  readonly metricsFile: string | null;
  /** Deletions held beyond this share (0-100) of the selected projects or files, per run and per window. */
  readonly maxDeletionsPercent: number;
  /** The rolling window max_deletions also counts over. */
  readonly maxDeletionsWindowMs: number;
  /** Replace a mirrored file whose upstream bytes changed under the same name (default false: keep, warn). */
  readonly allowReplacedFiles: boolean;
  /** Largest file downloaded, in bytes. */
  readonly maxFileSize: number;
  /** Total time one upstream request may take, body included. */
  readonly requestDeadlineMs: number;
  /** Extra CA certificates (PEM) for the upstream, or null. */
  readonly caFile: string | null;
  /**
   * `[upstream:NAME]` sections in file order (issue #12): each serves the projects its package_matches
   * selects that no earlier section claims; the rest come from `indexUrl`. Empty = one upstream.
   */
  readonly upstreams: readonly UpstreamSection[];
  /** `min_release_age`: files uploaded less than this long ago are held back; null = no quarantine. */
  readonly minReleaseAgeMs: number | null;
  /** `quarantine_exempt`: project globs min_release_age does not hold back. */
  readonly quarantineExempt: readonly string[];
  /** `exclude_newer`: only files uploaded before this instant (ISO 8601 UTC) are kept; null = no cut. */
  readonly excludeNewer: string | null;
  /** Air-gapped pairs (issue #16): the key `export` signs with, the key `import` checks with (PEM), or null. */
  readonly bundlePrivateKey: string | null;
  readonly bundlePublicKey: string | null;
  /** Non-fatal findings (unknown keys, obsolete z3c keys), already formatted with file and line. */
  readonly warnings: readonly string[];
}

/** Where an S3 mirror lives: the bucket, the key prefix of the tree, and how to reach the service. */
export interface S3Storage {
  readonly bucket: string;
  /** The tree's key prefix without a leading or trailing '/' (`simple`, `pypi/simple`), or '' for the bucket's root. */
  readonly prefix: string;
  /** `s3_endpoint`: the service's URL (a Ceph gateway, MinIO), or null for AWS S3 itself. */
  readonly endpoint: URL | null;
  /** `s3_region`, else AWS_REGION (or AWS_DEFAULT_REGION) of the command's environment (config/load.ts), else null: us-east-1. */
  readonly region: string | null;
}

/** One `[upstream:NAME]` section (src/config/upstream-sections.ts), validated. */
export interface UpstreamSection {
  /** NAME of `[upstream:NAME]`: letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  /** Simple API base, always ending in '/'. May carry credentials: never log it unredacted. */
  readonly indexUrl: URL;
  /** The projects this upstream serves (globs, `!` excludes, names with specifiers). Never empty. */
  readonly packageMatches: readonly string[];
  /** Transport keys; [mirror]'s value where the section sets none. */
  readonly timeoutMs: number;
  readonly requestDeadlineMs: number;
  readonly caFile: string | null;
  /** This upstream's quarantine: its own `min_release_age`, else [mirror]'s (null = none). */
  readonly minReleaseAgeMs: number | null;
}

/** One requirement of a requirements file, for the dependency closure. */
export interface RequirementRoot {
  /** The PEP 508 requirement as written (`fakepkg-alpha[extra1]>=1.0; python_version < "3.12"`). */
  readonly requirement: string;
  /** Where it was written: the file (relative to the config file's directory when inside it) and line. */
  readonly origin: string;
}
