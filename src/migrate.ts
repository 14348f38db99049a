// `pypimirror migrate FROM_CONFIG TO_CONFIG` (issue #15 part 6): copies a mirror's tree and its state from
// one storage to another (local disk to an s3:// bucket, or back) without asking the upstream for anything,
// verifying every file. What is copied is pypimirror's own: the root pages, the project directories and the
// `.pypimirror/` state (never another tool's entries, temp files or the lock). The destination is written in
// the order a sync writes, so that it is consistent at every instant: distribution files, then each
// project's pages, then the records, the root pages, and the state last. Distribution files are checked
// against the sha256 their record names (a file whose bytes differ is reported and not copied); every other
// file against the source's own bytes. Files already in place with the right digest are skipped, so an
// interrupted migrate resumes.
import { createHash } from 'node:crypto';
import { IntegrityError } from './errors.js';
import type { Logger } from './log.js';
import { INDEX_HTML, INDEX_JSON, isTempName, STATE_DIR } from './model/layout.js';
import { listRecords, readRecord } from './mirror/state.js';
import { isNormalizedName } from './model/names.js';
import { hashStored } from './storage/hash.js';
import { fileKey, joinKey, RECORDS_DIR_KEY, STATE_KEY } from './storage/keys.js';
import type { Storage } from './storage/types.js';

export interface MigrateReport {
  /** Files written to the destination. */
  readonly copied: number;
  /** Files already at the destination with the right digest. */
  readonly skipped: number;
  readonly bytes: number;
  /** Files not copied, with why (a digest that does not match its record, a read failure). */
  readonly problems: readonly string[];
}

interface Expected {
  readonly sha256: string;
  readonly size: number | null;
}

const RECORDS_DIR = RECORDS_DIR_KEY;
const STATE_FILE = STATE_KEY;

/** Every file key of pypimirror's own under `dir` in `storage`, depth first. */
async function listOwnFiles(storage: Storage, dir = ''): Promise<string[]> {
  const listing = await storage.list(dir);
  const isOwn = (name: string, isDir: boolean): boolean =>
    dir !== ''
      ? !isTempName(name)
      : isDir
        ? name === STATE_DIR || isNormalizedName(name)
        : name === INDEX_HTML || name === INDEX_JSON;
  const keys = listing.files.filter((name) => isOwn(name, false)).map((name) => joinKey(dir, name));
  for (const sub of listing.dirs.filter((name) => isOwn(name, true))) {
    keys.push(...(await listOwnFiles(storage, joinKey(dir, sub))));
  }
  return keys;
}

/** The order a sync writes in: files, project pages, records, root pages, other state, state.json. */
function writeOrder(key: string): number {
  if (key === STATE_FILE) return 5;
  if (key.startsWith(`${RECORDS_DIR}/`)) return 2;
  if (key.startsWith(`${STATE_DIR}/`)) return 4;
  if (key === INDEX_HTML || key === INDEX_JSON) return 3;
  if (key.endsWith(`/${INDEX_HTML}`)) return 1;
  if (key.endsWith(`/${INDEX_JSON}`)) return 1.5;
  return 0;
}

/** The digest each distribution file (and its .metadata) must have, from the source's records. */
async function readExpected(from: Storage): Promise<Map<string, Expected>> {
  const expected = new Map<string, Expected>();
  for (const name of await listRecords(from)) {
    const record = await readRecord(from, name);
    for (const file of record?.files ?? []) {
      const at = fileKey(name, file);
      expected.set(at, { sha256: file.sha256, size: file.size });
      if (file.metadataSha256 !== null)
        expected.set(`${at}.metadata`, { sha256: file.metadataSha256, size: null });
    }
  }
  return expected;
}

/** Copies the tree of `from` into `to` (see the head comment). Both are held under their run locks. */
export async function migrateTree(
  from: Storage,
  to: Storage,
  deps: { readonly log: Logger; readonly signal: AbortSignal },
): Promise<MigrateReport> {
  const keys = (await listOwnFiles(from)).sort((a, b) => writeOrder(a) - writeOrder(b) || (a < b ? -1 : 1));
  const expected = await readExpected(from);
  let copied = 0;
  let skipped = 0;
  let bytes = 0;
  const problems: string[] = [];
  for (const key of keys) {
    deps.signal.throwIfAborted();
    try {
      const outcome = await copyOne(from, to, key, expected.get(key) ?? null, deps.signal);
      if (outcome === null) skipped++;
      else {
        copied++;
        bytes += outcome;
      }
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      problems.push(err.message);
      deps.log.error(err.message, { file: key });
    }
  }
  return { copied, skipped, bytes, problems };
}

/** Copies one file unless it is in place already (null); returns the bytes copied. */
async function copyOne(
  from: Storage,
  to: Storage,
  key: string,
  recorded: Expected | null,
  signal: AbortSignal,
): Promise<number | null> {
  const source = recorded === null ? await sourceDigest(from, key) : recorded;
  if (source !== null && (await isInPlace(to, key, source))) return null;
  if (recorded === null) {
    // A page, a record, the state: small; written whole, so that an object store also serves a page at dir/.
    const body = await from.get(key);
    if (body === null) return null; // gone meanwhile
    await to.put(key, body);
    return body.length;
  }
  return streamFile(from, to, key, recorded, signal);
}

/** The sha256 of a small file of the source (pages and state, read whole), or null when it is gone. */
async function sourceDigest(from: Storage, key: string): Promise<Expected | null> {
  const body = await from.get(key);
  return body === null
    ? null
    : { sha256: createHash('sha256').update(body).digest('hex'), size: body.length };
}

/** Whether `to` holds `key` with the expected bytes already (its kept sha256, or hashed). */
async function isInPlace(to: Storage, key: string, want: Expected): Promise<boolean> {
  const there = await to.stat(key);
  if (there === null || (want.size !== null && there.size !== want.size)) return false;
  if (there.sha256 !== null) return there.sha256 === want.sha256;
  return (await hashStored(to, key))?.sha256 === want.sha256;
}

/** Streams a distribution file into `to`, committing it only if its bytes hash to the recorded sha256. */
async function streamFile(
  from: Storage,
  to: Storage,
  key: string,
  recorded: Expected,
  signal: AbortSignal,
): Promise<number> {
  const body = await from.open(key, signal);
  if (body === null) {
    throw new IntegrityError('INTEGRITY_SIZE', `${from.describe(key)}: listed in its record, but missing`);
  }
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  const upload = await to.beginFile(key, {
    size: recorded.size,
    algorithms: ['sha256'],
    events: { onRoom: () => wake?.(), onFailure: (err) => ((failure = err), wake?.()) },
  });
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (!upload.push(chunk)) await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== null) throw failure;
    }
    const [sha256] = await upload.finish();
    if (sha256 !== recorded.sha256 || (recorded.size !== null && size !== recorded.size)) {
      throw new IntegrityError(
        'INTEGRITY_HASH',
        `${from.describe(key)}: sha256 ${sha256} (${size} bytes), its record says ${recorded.sha256}` +
          (recorded.size === null ? '' : ` (${recorded.size} bytes)`) +
          '; not copied (verify --repair heals the source)',
      );
    }
    await upload.commit({ mayReplace: true, sha256 });
    return size;
  } catch (err) {
    await upload.abort();
    throw err;
  }
}
