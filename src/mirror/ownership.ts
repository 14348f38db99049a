// What in the mirror root is pypimirror's (issue #10 "Ownership"): the root itself (refused when it is a system
// directory, not a directory, or holds what pypimirror did not write, unless adopted with `init --adopt`), each
// project directory (a symlink, or one that holds foreign entries and has no record, is left alone), and the
// files a project's record lists, the only ones its removal deletes. Nothing here follows a symlink inside
// the tree.
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { ConfigError, wrongStateShape } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDir, isNotFound, writeFileAtomic } from '../util/fs.js';
import {
  INDEX_HTML,
  INDEX_JSON,
  isSafeLocalPath,
  isSystemDirectory,
  isTempName,
  projectDir,
  recordPath,
  rootMarkerPath,
  STATE_DIR,
  stateDir,
} from '../model/layout.js';
import type { ProjectRecord } from '../model/record.js';
import { readStateJson } from './state.js';

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
function lockNamesIn(root: string, lockFile: string): Set<string> {
  if (resolve(dirname(lockFile)) !== resolve(root)) return new Set();
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

async function readMarker(root: string): Promise<RootMarker | null> {
  const json = (await readStateJson(rootMarkerPath(root))) as Partial<RootMarker> | null;
  if (json === null) return null;
  if (json.formatVersion !== 1 || !Array.isArray(json.foreign)) {
    throw wrongStateShape(rootMarkerPath(root), 'a pypimirror root marker (formatVersion 1)');
  }
  return { formatVersion: 1, createdAt: String(json.createdAt), foreign: json.foreign.map(String) };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    },
  );
}

/** Finds out what `root` is, changing nothing. */
export async function inspectRoot(root: string, lockFile: string): Promise<RootVerdict> {
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
  const state = stateDir(absolute);
  for (const dir of [state, join(state, 'projects')]) {
    const dirInfo = await lstat(dir).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
    if (dirInfo === null) break;
    if (!dirInfo.isDirectory()) {
      return {
        kind: 'refused',
        problem: `holds ${dir}, which is ${describeKind(dirInfo)}: pypimirror keeps its state there and never writes through a link`,
      };
    }
  }
  try {
    const marker = await readMarker(absolute);
    if (marker !== null) return { kind: 'ours', marker };
  } catch (err) {
    return { kind: 'refused', problem: `has an unreadable ${rootMarkerPath(absolute)} (${errorText(err)})` };
  }
  if (await exists(join(state, 'state.json'))) return { kind: 'ours', marker: null };
  const lockNames = lockNamesIn(absolute, lockFile);
  const entries = (await readdir(absolute))
    .filter((name) => name !== STATE_DIR && !lockNames.has(name) && !isTempName(name))
    .sort();
  return entries.length === 0 ? { kind: 'empty' } : { kind: 'foreign', entries };
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

async function writeMarker(root: string, foreign: readonly string[], now: Date): Promise<RootMarker> {
  const marker: RootMarker = { formatVersion: 1, createdAt: now.toISOString(), foreign: [...foreign] };
  await ensureDir(join(stateDir(root), 'projects'));
  await writeFileAtomic(rootMarkerPath(root), `${JSON.stringify(marker, null, 1)}\n`);
  return marker;
}

/**
 * Makes sure the root is pypimirror's before a command writes into it: a missing root is created, an empty
 * one (or one made by an earlier version) gets its marker; anything else throws rootError (exit 2).
 * Returns the marker, whose `foreign` entries the run must leave alone.
 */
export async function claimRoot(cfg: Config, now: Date = new Date()): Promise<RootMarker> {
  const root = cfg.mirrorRoot;
  const verdict = await inspectRoot(root, cfg.lockFile);
  const refusal = describeRefusal(verdict, cfg.file);
  if (refusal !== null) throw rootError(cfg, refusal);
  if (verdict.kind === 'ours' && verdict.marker !== null) {
    await ensureDir(join(stateDir(root), 'projects'));
    return verdict.marker;
  }
  return writeMarker(root, [], now);
}

/** For a run that changes nothing (`sync --dry-run`): the foreign entries of a root that is ours; throws rootError if not. */
export async function foreignOfRoot(cfg: Config): Promise<readonly string[]> {
  const verdict = await inspectRoot(cfg.mirrorRoot, cfg.lockFile);
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
export async function initRoot(cfg: Config, adopt: boolean, now: Date = new Date()): Promise<string> {
  const root = cfg.mirrorRoot;
  const verdict = await inspectRoot(root, cfg.lockFile);
  switch (verdict.kind) {
    case 'refused':
      throw rootError(cfg, describeRefusal(verdict, cfg.file) ?? verdict.problem);
    case 'ours':
      if (verdict.marker === null) await writeMarker(root, [], now);
      return `${root} is already a pypimirror mirror; nothing to do`;
    case 'missing':
    case 'empty':
      await writeMarker(root, [], now);
      return `${root} is ready: the first sync mirrors into it`;
    case 'foreign': {
      if (!adopt) throw rootError(cfg, describeRefusal(verdict, cfg.file) ?? '');
      const clashes = verdict.entries.filter((e) => ROOT_PAGES.includes(e));
      if (clashes.length > 0) {
        const what = `holds ${clashes.join(' and ')}, which pypimirror writes as the root page`;
        throw rootError(cfg, `${what}; expected them moved away first, or another directory`);
      }
      await writeMarker(root, verdict.entries, now);
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
  root: string,
  name: string,
  hasRecord: boolean,
  foreign: ReadonlySet<string>,
): Promise<string | null> {
  const dir = projectDir(root, name);
  if (foreign.has(name)) return `${dir} was in the root before pypimirror adopted it, and is never touched`;
  let info;
  try {
    info = await lstat(dir);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  if (!info.isDirectory()) {
    return `${dir} is ${describeKind(info)}, not a directory; pypimirror never writes or removes through it`;
  }
  if (hasRecord) return null;
  const entries = (await readdir(dir)).filter((n) => !isTempName(n));
  if (entries.length === 0) return null;
  return `${dir} holds entries pypimirror did not write (${listSome(entries.sort())}) and has no record; it is left alone`;
}

/**
 * Writes a new project's first record (no files yet) before its directory is created, so that a directory
 * without a record is never one pypimirror wrote. Not fsynced (it would hold back the project's first
 * downloads): a killed run still leaves it; the project's full record, written durably, follows.
 */
export async function claimProject(root: string, record: ProjectRecord): Promise<void> {
  await writeFileAtomic(recordPath(root, record.name), `${JSON.stringify(record)}\n`, { isDurable: false });
}

/** The names in a project directory that `record` says pypimirror wrote: its files and their `.metadata`. */
function recordedNames(record: ProjectRecord): string[] {
  return record.files.flatMap((f) => [f.filename, `${f.filename}.metadata`]);
}

/**
 * Removes the files a record keeps in `<16 hex>/` directories (replaced files, with their `.metadata` and our
 * temp files there), then each such directory once empty. A directory that is a symlink is left alone.
 */
async function removeReplacedFiles(dir: string, record: ProjectRecord | null): Promise<number> {
  let removed = 0;
  for (const file of record?.files ?? []) {
    if (file.path === undefined || !isSafeLocalPath(file.filename, file.path)) continue;
    const sub = join(dir, dirname(file.path));
    const info = await lstat(sub).catch(() => null);
    if (info === null || !info.isDirectory()) continue; // gone, or not ours to enter
    for (const name of [file.filename, `${file.filename}.metadata`]) {
      const isGone = await unlink(join(sub, name)).then(
        () => true,
        (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
      );
      if (isGone && name === file.filename) removed++;
    }
    for (const entry of await readdir(sub))
      if (isTempName(entry)) await unlink(join(sub, entry)).catch(() => {});
    await rmdir(sub).catch(() => {}); // not empty: foreign entries stay, and so does the directory
  }
  return removed;
}

/**
 * Removes a project's directory by its record: the files the record lists (with their `.metadata`), our pages
 * and temp files, then the directory if nothing else is left. Never through a symlink; never `rm -rf`.
 * Returns how many recorded files were removed.
 */
export async function removeOwnedProject(
  root: string,
  name: string,
  record: ProjectRecord | null,
  log: Logger,
): Promise<number> {
  const dir = projectDir(root, name);
  const info = await lstat(dir).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
  if (info === null) return 0;
  if (!info.isDirectory()) {
    log.warn('project directory left alone: not a directory pypimirror wrote', {
      project: name,
      path: dir,
      is: describeKind(info),
    });
    return 0;
  }
  const ours = new Set([...(record === null ? [] : recordedNames(record)), INDEX_HTML, INDEX_JSON]);
  const files = new Set(record?.files.filter((f) => f.path === undefined).map((f) => f.filename));
  let removed = await removeReplacedFiles(dir, record);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!(ours.has(entry.name) || isTempName(entry.name)) || entry.isDirectory()) continue;
    await unlink(join(dir, entry.name)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    if (files.has(entry.name)) removed++;
  }
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    const left = (await readdir(dir)).sort();
    log.warn('project directory kept: it holds entries pypimirror did not write', {
      project: name,
      path: dir,
      entries: listSome(left),
    });
  }
  return removed;
}
