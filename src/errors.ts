// Errors with a stable `code` and the original `cause` (undici errors.js, execa final-error.js).
// Branch on `err.code`, never on message text.

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_NOT_FOUND';
export type UpstreamErrorCode =
  | 'UPSTREAM_STATUS' // a non-2xx answer after retries (status in `status`)
  | 'UPSTREAM_NOT_FOUND' // 404 / 410 for a project page: the project is gone
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_NETWORK' // reset, refused, DNS
  | 'UPSTREAM_TLS' // the upstream's certificate is not trusted (unknown CA, wrong host, expired): never retried
  | 'UPSTREAM_PROXY' // the proxy refused the request or the tunnel (status in `status`; 407: its credentials)
  | 'UPSTREAM_PAYLOAD' // unparsable or invalid page / listing
  | 'UPSTREAM_ABORTED';
export type IntegrityErrorCode =
  'INTEGRITY_SIZE' | 'INTEGRITY_HASH' | 'INTEGRITY_NAME' | 'INTEGRITY_TOO_LARGE'; // a file above max_file_size: refused, not retried
export type LockErrorCode = 'LOCK_HELD' | 'LOCK_LOST';
export type StoreErrorCode = 'STORE_IO' | 'STORE_EXISTS'; // STORE_EXISTS: a published file is never overwritten

export interface ErrorOptions {
  cause?: unknown;
}

export class PypimirrorError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem in a config file: everything a user needs to find and fix it. */
export interface ConfigIssue {
  file: string;
  /** 1-based line of the key (or of the section/line at fault); null when the key is missing. */
  line: number | null;
  section: string | null;
  key: string | null;
  /** The value as written (after interpolation); null when missing. */
  value: string | null;
  /** What was expected, e.g. 'a duration like 30s, 10m, 1h'. */
  expected: string;
}

/** Formats one issue as `FILE:LINE: [section] key = "value": expected ...`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === null ? issue.file : `${issue.file}:${issue.line}`;
  const section = issue.section === null ? '' : `[${issue.section}] `;
  const key = issue.key === null ? '' : issue.key;
  const value =
    issue.value === null ? (issue.key === null ? '' : ' (missing)') : ` = ${JSON.stringify(issue.value)}`;
  const subject = `${section}${key}${value}`.trim();
  return subject === '' ? `${where}: ${issue.expected}` : `${where}: ${subject}: ${issue.expected}`;
}

export class ConfigError extends PypimirrorError<ConfigErrorCode> {
  readonly issues: readonly ConfigIssue[];
  constructor(
    code: ConfigErrorCode,
    file: string,
    issues: readonly ConfigIssue[],
    options: ErrorOptions = {},
  ) {
    const head = `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`;
    super(code, [head, ...issues.map((i) => `  ${formatConfigIssue(i)}`)].join('\n'), options);
    this.issues = issues;
  }
}

export class UpstreamError extends PypimirrorError<UpstreamErrorCode> {
  readonly status: number | null;
  readonly url: string;
  constructor(
    code: UpstreamErrorCode,
    message: string,
    details: { url: string; status?: number | null } & ErrorOptions,
  ) {
    super(code, message, details);
    this.status = details.status ?? null;
    this.url = details.url;
  }
}

export class IntegrityError extends PypimirrorError<IntegrityErrorCode> {}

/** The local disk failed a download (full, read-only, I/O error): not upstream's fault, so not retried. */
export class StoreError extends PypimirrorError<StoreErrorCode> {}

export class LockError extends PypimirrorError<LockErrorCode> {
  /** Who holds the lock, when known: pid, host and since (ISO time). */
  readonly holder: { pid: number; host: string; since: string } | null;
  constructor(
    code: LockErrorCode,
    message: string,
    details: { holder?: { pid: number; host: string; since: string } | null } & ErrorOptions = {},
  ) {
    super(code, message, details);
    this.holder = details.holder ?? null;
  }
}

/** Removes `user:password@` from a URL string so it can be logged. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    if (u.username !== '' || u.password !== '') {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return String(url).replace(/\/\/[^/@]*@/, '//***@');
  }
}
