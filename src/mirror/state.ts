// State under <root>/.pypimirror/: one record per project (written right after its page) and state.json
// (written last in a run), read and written through the tree's storage. Every write is atomic, so a crash
// at any instant leaves the previous state.
import { readFile } from 'node:fs/promises';
import { StateError, wrongStateShape } from '../errors.js';
import { isNormalizedName } from '../model/names.js';
import { RECORDS_DIR_KEY, recordKey, STATE_KEY } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import type { DeletionHold, QuarantineHold, RemovalEntry } from '../model/holds.js';
import { isNotFound } from '../util/fs.js';
import type { ProjectRecord } from '../model/record.js';

export interface MirroredProject {
  readonly displayName: string;
  /** The serial the project was last synced at (null when upstream gives none). */
  readonly serial: number | null;
  /** Selected, but no file of it is: it has a record (for serials and ETags) and no page. */
  readonly isEmpty?: boolean;
  /** Files mirrored (the deletion guards' count); absent in states written before it was kept. */
  readonly files?: number;
  /** The `[upstream:NAME]` it was fetched from (src/sync/upstreams.ts); absent: [mirror]'s index_url. */
  readonly upstream?: string;
  /** Files min_release_age holds back, and when the first comes of age: the project is looked at then. */
  readonly quarantine?: QuarantineHold;
}

/** What change discovery remembers between runs (src/sync/discover.ts). */
export interface DiscoveryState {
  /** How the last run learned what changed: changelog, listing-serial, conditional, literal, mirrored-only. */
  readonly mode: string;
  /** When XML-RPC `changelog_since_serial` was last found missing (ISO 8601); re-probed after a day. */
  readonly changelogUnsupportedAt: string | null;
  /** Validators of the last root listing read in full, for a conditional listing request. */
  readonly listingEtag: string | null;
  readonly listingLastModified: string | null;
  /** Projects that failed or whose page was stale, with the serial wanted: fetched again next run. */
  readonly pending: Readonly<Record<string, MirroredProject>>;
  /** Deletions were held last run: the next run reads the listing (or every literal page) to decide again. */
  readonly isListingDue: boolean;
}

/** What the dependency closure remembers between runs (src/sync/closure.ts), so a run reads only new metadata. */
export interface ClosureState {
  /**
   * Per project and canonical version: the Requires-Dist strings its metadata states, or 'unknown' when no
   * metadata states them (an sdist before Metadata-Version 2.2, or with Requires-Dist Dynamic).
   */
  readonly dependencies: Readonly<Record<string, Readonly<Record<string, readonly string[] | 'unknown'>>>>;
  /** Per project the closure pulls in: the specifiers its files were last selected with. */
  readonly planned: Readonly<Record<string, readonly string[]>>;
}

/** What one route keeps between runs (the [mirror] route keeps it at the top of state.json, as before). */
export interface UpstreamState {
  readonly scopeKey: string | null;
  /** Route.projectsKey when scopeKey was stored; absent in states written before it existed. */
  readonly projectsKey?: string | null;
  readonly upstreamKey: string | null;
  readonly lastSerial: number | null;
  readonly listingCount: number | null;
  readonly discovery?: DiscoveryState;
}

export interface MirrorState {
  readonly formatVersion: 1;
  /** Fingerprint of what decides the mirror's content (index_url, globs, cleanup): a change re-plans all. */
  readonly scopeKey: string | null;
  /**
   * Fingerprint of the part of scopeKey that decides which projects are mirrored (src/sync/upstreams.ts
   * Route.projectsKey); absent in states written before it existed (then any scope change refetches pages).
   */
  readonly projectsKey?: string | null;
  /** Fingerprint of index_url alone: when it changes, stored ETags and serials mean nothing. */
  readonly upstreamKey: string | null;
  /** Global upstream serial at the last complete listing, when known. */
  readonly lastSerial: number | null;
  /** Number of projects in the last successful upstream listing (for information: the guards count the selection). */
  readonly listingCount: number | null;
  /** Selected projects synced so far: those with a page, and those with no selected file (isEmpty). */
  readonly projects: Readonly<Record<string, MirroredProject>>;
  readonly lastRun: { readonly startedAt: string; readonly finishedAt: string; readonly ok: boolean } | null;
  /** Absent in state files written before change discovery remembered anything. */
  readonly discovery?: DiscoveryState;
  /** Removals within max_deletions_window, one entry per run that removed something (src/sync/guards.ts). */
  readonly removals?: readonly RemovalEntry[];
  /** The deletions the last run held, or null / absent. */
  readonly deletionsHeld?: DeletionHold | null;
  /**
   * Each `[upstream:NAME]` section's own discovery state, by NAME (src/sync/upstreams.ts); the fields above
   * are [mirror]'s index_url's. Absent with one upstream.
   */
  readonly upstreams?: Readonly<Record<string, UpstreamState>>;
  /** Absent unless `requirements` is set (or was). */
  readonly closure?: ClosureState;
}

export const EMPTY_STATE: MirrorState = {
  formatVersion: 1,
  scopeKey: null,
  upstreamKey: null,
  lastSerial: null,
  listingCount: null,
  projects: {},
  lastRun: null,
};

/** `text` (the file `where`) as JSON; a file that does not parse is an error naming it. */
function parseStateJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new StateError(where, `not JSON (${err.message})`, 'the JSON pypimirror writes there', {
        cause: err,
      });
    throw err;
  }
}

/**
 * The JSON of a local file that pypimirror keeps (bundle state, the find_links_dir record), or null when
 * there is none; a file that does not parse is an error naming it. Callers check the shape.
 */
export async function readStateJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  return parseStateJson(text, path);
}

/** The JSON of the tree's file `key` (under `.pypimirror/`), or null when there is none. */
export async function readStoredJson(storage: Storage, key: string): Promise<unknown> {
  const bytes = await storage.get(key);
  return bytes === null ? null : parseStateJson(bytes.toString('utf8'), storage.describe(key));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function readState(storage: Storage): Promise<MirrorState> {
  const json = await readStoredJson(storage, STATE_KEY);
  if (json === null) return EMPTY_STATE;
  if (!isObject(json) || json['formatVersion'] !== 1 || !isObject(json['projects'])) {
    throw wrongStateShape(storage.describe(STATE_KEY), 'a pypimirror state file (formatVersion 1)');
  }
  return json as unknown as MirrorState;
}

export async function writeState(storage: Storage, state: MirrorState): Promise<void> {
  await storage.put(STATE_KEY, `${JSON.stringify(state, null, 1)}\n`);
}

export async function readRecord(storage: Storage, name: string): Promise<ProjectRecord | null> {
  const key = recordKey(name);
  const json = await readStoredJson(storage, key);
  return json === null ? null : checkRecord(json, name, storage.describe(key));
}

/** The record of `name` from `text`, the content of its file `where`, checked as readRecord checks it. */
export function parseRecord(text: string, name: string, where: string): ProjectRecord {
  return checkRecord(parseStateJson(text, where), name, where);
}

function checkRecord(json: unknown, name: string, where: string): ProjectRecord {
  if (
    !isObject(json) ||
    json['formatVersion'] !== 1 ||
    json['name'] !== name ||
    !Array.isArray(json['files'])
  ) {
    throw wrongStateShape(where, `a pypimirror project record for ${name} (formatVersion 1)`);
  }
  return json as unknown as ProjectRecord;
}

/**
 * Writes a project's record. `durability` 'none' for a new project's first record, written before its
 * directory so that a directory without one is never taken for ours (ownership.ts claimProject).
 */
export async function writeRecord(
  storage: Storage,
  record: ProjectRecord,
  durability: 'full' | 'none' = 'full',
): Promise<void> {
  await storage.put(recordKey(record.name), recordJson(record), { durability });
}

/** Items per piece of a record's JSON. */
const RECORD_ITEMS_PER_PIECE = 1000;

/**
 * The record as JSON (and a newline), in pieces: the record of a 200 000-file project is never one string
 * of tens of MB (nor the copies a write of it makes).
 */
function* recordJson(record: ProjectRecord): Generator<string> {
  const { upstreamFiles, files, ...head } = record;
  const start = JSON.stringify(head);
  yield `${start.slice(0, -1)},"upstreamFiles":[`;
  yield* jsonItems(upstreamFiles);
  yield '],"files":[';
  yield* jsonItems(files);
  yield ']}\n';
}

function* jsonItems(items: readonly unknown[]): Generator<string> {
  for (let i = 0; i < items.length; i += RECORD_ITEMS_PER_PIECE) {
    const piece = items.slice(i, i + RECORD_ITEMS_PER_PIECE).map((item) => JSON.stringify(item));
    yield `${i === 0 ? '' : ','}${piece.join(',')}`;
  }
}

export async function removeRecord(storage: Storage, name: string): Promise<void> {
  await storage.remove(recordKey(name));
}

/** Names of every project that has a record (for reindex and verify). */
export async function listRecords(storage: Storage): Promise<string[]> {
  return (await storage.list(RECORDS_DIR_KEY)).files
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter(isNormalizedName)
    .sort();
}
