// `verify` for the flat directory (find_links_dir, find-links.ts): every file the records list must be there
// under its name with the record's bytes (a hard link to the tree's file, or a copy with the same sha256),
// and every name pypimirror recorded there must still be a file of the tree. `verify --repair` removes the
// names of ours that are wrong and marks the directory behind, so the sync that follows puts them back.
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { isNotFound } from '../util/fs.js';
import { fileKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import {
  type FlatEntry,
  markFindLinksDirty,
  readFindLinksRecord,
  writeFindLinksRecord,
} from './find-links.js';
import { localRootFor } from './ownership.js';
import { listRecords, readRecord } from './state.js';

/** One disagreement between the flat directory and the tree. */
export interface FlatProblem {
  readonly project: string;
  /** The name in the flat directory. */
  readonly file: string;
  readonly detail: string;
}

type Hash = (path: string) => Promise<{ sha256: string; size: number } | null>;

async function lstatOrNull(path: string): Promise<Awaited<ReturnType<typeof lstat>> | null> {
  return lstat(path).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
}

/** Why the flat entry at `path` is not the tree file `source` with `sha256`, or null when it is. */
async function judgeEntry(
  path: string,
  source: string,
  sha256: string,
  entry: FlatEntry,
  hash: Hash,
): Promise<string | null> {
  const info = await lstatOrNull(path);
  if (info === null) return `${path} is missing`;
  if (!info.isFile()) return `${path} is not a regular file`;
  if (entry.isCopy !== true) {
    const tree = await lstatOrNull(source);
    if (tree !== null && tree.ino === info.ino && tree.dev === info.dev) return null;
  }
  const got = await hash(path);
  if (got === null) return `${path} is missing`;
  return got.sha256 === sha256 ? null : `${path} has sha256 ${got.sha256}, the tree's file ${sha256}`;
}

/** The flat directory against every record; no problems when find_links_dir is not set. */
export async function verifyFindLinks(
  cfg: Config,
  storage: Storage,
  hash: Hash,
  signal: AbortSignal,
): Promise<FlatProblem[]> {
  const dir = cfg.findLinksDir;
  const root = localRootFor(cfg, storage);
  if (dir === null || root === null) return [];
  const record = await readFindLinksRecord(root);
  if (record?.dir !== dir) {
    return [{ project: '', file: dir, detail: `${dir} has not been filled yet (the next sync fills it)` }];
  }
  const problems: FlatProblem[] = [];
  const seen = new Set<string>();
  for (const project of await listRecords(storage)) {
    for (const file of (await readRecord(storage, project))?.files ?? []) {
      signal.throwIfAborted();
      const entry = record.files[file.filename];
      const path = join(dir, file.filename);
      if (entry?.project !== project) {
        const held = entry === undefined ? '' : ` (the name is project ${entry.project}'s there)`;
        problems.push({ project, file: file.filename, detail: `${path} is not the tree's file${held}` });
        continue;
      }
      seen.add(file.filename);
      const source = join(root, fileKey(project, file));
      const why = await judgeEntry(path, source, file.sha256, entry, hash);
      if (why !== null) problems.push({ project, file: file.filename, detail: why });
    }
  }
  for (const [name, entry] of Object.entries(record.files)) {
    if (seen.has(name)) continue;
    const detail = `${join(dir, name)} is left over: no record of project ${entry.project} lists it`;
    problems.push({ project: entry.project, file: name, detail });
  }
  return problems;
}

/**
 * `verify --repair`: the flat names of ours that `problems` name leave the directory and the record, and the
 * directory is marked behind, so the next sync compares every record with it and puts back what is missing.
 */
export async function repairFindLinks(
  cfg: Config,
  storage: Storage,
  problems: readonly FlatProblem[],
): Promise<void> {
  const root = localRootFor(cfg, storage);
  if (root === null) return;
  const record = await readFindLinksRecord(root);
  if (cfg.findLinksDir === null || record?.dir !== cfg.findLinksDir) return;
  const files = { ...record.files };
  for (const p of problems) {
    if (files[p.file]?.project !== p.project) continue; // not ours, or another project's name
    const info = await lstatOrNull(join(record.dir, p.file));
    if (info?.isFile() === true) await unlink(join(record.dir, p.file));
    delete files[p.file];
  }
  await writeFindLinksRecord(root, { ...record, files });
  await markFindLinksDirty(root);
}
