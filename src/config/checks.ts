// The checks of single config values (validate.ts reads each key through one): each returns the value it
// means, or what was expected instead, for a ConfigIssue. Pure.
import path from 'node:path';
import { formatDuration, parseDuration } from '../util/duration.js';
import { parsePackageMatch } from '../plan/versions.js';
import { BOOLEAN_STATES, type ConfigKeySpec } from './defaults.js';

/** A value as it means, or what was expected instead. */
export type Check<T> = { ok: true; value: T } | { ok: false; expected: string };

const accept = <T>(value: T): Check<T> => ({ ok: true, value });
const reject = <T>(expected: string): Check<T> => ({ ok: false, expected });

const PROJECT_GLOB = /^[A-Za-z0-9._\-*?[\]!]+$/;
const UNCLOSED_BRACKET = /\[[^\]]*$/;

export function checkSingle(text: string, what: string): Check<string> {
  const value = text.trim();
  if (value === '') return reject(`expected ${what}`);
  if (value.includes('\n')) return reject(`expected ${what} on one line`);
  return accept(value);
}

export function checkPath(text: string, base: string): Check<string> {
  const single = checkSingle(text, 'a path');
  if (!single.ok) return single;
  if (single.value.includes('\0')) return reject('expected a path without NUL characters');
  return accept(path.resolve(base, single.value));
}

export function checkBoolean(text: string): Check<boolean> {
  const state = BOOLEAN_STATES[text.trim().toLowerCase()];
  return state === undefined ? reject('expected true/false, yes/no, on/off or 1/0') : accept(state);
}

export function checkInteger(text: string, spec: ConfigKeySpec): Check<number> {
  const n = /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  return n >= min && n <= max ? accept(n) : reject(`expected a whole number from ${min} to ${max}`);
}

export function checkDuration(text: string, spec: ConfigKeySpec): Check<number> {
  const ms = parseDuration(text);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  if (ms !== null && ms >= min && ms <= max) return accept(ms);
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return reject(`expected a duration ${range}, like 30s, 10m or 1h30m (a plain number is seconds)`);
}

/** A percentage: `10`, `2.5` or `10%` (written `10%%` in the file, as ConfigParser needs), 0 to 100. */
export function checkPercent(text: string): Check<number> {
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
export function checkSize(text: string, spec: ConfigKeySpec): Check<number> {
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
export function checkHttpUrl(text: string, kind: 'index' | 'public' | 'endpoint'): Check<URL> {
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
  if (kind === 'endpoint' && (url.username !== '' || url.password !== '')) {
    return reject(
      'expected the endpoint without a user name or password: S3 credentials come from the AWS chain ' +
        '(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, AWS_PROFILE)',
    );
  }
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
export function checkInstant(text: string): Check<string> {
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

export function checkProjectGlob(glob: string): string | null {
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
export function checkPackageMatch(entry: string): string | null {
  const match = parsePackageMatch(entry);
  if ('error' in match) {
    // Without an operator it was meant as a glob: say what a glob needs.
    const asGlob = /[<>=~]/.test(entry) ? null : checkProjectGlob(entry);
    return asGlob ?? `expected ${match.error}`;
  }
  return checkProjectGlob((match.isExclude ? '!' : '') + match.pattern);
}

export function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

export function checkRequirementsPath(item: string): string | null {
  return item.includes('\0') ? 'expected a path without NUL characters' : null;
}

export function checkFilenameGlob(glob: string): string | null {
  if (/[/\\]/.test(glob)) return 'expected a glob on file names, without "/" or "\\"';
  return UNCLOSED_BRACKET.test(glob) ? 'expected "]" to close "["' : null;
}
