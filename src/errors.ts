// Errors with a stable `code` and the original `cause` (undici errors.js, execa final-error.js).
// Branch on `err.code`, never on message text.

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_NOT_FOUND' | 'CONFIG_NOT_WRITTEN'; // NOT_WRITTEN: init
export type UpstreamErrorCode =
  | 'UPSTREAM_STATUS' // a non-2xx answer after retries (status in `status`)
  | 'UPSTREAM_NOT_FOUND' // 404 / 410 for a project page: the project is gone
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_NETWORK' // reset, refused, DNS
  | 'UPSTREAM_TLS' // the upstream's certificate is not trusted (unknown CA, wrong host, expired): never retried
  | 'UPSTREAM_PROXY' // the proxy refused the request or the tunnel (status in `status`; 407: its credentials)
  | 'UPSTREAM_PAYLOAD' // unparsable or invalid page / listing
  | 'UPSTREAM_NO_UPLOAD_TIME' // min_release_age / exclude_newer set, and the upstream gives a file no upload time
  | 'UPSTREAM_ABORTED';
export type IntegrityErrorCode =
  'INTEGRITY_SIZE' | 'INTEGRITY_HASH' | 'INTEGRITY_NAME' | 'INTEGRITY_TOO_LARGE'; // a file above max_file_size: refused, not retried
export type LockErrorCode = 'LOCK_HELD' | 'LOCK_LOST';
export type StoreErrorCode = 'STORE_IO' | 'STORE_EXISTS'; // STORE_EXISTS: a published file is never overwritten
export type BundleErrorCode =
  | 'BUNDLE_NOTHING' // export: nothing changed since the last export
  | 'BUNDLE_REFUSED' // import: unsigned, wrongly signed, altered or inconsistent; nothing of it written
  | 'BUNDLE_KEY' // a key file missing, unreadable or not an Ed25519 PEM key
  | 'BUNDLE_MOVED'; // export: the tree changed under it (a file it was to carry went): export again
export type StateErrorCode = 'STATE_CORRUPT'; // a file under <root>/.pypimirror/ that does not parse or has the wrong shape

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
    issue.value === null ? (issue.key === null ? '' : ' (missing)') : ` = ${quoteValue(issue.value)}`;
  const subject = `${section}${key}${value}`.trim();
  return subject === '' ? `${where}: ${issue.expected}` : `${where}: ${subject}: ${issue.expected}`;
}

/** Values longer than this are shown cut, with their length: a 200 000-glob list is not echoed whole. */
const MAX_SHOWN_VALUE = 200;

function quoteValue(value: string): string {
  if (value.length <= MAX_SHOWN_VALUE) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_SHOWN_VALUE))}… (${value.length} characters)`;
}

/** Config problems (and warnings) listed one per line; a file with more is summed up after these. */
export const MAX_SHOWN_ISSUES = 100;

/** The first MAX_SHOWN_ISSUES lines, then `… and N more <what>` if there are more. */
export function limitShown(lines: readonly string[], what: string): string[] {
  if (lines.length <= MAX_SHOWN_ISSUES) return [...lines];
  return [...lines.slice(0, MAX_SHOWN_ISSUES), `… and ${lines.length - MAX_SHOWN_ISSUES} more ${what}`];
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
    const shown = limitShown(issues.map(formatConfigIssue), 'problems').map((line) => `  ${line}`);
    super(code, [head, ...shown].join('\n'), options);
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

/** Air-gapped pairs' bundles (src/bundle/*): export and import. */
export class BundleError extends PypimirrorError<BundleErrorCode> {}

/**
 * A file pypimirror keeps under `<root>/.pypimirror/` (state.json, a project's record, find-links.json, a bundle
 * state file) that is not what pypimirror wrote: not JSON, or JSON of another shape. The message names the file,
 * what is wrong, and what was expected; `path` is the file.
 */
export class StateError extends PypimirrorError<StateErrorCode> {
  readonly path: string;
  constructor(path: string, problem: string, expected: string, options: ErrorOptions = {}) {
    super('STATE_CORRUPT', `${path}: ${problem}; expected ${expected}`, options);
    this.path = path;
  }
}

/** A StateError for JSON of the wrong shape: `expected` says which file (`a pypimirror state file (formatVersion 1)`). */
export function wrongStateShape(path: string, expected: string): StateError {
  return new StateError(path, 'not what pypimirror writes there', expected);
}

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

/**
 * Hides the secrets a URL may carry, so it can be shown (logs, errors, `check`, status.json): `user:password@`
 * becomes `***@` and every query parameter's value becomes `***` (`?token=abc&x=1` → `?token=***&x=***`),
 * since signed file URLs and some indexes carry their tokens there. Text that does not parse as a URL is
 * redacted as free text (redactSecrets).
 */
export function redactUrl(url: string | URL): string {
  let text = String(url);
  try {
    text = new URL(text).toString();
  } catch {
    // not a whole URL: redact what is in it
  }
  return redactSecrets(text);
}

/** `scheme://userinfo@` and `//userinfo@` (everything up to the host's `@`). */
const URL_USERINFO = /((?:\b[a-z][a-z0-9+.-]*:)?\/\/)[^\s"'<>/?#]*@/gi;
/** `user:password@` without a scheme, after a space, a quote, a `=` or at the start. */
const BARE_USERINFO = /(^|[\s"=])[^\s"/:@]+:[^\s"/]*@/g;
/**
 * A query: `?` right after a non-space character (so prose like "without ?query" is left alone), up to a
 * space, a quote, a backslash (of a JSON-escaped quote) or a fragment.
 */
const QUERY = /(?<=[^\s?])\?([^\s"'<>#\\]+)/g;
/** Punctuation that ends a sentence rather than a URL: `…?a=1: HTTP 500`. */
const TRAILING_PUNCTUATION = /[.,:;!)\]]+$/;

/**
 * The redaction rule, applied to any text that may contain URLs (log lines, error messages, config
 * problems): credentials before a host's `@` become `***@`, and in every `?name=value&…` query each value
 * becomes `***`. Names are kept, so a reader can still tell which parameter it was. Idempotent.
 */
export function redactSecrets(text: string): string {
  if (!text.includes('@') && !text.includes('?')) return text;
  return text
    .replace(URL_USERINFO, '$1***@')
    .replace(BARE_USERINFO, '$1***@')
    .replace(QUERY, (_match, query: string) => `?${redactQuery(query)}`);
}

function redactQuery(query: string): string {
  const tail = TRAILING_PUNCTUATION.exec(query)?.[0] ?? '';
  const body = query.slice(0, query.length - tail.length);
  const params = body.split('&').map((param) => {
    const eq = param.indexOf('=');
    return eq < 0 || eq === param.length - 1 ? param : `${param.slice(0, eq)}=***`;
  });
  return params.join('&') + tail;
}
