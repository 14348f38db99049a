// Every page published again from the records, through the one publisher (publish.ts), offline: `reindex`,
// and `verify --repair`, which in the same pass publishes the projects whose wrong files it forgets (their
// new pages, the bytes removed, their record), then the root page, the flat directory and state. A project
// directory that is not pypimirror's is skipped, with a warning.
import type { Logger } from '../log.js';
import type { Storage } from '../storage/types.js';
import { whyProjectDirIsNotOurs } from './ownership.js';
import type { ProjectPublication, Publisher } from './publish.js';
import type { RootEntry } from './render.js';
import { listRecords, readRecord, type MirrorState } from './state.js';

export interface Republication {
  /** Projects whose record changes, by name: published whole (pages, forgotten files, record), not only their pages. */
  readonly changed?: ReadonlyMap<string, ProjectPublication>;
  /** After the root page, before the state (find_links_dir follows the tree there). */
  readonly beforeState?: () => Promise<void>;
  /** state.json, last; absent: left alone. */
  readonly state?: () => MirrorState;
}

/**
 * Publishes every project's pages from its record (a project with no file has none), or its change, then
 * the root page, then `run`'s state; projects whose directory is not ours are left alone. Returns how many
 * projects the root page lists.
 */
export async function republishFromRecords(
  storage: Storage,
  publisher: Publisher,
  log: Logger,
  foreign: ReadonlySet<string>,
  run: Republication = {},
): Promise<number> {
  const entries: RootEntry[] = [];
  for (const name of await listRecords(storage)) {
    const change = run.changed?.get(name);
    const record = change?.record ?? (await readRecord(storage, name));
    if (record === null || (change === undefined && record.files.length === 0)) continue;
    const notOurs = await whyProjectDirIsNotOurs(storage, name, true, foreign);
    if (notOurs !== null) {
      log.warn('project skipped: its directory is not one pypimirror wrote', {
        project: name,
        reason: notOurs,
      });
      continue;
    }
    if (change === undefined) await publisher.pages(record);
    else await publisher.project(change);
    if (record.files.length > 0) entries.push({ name, displayName: record.displayName });
  }
  await publisher.finish({
    root: entries,
    ...(run.beforeState === undefined ? {} : { beforeState: run.beforeState }),
    state: run.state ?? null,
  });
  return entries.length;
}
