// What in the mirror root is pypimirror's (issue #10 "Ownership"): the root itself (refused when it is a system
// directory, not a directory, or holds what pypimirror did not write, unless adopted with `init --adopt`), each
// project directory (a symlink, or one that holds foreign entries and has no record, is left alone), and the
// files a project's record lists, the only ones its removal deletes. Nothing here follows a symlink inside
// the tree.
import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { ConfigError, wrongStateShape } from '../errors.js';
import type { Logger } from '../log.js';
import {
  fileKey,
  joinKey,
  parentKey,
  projectKey,
  RECORDS_DIR_KEY,
  ROOT_MARKER_KEY,
  STATE_KEY,
} from '../storage/keys.js';
import type { EntryKind, Storage } from '../storage/types.js';
import { isNotFound } from '../util/fs.js';
import {
  INDEX_HTML,
  INDEX_JSON,
  isSafeLocalPath,
  isSystemDirectory,
  isTempName,
  STATE_DIR,
} from '../model/layout.js';
import type { ProjectRecord } from '../model/record.js';
import { readStoredJson, writeRecord } from './state.js';

/** `<root>/.pypimirror/root.json` */
export interface RootMarker {
  readonly formatVersion: 1;
  readonly createdAt: string;
  /** Entries of the root that were there when it was adopted: never written, never removed. */
  readonly foreign: readonly string[];
}

/** What the root is, as found (nothing is changed to find out). */
export type RootVerdict =
  | { readonly kind: 'missing' } // created by the first sync, or by `init`
  | { readonly kind: 'empty' } // an empty directory (or one holding only our lock): ours once claimed
  | { readonly kind: 'ours'; readonly marker: RootMarker | null } // marker null: made by an earlier version
  | { readonly kind: 'foreign'; readonly entries: readonly string[] } // non-empty, not ours: refused unless adopted
  | { readonly kind: 'refused'; readonly problem: string }; // never a root

/** The names the run lock may have at the top of the root (the lock, its `.owner` and `.acquiring`). */
function lockNamesIn(root: string | null, lockFile: string): Set<string> {
  if (root === null || resolve(dirname(lockFile)) !== resolve(root)) return new Set();
  const lock = basename(lockFile);
  return new Set([lock, `${lock}.owner`, `${lock}.acquiring`]);
}

export function describeKind(info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link';
  if (info.isFile()) return 'a regular file';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isFIFO()) return 'a named pipe';
  if (info.isSocket()) return 'a socket';
  return 'not a directory';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `path` with every symlink resolved, as far as it exists (the rest appended as written). */
async function resolveExisting(path: string): Promise<string> {
  const rest: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(await realpath(at), ...rest.reverse());
    } catch (err) {
      const parent = dirname(at);
      if (parent === at || (!isNotFound(err) && (err as { code?: unknown }).code !== 'ENOTDIR')) throw err;
      rest.push(basename(at));
      at = parent;
    }
  }
}

async function readMarker(storage: Storage): Promise<RootMarker | null> {
  const json = (await readStoredJson(storage, ROOT_MARKER_KEY)) as Partial<RootMarker> | null;
  if (json === null) return null;
  if (json.formatVersion !== 1 || !Array.isArray(json.foreign)) {
    throw wrongStateShape(storage.describe(ROOT_MARKER_KEY), 'a pypimirror root marker (formatVersion 1)');
  }
  return { formatVersion: 1, createdAt: String(json.createdAt), foreign: json.foreign.map(String) };
}

/** What the entry `kind` at `key` is, in words (on the local file system: what lstat says). */
async function describeEntry(storage: Storage, key: string, kind: EntryKind): Promise<string> {
  const root = storage.localRoot();
  if (root !== null) {
    const info = await lstat(key === '' ? root : join(root, key)).catch(() => null);
    if (info !== null) return describeKind(info);
  }
  return kind === 'file' ? 'a regular file' : 'not a directory';
}

/** On the local file system: why the root directory is refused, or 'missing', or null when it may be used. */
async function inspectLocalRoot(root: string): Promise<RootVerdict | null> {
  const absolute = resolve(root);
  let real: string;
  try {
    real = await resolveExisting(absolute);
  } catch (err) {
    return { kind: 'refused', problem: `cannot be resolved (${errorText(err)})` };
  }
  if (isSystemDirectory(absolute) || isSystemDirectory(real)) {
    const shown = real === absolute ? '' : ` (it resolves to ${real})`;
    return { kind: 'refused', problem: `is a system directory${shown}` };
  }
  let info;
  try {
    info = await stat(absolute);
  } catch (err) {
    if (isNotFound(err)) return { kind: 'missing' };
    return { kind: 'refused', problem: `cannot be read (${errorText(err)})` };
  }
  if (!info.isDirectory()) return { kind: 'refused', problem: `is ${describeKind(info)}, not a directory` };
  return null;
}

/** Finds out what the tree's root is, changing nothing. */
export async function inspectRoot(storage: Storage, lockFile: string): Promise<RootVerdict> {
  const root = storage.localRoot();
  if (root !== null) {
    const verdict = await inspectLocalRoot(root);
    if (verdict !== null) return verdict;
  }
  for (const dir of [STATE_DIR, RECORDS_DIR_KEY]) {
    const kind = await storage.entryAt(dir);
    if (kind === null) break;
    if (kind !== 'dir') {
      return {
        kind: 'refused',
        problem: `holds ${storage.describe(dir)}, which is ${await describeEntry(storage, dir, kind)}: pypimirror keeps its state there and never writes through a link`,
      };
    }
  }
  const owned = await ownedVerdict(storage);
  if (owned !== null) return owned;
  const lockNames = lockNamesIn(root, lockFile);
  const listing = await storage.list('');
  const entries = [...listing.files, ...listing.dirs, ...listing.others]
    .filter((name) => name !== STATE_DIR && !lockNames.has(name) && !isTempName(name))
    .sort();
  if (entries.length === 0) return { kind: 'empty' };
  // Another process may have claimed the root since the marker was looked for, and written into it (a claim
  // writes the marker before anything else): the entries are then its own.
  return (await ownedVerdict(storage)) ?? { kind: 'foreign', entries };
}

/** 'ours' when the marker (or, from an earlier version, state.json) is there, 'refused' when the marker is unreadable, else null. */
async function ownedVerdict(storage: Storage): Promise<RootVerdict | null> {
  try {
    const marker = await readMarker(storage);
    if (marker !== null) return { kind: 'ours', marker };
  } catch (err) {
    return {
      kind: 'refused',
      problem: `has an unreadable ${storage.describe(ROOT_MARKER_KEY)} (${errorText(err)})`,
    };
  }
  return (await storage.entryAt(STATE_KEY)) !== null ? { kind: 'ours', marker: null } : null;
}

export function listSome(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** The config error (exit 2) for a directory the config names that pypimirror may not write into. */
export function directoryError(cfg: Config, key: string, dir: string, problem: string): ConfigError {
  return new ConfigError('CONFIG_INVALID', cfg.file, [
    { file: cfg.file, line: null, section: 'mirror', key, value: dir, expected: problem },
  ]);
}

/** The config error for a root that is refused (exit 2), naming the path, what it is and what to do. */
export function rootError(cfg: Config, problem: string): ConfigError {
  return directoryError(cfg, 'mirror_file_path', cfg.mirrorRoot, problem);
}

/** Why `verdict` refuses the root (for rootError), or null when pypimirror may write there. */
export function describeRefusal(verdict: RootVerdict, configFile: string): string | null {
  if (verdict.kind === 'refused')
    return `${verdict.problem}; expected a directory of the mirror's own, like /srv/pypimirror`;
  if (verdict.kind !== 'foreign') return null;
  return (
    `is a non-empty directory that pypimirror did not write (it holds ${listSome(verdict.entries)}); ` +
    `expected a new or empty directory, or run "pypimirror init ${configFile} --adopt" to mirror into it ` +
    '(what is there now is then never touched)'
  );
}

async function writeMarker(storage: Storage, foreign: readonly string[], now: Date): Promise<RootMarker> {
  const marker: RootMarker = { formatVersion: 1, createdAt: now.toISOString(), foreign: [...foreign] };
  await storage.put(ROOT_MARKER_KEY, `${JSON.stringify(marker, null, 1)}\n`);
  return marker;
}

/**
 * Makes sure the root is pypimirror's before a command writes into it: a missing root is created, an empty
 * one (or one made by an earlier version) gets its marker; anything else throws rootError (exit 2).
 * Returns the marker, whose `foreign` entries the run must leave alone.
 */
export async function claimRoot(cfg: Config, storage: Storage, now: Date = new Date()): Promise<RootMarker> {
  const verdict = await inspectRoot(storage, cfg.lockFile);
  const refusal = describeRefusal(verdict, cfg.file);
  if (refusal !== null) throw rootError(cfg, refusal);
  if (verdict.kind === 'ours' && verdict.marker !== null) return verdict.marker;
  try {
    return await writeMarker(storage, [], now);
  } catch (err) {
    // Claimed by another process meanwhile: `run` and `sync` claim before they take the run lock, and the
    // lock's holder, which claimed first, sweeps the temp files of .pypimirror/ (this write's too). Its marker
    // says what this one would.
    const marker = await readMarker(storage).catch(() => null);
    if (marker !== null) return marker;
    throw err;
  }
}

/** For a run that changes nothing (`sync --dry-run`): the foreign entries of a root that is ours; throws rootError if not. */
export async function foreignOfRoot(cfg: Config, storage: Storage): Promise<readonly string[]> {
  const verdict = await inspectRoot(storage, cfg.lockFile);
  const refusal = describeRefusal(verdict, cfg.file);
  if (refusal !== null) throw rootError(cfg, refusal);
  return verdict.kind === 'ours' ? (verdict.marker?.foreign ?? []) : [];
}

/** Foreign root entries that pypimirror itself writes at the top of the root: adopting would overwrite them. */
const ROOT_PAGES: readonly string[] = [INDEX_HTML, INDEX_JSON];

/**
 * `pypimirror init CONFIG [--adopt]`: creates the root and its marker. With `adopt`, a non-empty directory is
 * accepted and what it holds is recorded as foreign (never touched). Returns what was done, for the log.
 */
export async function initRoot(
  cfg: Config,
  storage: Storage,
  adopt: boolean,
  now: Date = new Date(),
): Promise<string> {
  const root = storage.where;
  const verdict = await inspectRoot(storage, cfg.lockFile);
  switch (verdict.kind) {
    case 'refused':
      throw rootError(cfg, describeRefusal(verdict, cfg.file) ?? verdict.problem);
    case 'ours':
      if (verdict.marker === null) await writeMarker(storage, [], now);
      return `${root} is already a pypimirror mirror; nothing to do`;
    case 'missing':
    case 'empty':
      await writeMarker(storage, [], now);
      return `${root} is ready: the first sync mirrors into it`;
    case 'foreign': {
      if (!adopt) throw rootError(cfg, describeRefusal(verdict, cfg.file) ?? '');
      const clashes = verdict.entries.filter((e) => ROOT_PAGES.includes(e));
      if (clashes.length > 0) {
        const what = `holds ${clashes.join(' and ')}, which pypimirror writes as the root page`;
        throw rootError(cfg, `${what}; expected them moved away first, or another directory`);
      }
      await writeMarker(storage, verdict.entries, now);
      return (
        `${root} adopted: ${verdict.entries.length} entries that were there (${listSome(verdict.entries)}) ` +
        'are recorded in .pypimirror/root.json and never touched'
      );
    }
  }
}

/**
 * Why the project directory `name` must be left alone this run, or null when pypimirror may write into it:
 * it was there before the root was adopted; it is a symlink or not a directory; or it holds entries pypimirror
 * did not write while no record says it is ours.
 */
export async function whyProjectDirIsNotOurs(
  storage: Storage,
  name: string,
  hasRecord: boolean,
  foreign: ReadonlySet<string>,
): Promise<string | null> {
  const dir = projectKey(name);
  const shown = storage.describe(dir);
  if (foreign.has(name)) return `${shown} was in the root before pypimirror adopted it, and is never touched`;
  const kind = await storage.entryAt(dir);
  if (kind === null) return null;
  if (kind !== 'dir') {
    const what = await describeEntry(storage, dir, kind);
    return `${shown} is ${what}, not a directory; pypimirror never writes or removes through it`;
  }
  if (hasRecord) return null;
  const listing = await storage.list(dir);
  const entries = [...listing.files, ...listing.dirs, ...listing.others].filter((n) => !isTempName(n));
  if (entries.length === 0) return null;
  return `${shown} holds entries pypimirror did not write (${listSome(entries.sort())}) and has no record; it is left alone`;
}

/**
 * Writes a new project's first record (no files yet) before its directory is created, so that a directory
 * without a record is never one pypimirror wrote. Not fsynced (it would hold back the project's first
 * downloads): a killed run still leaves it; the project's full record, written durably, follows.
 */
export async function claimProject(storage: Storage, record: ProjectRecord): Promise<void> {
  await writeRecord(storage, record, 'none');
}

/** The names in a project directory that `record` says pypimirror wrote: its files and their `.metadata`. */
function recordedNames(record: ProjectRecord): string[] {
  return record.files.flatMap((f) => [f.filename, `${f.filename}.metadata`]);
}

/**
 * Removes the files a record keeps in `<16 hex>/` directories (replaced files, with their `.metadata` and our
 * temp files there), then each such directory once empty. A directory that is a symlink is left alone.
 */
async function removeReplacedFiles(
  storage: Storage,
  name: string,
  record: ProjectRecord | null,
): Promise<number> {
  let removed = 0;
  for (const file of record?.files ?? []) {
    if (file.path === undefined || !isSafeLocalPath(file.filename, file.path)) continue;
    const key = fileKey(name, file);
    const sub = parentKey(key);
    if ((await storage.entryAt(sub)) !== 'dir') continue; // gone, or not ours to enter
    if (await storage.remove(key)) removed++;
    await storage.remove(`${key}.metadata`);
    await storage.sweep(sub);
    await storage.removeDir(sub); // not empty: foreign entries stay, and so does the directory
  }
  return removed;
}

/**
 * Removes a project's directory by its record: the files the record lists (with their `.metadata`), our pages
 * and temp files, then the directory if nothing else is left. Never through a symlink; never `rm -rf`.
 * Returns how many recorded files were removed.
 */
export async function removeOwnedProject(
  storage: Storage,
  name: string,
  record: ProjectRecord | null,
  log: Logger,
): Promise<number> {
  const dir = projectKey(name);
  const kind = await storage.entryAt(dir);
  if (kind === null) return 0;
  if (kind !== 'dir') {
    log.warn('project directory left alone: not a directory pypimirror wrote', {
      project: name,
      path: storage.describe(dir),
      is: await describeEntry(storage, dir, kind),
    });
    return 0;
  }
  const ours = new Set([...(record === null ? [] : recordedNames(record)), INDEX_HTML, INDEX_JSON]);
  const files = new Set(record?.files.filter((f) => f.path === undefined).map((f) => f.filename));
  let removed = await removeReplacedFiles(storage, name, record);
  for (const entry of (await storage.list(dir)).files) {
    if (!(ours.has(entry) || isTempName(entry))) continue;
    if ((await storage.remove(joinKey(dir, entry))) && files.has(entry)) removed++;
  }
  if (!(await storage.removeDir(dir))) {
    const left = await storage.list(dir);
    log.warn('project directory kept: it holds entries pypimirror did not write', {
      project: name,
      path: storage.describe(dir),
      entries: listSome([...left.files, ...left.dirs, ...left.others].sort()),
    });
  }
  return removed;
}

/**
 * The mirror's local root, which find_links_dir hard-links from; null on another storage when the key is
 * not set. A find_links_dir with a storage that is not on this machine is a ConfigError (exit 2).
 */
export function localRootFor(cfg: Config, storage: Storage): string | null {
  const root = storage.localRoot();
  if (root !== null || cfg.findLinksDir === null) return root;
  throw directoryError(
    cfg,
    'find_links_dir',
    cfg.findLinksDir,
    `unset, or the mirror on this machine's file system: the flat directory hard-links the tree's files, and the mirror is in ${storage.where}`,
  );
}
