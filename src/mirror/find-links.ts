// The flat directory for `pip install --no-index --find-links DIR` (issue #11 part 4, `find_links_dir`): every
// distribution file the records list, under its own name, as a hard link to the tree's file (a copy when the
// directory is on another file system). It follows the tree in the same run: a sync brings the directory in
// line with the records of the projects it touched, once their files are published and removed.
// Ownership as for the root (ownership.ts): the directory is pypimirror's only when it created it or found it
// empty, and `<root>/.pypimirror/find-links.json` records every name pypimirror put there; nothing else in it
// is ever overwritten or removed. `<root>/.pypimirror/find-links.dirty` says a run changed the tree without
// bringing the directory along (a crash, a kill, `verify --repair`, the key unset for a while): the next run
// then compares every record with the directory.
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, lstat, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { StoreError, wrongStateShape } from '../errors.js';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { readStateJson } from './state.js';
import {
  ensureDir,
  FILE_MODE,
  isNotFound,
  removeTempFiles,
  syncDir,
  tempPathFor,
  writeFileAtomic,
} from '../util/fs.js';
import { FIND_LINKS_DIRTY, FIND_LINKS_RECORD, isTempName, stateDir } from '../model/layout.js';
import { normalizeName } from '../model/names.js';
import { describeKind, directoryError, listSome, localRootFor } from './ownership.js';
import { renameNoReplace } from '../storage/local.js';
import { listRecords, readRecord } from './state.js';
import { fileKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';

/** One name pypimirror put in the flat directory. */
export interface FlatEntry {
  /** The project whose record lists the file. */
  readonly project: string;
  /** sha256 of the bytes (the tree file's, from its record). */
  readonly sha256: string;
  readonly size: number;
  /** A copy (the directory is on another file system), not a hard link to the tree's file. */
  readonly isCopy?: true;
}

/** `<root>/.pypimirror/find-links.json` */
export interface FindLinksRecord {
  readonly formatVersion: 1;
  /** The directory (absolute, as the config names it): another directory is not the one recorded here. */
  readonly dir: string;
  readonly createdAt: string;
  /** File name → what pypimirror put there under it. */
  readonly files: Readonly<Record<string, FlatEntry>>;
}

/** How a file gets into the flat directory; tests inject a `link` that fails EXDEV. */
export interface FlatOps {
  link(existing: string, newPath: string): Promise<void>;
  copyFile(src: string, dest: string, mode: number): Promise<void>;
}

const REAL_OPS: FlatOps = { link, copyFile };

/** Errors of link(2) that a copy gets round: another file system, no hard links there, too many links. */
const LINK_REFUSED: ReadonlySet<string> = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP']);

export function findLinksRecordPath(root: string): string {
  return join(stateDir(root), FIND_LINKS_RECORD);
}

function dirtyPath(root: string): string {
  return join(stateDir(root), FIND_LINKS_DIRTY);
}

function codeOf(err: unknown): string {
  return String((err as { code?: unknown }).code ?? '');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function readFindLinksRecord(root: string): Promise<FindLinksRecord | null> {
  const path = findLinksRecordPath(root);
  const json = (await readStateJson(path)) as Partial<FindLinksRecord> | null;
  if (json === null) return null;
  if (json.formatVersion !== 1 || typeof json.dir !== 'string' || typeof json.files !== 'object') {
    throw wrongStateShape(path, 'a pypimirror find_links_dir record (formatVersion 1)');
  }
  return json as FindLinksRecord;
}

/** Writes the record (atomically, durably). */
export async function writeFindLinksRecord(root: string, record: FindLinksRecord): Promise<void> {
  await writeFileAtomic(findLinksRecordPath(root), `${JSON.stringify(record)}\n`);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
  );
}

/** Marks the flat directory as behind the tree: the next update compares every record with it. */
export async function markFindLinksDirty(root: string): Promise<void> {
  if (!(await exists(dirtyPath(root)))) await writeFileAtomic(dirtyPath(root), '');
}

/**
 * Makes sure `dir` is the flat directory's and returns its record: the recorded one, or a new one for a
 * directory that is missing (created) or empty. Anything else is a ConfigError naming find_links_dir (exit 2).
 */
async function claimFindLinksDir(
  cfg: Config,
  root: string,
  dir: string,
  now: Date,
): Promise<FindLinksRecord> {
  const recorded = await readFindLinksRecord(root);
  const refuse = (problem: string): never => {
    throw directoryError(cfg, 'find_links_dir', dir, problem);
  };
  let info = null;
  try {
    info = await stat(dir);
  } catch (err) {
    if (!isNotFound(err)) refuse(`cannot be read (${errorText(err)})`);
  }
  if (info !== null && !info.isDirectory()) {
    refuse(`is ${describeKind(info)}, not a directory; expected a directory of its own for --find-links`);
  }
  if (recorded?.dir === dir) {
    await ensureDir(dir);
    // Removed by hand: filled again from every record.
    if (info === null && Object.keys(recorded.files).length > 0) await markFindLinksDirty(root);
    return recorded;
  }
  if (info !== null) {
    const entries = (await readdir(dir)).filter((n) => !isTempName(n)).sort();
    if (entries.length > 0) {
      refuse(
        `is a non-empty directory that pypimirror did not fill (it holds ${listSome(entries)}); ` +
          'expected a new or empty directory, which pypimirror then keeps',
      );
    }
  }
  await ensureDir(dir);
  // A directory recorded before (find_links_dir changed) is left as it is: only the new one is ours now.
  const record: FindLinksRecord = { formatVersion: 1, dir, createdAt: now.toISOString(), files: {} };
  await writeFindLinksRecord(root, record);
  await markFindLinksDirty(root);
  return record;
}

/** What one update did. */
interface FlatChanges {
  added: number;
  replaced: number;
  removed: number;
  /** Names a file pypimirror did not put there holds, or that two projects claim. */
  clashes: number;
  failed: number;
}

/** The flat directory of one run. */
export interface FindLinks {
  readonly dir: string;
  /** Before the run changes the tree: should the run not finish, the next one compares everything. */
  markDirty(): Promise<void>;
  /**
   * Brings the directory in line with the records of `touched` (every record, when the directory is new or
   * behind): adds what they list, replaces what is not their bytes, removes what they no longer list.
   */
  update(touched: ReadonlySet<string>): Promise<FlatChanges>;
}

/**
 * The run's flat directory, claimed before anything is fetched (a directory pypimirror may not fill stops
 * the run with a ConfigError), or null when find_links_dir is not set: then a directory recorded before is
 * left alone, and marked behind, so that setting the key again brings it up to date.
 */
export async function openFindLinks(
  cfg: Config,
  storage: Storage,
  log: Logger,
  now: Date,
  ops: FlatOps = REAL_OPS,
): Promise<FindLinks | null> {
  const dir = cfg.findLinksDir;
  const root = localRootFor(cfg, storage);
  if (root === null) return null;
  if (dir === null) {
    if (await exists(findLinksRecordPath(root))) await markFindLinksDirty(root);
    return null;
  }
  let record = await claimFindLinksDir(cfg, root, dir, now);
  // Behind since an earlier run (or new): this run compares every record. A marker this run writes
  // itself (markDirty) only covers a kill before update; update removes it.
  const isBehind = await exists(dirtyPath(root));
  let isMarked = isBehind;
  return {
    dir,
    async markDirty() {
      if (!isMarked) await markFindLinksDirty(root);
      isMarked = true;
    },
    async update(touched) {
      const scope = isBehind ? new Set(await listRecords(storage)) : touched;
      if (scope.size === 0) {
        if (isMarked) await unlink(dirtyPath(root)).catch(() => {});
        return { added: 0, replaced: 0, removed: 0, clashes: 0, failed: 0 };
      }
      await removeTempFiles(dir);
      const result = await reconcile({ root, storage, dir, log, ops }, record, scope, isBehind);
      record = result.record;
      const { added, replaced, removed, failed } = result.changes;
      if (added + replaced + removed > 0) {
        await syncDir(dir);
        log.info('find_links_dir updated', { dir, added, replaced, removed });
      }
      if (result.isChanged) await writeFindLinksRecord(root, record);
      if (failed > 0) await markFindLinksDirty(root);
      else if (isMarked) await unlink(dirtyPath(root)).catch(() => {});
      return result.changes;
    },
  };
}

interface FlatContext {
  readonly root: string;
  readonly storage: Storage;
  readonly dir: string;
  readonly log: Logger;
  readonly ops: FlatOps;
}

/** A file the records want in the flat directory. */
interface Wanted extends FlatEntry {
  /** The tree's file. */
  readonly source: string;
}

/** How well `project` owns `filename`: the length of its name when the file name starts with it, else -1. */
function ownership(project: string, filename: string): number {
  return normalizeName(filename).startsWith(`${project}-`) ? project.length : -1;
}

/**
 * The files the records of `scope` list, by name. A name two projects list (which PyPI's naming prevents)
 * goes to the one that has it already, else to the one whose name the file name starts with, else to the
 * first by name; a name held by a project outside `scope` stays with it, unless `scope` is every record
 * (then that project is gone). Each loser is one warning.
 */
async function collectWanted(
  ctx: FlatContext,
  current: FindLinksRecord['files'],
  scope: ReadonlySet<string>,
  isEverything: boolean,
): Promise<{ wanted: Map<string, Wanted>; clashes: number }> {
  const candidates = new Map<string, Wanted[]>();
  for (const project of [...scope].sort()) {
    const record = await readRecord(ctx.storage, project);
    for (const file of record?.files ?? []) {
      const source = join(ctx.root, fileKey(project, file));
      const list = candidates.get(file.filename) ?? [];
      list.push({ project, sha256: file.sha256, size: file.size, source });
      candidates.set(file.filename, list);
    }
  }
  const wanted = new Map<string, Wanted>();
  let clashes = 0;
  for (const [file, list] of candidates) {
    const holder = current[file]?.project;
    const isHeldOutside = holder !== undefined && !scope.has(holder) && !isEverything;
    const chosen = isHeldOutside
      ? undefined
      : (list.find((w) => w.project === holder) ??
        list.reduce((best, w) => (ownership(w.project, file) > ownership(best.project, file) ? w : best)));
    if (chosen !== undefined) wanted.set(file, chosen);
    for (const loser of list) {
      if (loser === chosen) continue;
      clashes++;
      ctx.log.warn('find_links_dir: two projects list a file of the same name; one keeps it', {
        file,
        project: loser.project,
        heldBy: chosen?.project ?? holder,
      });
    }
  }
  return { wanted, clashes };
}

/** Is the flat entry at `path` (ours, as `entry`) the bytes `want` names? A link: the same inode. */
async function isInPlace(path: string, entry: FlatEntry, want: Wanted): Promise<boolean> {
  const info = await lstat(path).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
  if (info === null || !info.isFile()) return false;
  if (entry.isCopy === true) return entry.sha256 === want.sha256 && info.size === want.size;
  const source = await lstat(want.source).catch(() => null);
  return source !== null && source.ino === info.ino && source.dev === info.dev;
}

/**
 * Puts `want.source` at `path`: a hard link, or a copy when the file system refuses one. With `isReplacing`
 * (the name is ours) the new file is renamed over it; otherwise the name must be free, and a file that
 * appeared meanwhile is never overwritten (EEXIST). Returns whether it is a copy.
 */
async function place(ctx: FlatContext, want: Wanted, path: string, isReplacing: boolean): Promise<boolean> {
  const temp = tempPathFor(path);
  let isCopy = false;
  try {
    await ctx.ops.link(want.source, isReplacing ? temp : path);
  } catch (err) {
    if (!LINK_REFUSED.has(codeOf(err))) throw err;
    isCopy = true;
    await ctx.ops.copyFile(want.source, temp, fsConstants.COPYFILE_EXCL);
    try {
      const handle = await open(temp, 'r+');
      try {
        await handle.chmod(FILE_MODE);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Never over a name that is taken (STORE_EXISTS), even where the file system has no hard links.
      if (!isReplacing) await renameNoReplace(temp, path);
    } catch (copyErr) {
      await unlink(temp).catch(() => {});
      throw copyErr;
    }
  }
  if (isReplacing) {
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }
  return isCopy;
}

/** Removes a name pypimirror put there, if it is still a file (a directory or link in its place stays). */
async function removeEntry(ctx: FlatContext, name: string): Promise<boolean> {
  const path = join(ctx.dir, name);
  const info = await lstat(path).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
  if (info === null) return false;
  if (!info.isFile()) {
    ctx.log.warn('find_links_dir: left alone, it is not a file pypimirror put there', {
      path,
      is: describeKind(info),
    });
    return false;
  }
  await unlink(path);
  return true;
}

/**
 * The flat directory brought in line with the records of `scope`: what the run must add, replace and remove,
 * done in that order after the record says which names are ours (so a crash never leaves a name of ours
 * unrecorded). Returns the new record.
 */
async function reconcile(
  ctx: FlatContext,
  record: FindLinksRecord,
  scope: ReadonlySet<string>,
  isEverything: boolean,
): Promise<{ record: FindLinksRecord; changes: FlatChanges; isChanged: boolean }> {
  const current = record.files;
  const { wanted, clashes } = await collectWanted(ctx, current, scope, isEverything);
  const changes: FlatChanges = { added: 0, replaced: 0, removed: 0, clashes, failed: 0 };
  const next = new Map(Object.entries(current));
  let isChanged = false;
  const fail = (name: string, err: unknown): void => {
    changes.failed++;
    ctx.log.error('find_links_dir: a file could not be put in place or removed; retried next run', {
      path: join(ctx.dir, name),
      error: errorText(err),
    });
  };
  for (const [name, entry] of Object.entries(current)) {
    // A name still wanted is kept, or replaced below when another project has it now.
    if (!(isEverything || scope.has(entry.project)) || wanted.has(name)) continue;
    try {
      if (await removeEntry(ctx, name)) changes.removed++;
      next.delete(name);
      isChanged = true;
    } catch (err) {
      fail(name, err);
    }
  }
  const toPlace: [string, Wanted, boolean][] = [];
  for (const [name, want] of wanted) {
    const path = join(ctx.dir, name);
    const entry = current[name];
    if (entry !== undefined) {
      if (entry.project === want.project && (await isInPlace(path, entry, want))) continue;
      toPlace.push([name, want, await exists(path)]);
    } else if (await exists(path)) {
      changes.clashes++;
      ctx.log.warn('find_links_dir: a file pypimirror did not put there has the name; it stays', {
        path,
        project: want.project,
      });
    } else toPlace.push([name, want, false]);
  }
  if (toPlace.length > 0) {
    // The names are recorded as ours before they are written: a crash leaves no unrecorded name of ours.
    for (const [name, want] of toPlace) next.set(name, withoutSource(want, next.get(name)?.isCopy === true));
    await writeFindLinksRecord(ctx.root, { ...record, files: Object.fromEntries(next) });
    isChanged = true;
  }
  for (const [name, want, isReplacing] of toPlace) {
    try {
      const isCopy = await place(ctx, want, join(ctx.dir, name), isReplacing);
      next.set(name, withoutSource(want, isCopy));
      if (isReplacing) changes.replaced++;
      else changes.added++;
    } catch (err) {
      if (current[name] === undefined) next.delete(name); // never placed: not ours
      if (codeOf(err) === 'EEXIST' || (err instanceof StoreError && err.code === 'STORE_EXISTS')) {
        changes.clashes++;
        ctx.log.warn('find_links_dir: a file appeared under the name meanwhile; it stays', {
          path: join(ctx.dir, name),
        });
        next.delete(name); // someone else's now
      } else fail(name, err);
    }
  }
  const files = Object.fromEntries([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { record: { ...record, files }, changes, isChanged };
}

function withoutSource(want: Wanted, isCopy: boolean): FlatEntry {
  const { project, sha256, size } = want;
  return isCopy ? { project, sha256, size, isCopy: true } : { project, sha256, size };
}
