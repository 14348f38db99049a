// PEP 440 order with each version parsed once. @renovatebot/pep440's `compare` parses both of its versions
// on every call, so a sort of n versions parsed them about 4 n log n times (the validity check parsed them
// again); here each version is parsed once into packaging's sort key (_cmpkey, which the library's
// calculateKey ports), and the keys are compared. The order is the library's, exactly. Pure.
import { parse } from '@renovatebot/pep440';

/** A sort key: numbers, strings, ±Infinity and nested keys, compared as Python compares tuples. */
type KeyPart = number | string | readonly KeyPart[];

/** What `parse` gives (its typings say more than it returns: `local` is an array of parts or null). */
interface ParsedVersion {
  readonly epoch: number;
  readonly release: readonly number[];
  readonly pre: readonly (string | number)[] | null;
  readonly post: readonly (string | number)[] | null;
  readonly dev: readonly (string | number)[] | null;
  readonly local: readonly (string | number)[] | null;
}

/** packaging's _cmpkey of a valid version, or null when `version` is not valid PEP 440. */
export function versionSortKey(version: string): KeyPart | null {
  const parsed = parse(version) as unknown as ParsedVersion | null;
  if (parsed === null) return null;
  const release = [...parsed.release];
  while (release.length > 0 && release[release.length - 1] === 0) release.pop();
  const { post, dev } = parsed;
  // 1.0.dev0 sorts before 1.0a0; a release without a pre-release after those with one.
  const pre = parsed.pre ?? (post === null && dev !== null ? -Infinity : Infinity);
  const local =
    parsed.local === null
      ? -Infinity
      : parsed.local.map((part) =>
          Number.isNaN(Number(part)) ? [-Infinity, String(part)] : [Number(part), ''],
        );
  return [parsed.epoch, release, pre, post ?? -Infinity, dev ?? Infinity, local];
}

/** Python's tuple comparison over sort keys, as the library's pyCompare does it. */
export function compareKeys(a: KeyPart, b: KeyPart): number {
  if (a === b) return 0;
  const left = Array.isArray(a) || !Array.isArray(b) ? a : [a];
  const right = Array.isArray(b) || !Array.isArray(a) ? b : [b];
  if (Array.isArray(left) && Array.isArray(right)) {
    const length = Math.min(left.length, right.length);
    for (let i = 0; i < length; i++) {
      const order = compareKeys(left[i] as KeyPart, right[i] as KeyPart);
      if (order !== 0) return order;
    }
    return left.length - right.length;
  }
  if (left === -Infinity || right === Infinity) return -1;
  if (left === Infinity || right === -Infinity) return 1;
  return left < right ? -1 : 1;
}

/**
 * `versions` newest first in PEP 440 order; invalid versions after every valid one (among themselves by
 * text, descending), as sorting with compareVersions in reverse does.
 */
export function sortVersionsNewestFirst(versions: readonly string[]): string[] {
  const keyed = versions.map((version) => ({ version, key: versionSortKey(version) }));
  keyed.sort((x, y) => {
    if (x.key !== null && y.key !== null) return compareKeys(y.key, x.key);
    if (x.key !== null || y.key !== null) return x.key === null ? 1 : -1;
    return x.version < y.version ? 1 : x.version > y.version ? -1 : 0;
  });
  return keyed.map((k) => k.version);
}
