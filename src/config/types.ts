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
  readonly mirrorRoot: string;
  /**
   * Entries as written (for `check` and fingerprints): globs, `!`-prefixed ones exclude, and project names
   * that may carry a PEP 440 specifier (`requests>=2.30`, spaces removed). Empty = every project.
   */
  readonly packageMatches: readonly string[];
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
  /** Air-gapped pairs (issue #16): the key `export` signs with, the key `import` checks with (PEM), or null. */
  readonly bundlePrivateKey: string | null;
  readonly bundlePublicKey: string | null;
  /** Non-fatal findings (unknown keys, obsolete z3c keys), already formatted with file and line. */
  readonly warnings: readonly string[];
}
