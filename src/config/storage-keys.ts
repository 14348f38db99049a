// The values of the object-storage keys (issue #15): `storage = s3://BUCKET/PREFIX`, `s3_endpoint`,
// `s3_region`. Pure, like validate.ts: it checks the text and says what was expected.

/** `storage`'s one scheme. */
const S3_SCHEME = 's3:';

/** The lease object of an s3 storage (the run lock), under the tree's private state prefix. */
export const S3_LEASE_KEY = '.pypimirror/lease';

/** The parts of a valid `storage` value. */
export interface StorageUrl {
  readonly bucket: string;
  /** Without a leading or trailing '/'; '' for the bucket's root. */
  readonly prefix: string;
}

/** S3's rules for a bucket name that works with path-style and virtual-host requests alike. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A prefix segment: letters, digits and `._-+~`, not starting with '.' (no `..`, no hidden state names). */
const PREFIX_SEGMENT = /^[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*$/;
const MAX_PREFIX_BYTES = 512;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;

const EXPECTED_STORAGE =
  'expected s3://BUCKET/PREFIX, like s3://pypi-mirror/simple (or empty for local disk)';

/** The bucket and prefix of a `storage` value, or what was expected instead. */
export function parseStorageUrl(text: string): StorageUrl | { readonly expected: string } {
  const value = text.trim();
  if (/\s/.test(value)) return { expected: `${EXPECTED_STORAGE}, on one line without spaces` };
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== S3_SCHEME) {
    const got = scheme === undefined ? 'no scheme' : `scheme ${scheme}`;
    return { expected: `${EXPECTED_STORAGE}; this one has ${got}` };
  }
  const rest = value.slice(S3_SCHEME.length + 2);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (/[@?#:]/.test(bucket)) {
    return { expected: `${EXPECTED_STORAGE}: no user, password, port, ?query or #fragment in it` };
  }
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    return {
      expected:
        `${EXPECTED_STORAGE}: the bucket name "${bucket}" must be 3 to 63 lower-case letters, digits, ` +
        "'.' and '-', starting and ending with a letter or digit",
    };
  }
  if (prefix.length > MAX_PREFIX_BYTES) {
    return { expected: `${EXPECTED_STORAGE}: a prefix of at most ${MAX_PREFIX_BYTES} characters` };
  }
  const bad = prefix === '' ? undefined : prefix.split('/').find((s) => !PREFIX_SEGMENT.test(s));
  if (bad !== undefined) {
    const shown = bad === '' ? 'an empty segment (//)' : `the segment "${bad}"`;
    return {
      expected:
        `${EXPECTED_STORAGE}: the prefix has ${shown}; each segment is letters, digits and ` +
        "'._+~-', not starting with '.'",
    };
  }
  return { bucket, prefix };
}

/** `s3://bucket/prefix` (or `s3://bucket` for the bucket's root): how a storage is named in messages. */
export function formatStorageUrl(storage: StorageUrl): string {
  return `s3://${storage.bucket}${storage.prefix === '' ? '' : `/${storage.prefix}`}`;
}

/** Null when `text` is a region name (`us-east-1`, `default`), else what was expected. */
export function checkRegion(text: string): string | null {
  return REGION.test(text.trim())
    ? null
    : 'expected a region name: lower-case letters, digits and -, like us-east-1';
}
