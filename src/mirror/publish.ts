// The one publisher (docs/architecture.md "The publish order, and why"): the only module that writes a page,
// and the one that knows the safe order of writes into the tree. Per project: its files, then its HTML page,
// then its JSON page, then its record, then its removals; per run: the root page after every project page,
// then the directories of projects that go, then state.json. Each step starts only once the one before it
// succeeded, so a failure (or a kill) at any instant leaves every page linking only files that are in
// place, and the state of the run before. sync (sync/project.ts, sync/run.ts), `reindex` (commands.ts),
// `verify --repair` and bundle import (bundle/apply.ts) publish through it.
import type { Logger } from '../log.js';
import { fileKey, parentKey, projectKey, projectPageKeys, ROOT_PAGE_KEYS } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import { removeOwnedProject } from './ownership.js';
import type { ProjectRecord } from '../model/record.js';
import {
  renderProjectHtml,
  renderProjectJson,
  renderRootHtml,
  renderRootJson,
  type RootEntry,
} from './render.js';
import { type MirrorState, removeRecord, writeRecord, writeState } from './state.js';

/** A mirrored file as its record names it; `isMetadataOnly`: its `.metadata` goes, the file stays. */
type FileRef = { readonly filename: string; readonly path?: string; readonly isMetadataOnly?: boolean };

export interface ProjectPublication {
  /** The project's new record: what its pages show. */
  readonly record: ProjectRecord;
  /**
   * Puts the project's files in place (verified downloads, a bundle's staged files), first; when it fails,
   * nothing else is written or removed.
   */
  readonly place?: () => Promise<void>;
  /**
   * Files the new pages no longer link that go before the record: bytes replaced under their name, a
   * bundle's removals, and the files `verify --repair` found wrong, so that a kill leaves a record naming a missing file (noticed and re-planned next
   * run) rather than a file no record names.
   */
  readonly forgotten?: readonly FileRef[];
  /** Files the new pages no longer link that go after the record (a sync's removals). */
  readonly removals?: readonly FileRef[];
}

/** A project whose directory goes after the root page stops linking it. */
interface ProjectGone {
  readonly name: string;
  /** Its last record: only the files it lists are removed (ownership.ts removeOwnedProject). */
  readonly record: ProjectRecord | null;
  /** Its record goes too (a project no longer mirrored); false: it stays (no file selected, still tracked). */
  readonly isForgotten: boolean;
}

interface RunPublication {
  /** The root page's entries, or null when it is left as it is. */
  readonly root: readonly RootEntry[] | null;
  readonly gone?: readonly ProjectGone[];
  /**
   * Runs after the directory removals, told how many recorded files they removed, and before the state
   * (find_links_dir follows the tree there).
   */
  readonly beforeState?: (filesRemoved: number) => Promise<void>;
  /** state.json, last, made once everything before it is done (it says what the run did); null: left alone. */
  readonly state: (() => MirrorState) | null;
}

export interface Publisher {
  /** One project, in order: files, HTML page, JSON page, forgotten files, record, removals. Returns removals done. */
  project(publication: ProjectPublication): Promise<number>;
  /** A project's pages alone, from its record (`reindex`, `verify --repair`): HTML, then JSON. */
  pages(record: ProjectRecord): Promise<void>;
  /** The end of a run, in order: root page (HTML, then JSON), gone projects, `beforeState`, state. */
  finish(run: RunPublication): Promise<void>;
}

export interface PublisherOptions {
  /** create_indexes: off, no page is written (records and state still are). */
  readonly createIndexes: boolean;
  /** base_url of the root page's links, or null for relative ones. */
  readonly baseUrl: URL | null;
  readonly log: Logger;
}

/**
 * Removes a mirrored file, its `.metadata` and its replaced-file directory once empty; false if it was gone.
 * Not durable by itself: the caller settles the directory once its removals are done.
 */
async function removeStoredFile(storage: Storage, project: string, file: FileRef): Promise<boolean> {
  const key = fileKey(project, file);
  if (file.isMetadataOnly === true) return storage.remove(`${key}.metadata`);
  const isRemoved = await storage.remove(key);
  await storage.remove(`${key}.metadata`);
  if (file.path !== undefined) await storage.removeDir(parentKey(key)); // not empty: it stays
  return isRemoved;
}

/** The publisher of the tree in `storage`. */
export function createPublisher(storage: Storage, options: PublisherOptions): Publisher {
  const pages = async (record: ProjectRecord): Promise<void> => {
    if (!options.createIndexes) return;
    const [html, json] = projectPageKeys(record.name);
    // HTML first: a directory must never offer JSON without HTML (docs/protocol.md §2). Both pages are
    // fsynced; their directory once, after the JSON page: that one fsync makes both renames durable, as it
    // does the files' links made in the same directory before them (the record, in another directory, is
    // written only after it).
    await storage.put(html, renderProjectHtml(record), { durability: 'data' });
    await storage.put(json, renderProjectJson(record));
  };
  return {
    async project({ record, place, forgotten = [], removals = [] }) {
      if (place !== undefined) await place();
      await pages(record);
      for (const file of forgotten) await removeStoredFile(storage, record.name, file);
      await writeRecord(storage, record);
      let removed = 0;
      for (const file of removals) if (await removeStoredFile(storage, record.name, file)) removed++;
      if (removed > 0) await storage.settle(projectKey(record.name));
      return removed;
    },
    pages,
    async finish({ root, gone = [], beforeState, state }) {
      if (root !== null && options.createIndexes) {
        const [html, json] = ROOT_PAGE_KEYS;
        await storage.put(html, renderRootHtml(root, options.baseUrl));
        await storage.put(json, renderRootJson(root));
      }
      let removed = 0;
      // Only what the records say we wrote goes, never through a symlink (ownership.ts).
      for (const { name, record, isForgotten } of gone) {
        removed += await removeOwnedProject(storage, name, record, options.log);
        if (isForgotten) await removeRecord(storage, name);
      }
      await beforeState?.(removed);
      if (state !== null) await writeState(storage, state());
    },
  };
}
