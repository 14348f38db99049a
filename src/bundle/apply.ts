// Publishes one verified bundle into the inside mirror with a sync's guarantees, through the one publisher
// (mirror/publish.ts): per project, the files (linked into place, never overwriting), then its pages (HTML before
// JSON), then the files its new record no longer lists, then its record; then the root page; then the
// projects that go (by their records, ownership.ts); then state.json. Every step is idempotent, so a kill at
// any instant leaves a consistent tree and applying the bundle again completes it. All of an import's
// publishing is in this module.
import { link } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../config/types.js';
import { BundleError, StoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { localRelPath } from '../model/layout.js';
import { claimProject, directoryError, whyProjectDirIsNotOurs } from '../mirror/ownership.js';
import { createPublisher, type Publisher } from '../mirror/publish.js';
import type { ProjectRecord } from '../model/record.js';
import { listRecords, type MirroredProject, readRecord, readState } from '../mirror/state.js';
import { hashLocalFile } from '../storage/hash.js';
import { fileKey, projectKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import type { DeletionCounts } from '../model/holds.js';
import { judgeDeletions, pruneHistory } from '../sync/guards.js';
import { ensureDir } from '../util/fs.js';
import { type BundleManifest, recordFiles } from './manifest.js';
import { stagedPath } from './volumes.js';

/** What applying a bundle changes, as the inside has it now (for the guards, dry runs and the log). */
export interface BundleEffect {
  /** Per changed project: paths it gains (from the bundle) and loses. */
  readonly projects: readonly { name: string; added: string[]; removed: string[]; isNew: boolean }[];
  /** Projects that go: the manifest's, or for a full bundle every inside project it does not carry. */
  readonly removedProjects: readonly string[];
  readonly removing: DeletionCounts;
  readonly mirrored: DeletionCounts;
}

/**
 * What `manifest` would change here, after checking that it can apply: every file its records list is in the
 * bundle or already here with its size, and every project directory is one pypimirror may write.
 */
export async function planApply(
  storage: Storage,
  manifest: BundleManifest,
  foreign: ReadonlySet<string>,
): Promise<BundleEffect> {
  const carried = new Set(manifest.files.map((f) => `${f.project}/${f.path}`));
  const projects = [];
  let filesRemoved = 0;
  for (const record of manifest.projects) {
    const old = await readRecord(storage, record.name);
    const notOurs = await whyProjectDirIsNotOurs(storage, record.name, old !== null, foreign);
    if (notOurs !== null) throw new BundleError('BUNDLE_REFUSED', `bundle ${manifest.id}: ${notOurs}`);
    const before = old === null ? {} : recordFiles(old);
    const after = recordFiles(record);
    for (const file of record.files) {
      const rel = localRelPath(file);
      if (carried.has(`${record.name}/${rel}`)) continue;
      const size = (await storage.stat(fileKey(record.name, file)))?.size ?? null;
      if (before[rel] !== file.sha256 || size !== file.size) {
        throw new BundleError(
          'BUNDLE_REFUSED',
          `bundle ${manifest.id} keeps ${record.name}/${rel}, which this mirror does not have with sha256 ` +
            `${file.sha256}; import the bundles before it, or export a --full bundle`,
        );
      }
    }
    const removed = Object.keys(before).filter((p) => after[p] !== before[p] && !p.endsWith('.metadata'));
    filesRemoved += removed.length;
    const added = Object.keys(after).filter((p) => carried.has(`${record.name}/${p}`));
    projects.push({ name: record.name, added, removed, isNew: old === null || old.files.length === 0 });
  }
  const state = await readState(storage);
  const mirroredNames = Object.entries(state.projects).filter(([, p]) => p.isEmpty !== true);
  const carriedNames = new Set(manifest.projects.map((r) => r.name));
  const removedProjects = manifest.isFull
    ? (await listRecords(storage)).filter((name) => !carriedNames.has(name))
    : manifest.removals.projects.filter((name) => !carriedNames.has(name));
  return {
    projects,
    removedProjects,
    removing: { projects: removedProjects.length, files: filesRemoved },
    mirrored: {
      projects: mirroredNames.length,
      files: mirroredNames.reduce((sum, [, p]) => sum + (p.files ?? 0), 0),
    },
  };
}

/** Why the bundle's removals must be held (the usual deletion guards, run by run), or null. */
export async function judgeBundleDeletions(
  cfg: Config,
  storage: Storage,
  effect: BundleEffect,
  now: Date,
): Promise<string | null> {
  const state = await readState(storage);
  return judgeDeletions({
    maxPercent: cfg.maxDeletionsPercent,
    windowMs: cfg.maxDeletionsWindowMs,
    now,
    mirrored: effect.mirrored,
    removing: effect.removing,
    gone: 0,
    quarantined: 0,
    history: state.removals ?? [],
    discoveryHold: null,
  });
}

/** Links a staged file into place; a name already there must hold the same bytes (a resumed import). */
async function placeFile(staged: string, target: string, sha256: string, signal: AbortSignal): Promise<void> {
  await ensureDir(dirname(target));
  try {
    await link(staged, target);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    const there = await hashLocalFile(target, signal);
    if (there?.sha256 !== sha256) {
      throw new StoreError(
        'STORE_EXISTS',
        `${target}: holds other bytes than the bundle's (sha256 ${sha256}); left alone`,
      );
    }
  }
}

/** The tree's root directory: a bundle's staged files are hard-linked into it (import needs a local tree). */
function localRootOf(cfg: Config, storage: Storage): string {
  const root = storage.localRoot();
  if (root === null)
    throw directoryError(
      cfg,
      'storage',
      storage.where,
      "a bundle's files are hard-linked into the tree; expected a mirror on this machine's file system",
    );
  return root;
}

async function applyProject(
  storage: Storage,
  publisher: Publisher,
  manifest: BundleManifest,
  record: ProjectRecord,
  staging: string,
  root: string,
  signal: AbortSignal,
): Promise<void> {
  const dir = projectKey(record.name);
  const old = await readRecord(storage, record.name);
  // The record comes before the directory, so a directory without one is never taken for ours.
  if (old === null) await claimProject(storage, { ...record, files: [] });
  const keep = new Set(record.files.map(localRelPath));
  await publisher.project({
    record,
    place: async () => {
      await ensureDir(join(root, dir));
      await storage.sweep(dir);
      for (const file of manifest.files.filter((f) => f.project === record.name)) {
        await placeFile(stagedPath(staging, file), join(root, dir, file.path), file.sha256, signal);
      }
      await storage.settle(dir);
    },
    // Before the record: a kill leaves a record naming what is gone, and applying the bundle again completes it.
    forgotten: (old?.files ?? []).filter((file) => !keep.has(localRelPath(file))),
  });
}

/** Applies a checked bundle whose files are staged in `staging` (see the module comment for the order). */
export async function applyBundle(
  cfg: Config,
  storage: Storage,
  log: Logger,
  manifest: BundleManifest,
  effect: BundleEffect,
  staging: string,
  now: Date,
  signal: AbortSignal,
): Promise<void> {
  const root = localRootOf(cfg, storage); // before anything is written
  const publisher = createPublisher(storage, { createIndexes: cfg.createIndexes, baseUrl: cfg.baseUrl, log });
  const state = await readState(storage);
  const projects = new Map<string, MirroredProject>(Object.entries(state.projects));
  for (const record of [...manifest.projects].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    signal.throwIfAborted();
    await applyProject(storage, publisher, manifest, record, staging, root, signal);
    projects.set(record.name, {
      displayName: record.displayName,
      serial: record.serial,
      files: record.files.length,
    });
  }
  for (const name of effect.removedProjects) projects.delete(name);
  const entries = [...projects.entries()]
    .filter(([, p]) => p.isEmpty !== true)
    .map(([name, p]) => ({ name, displayName: p.displayName }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const gone = [];
  for (const name of effect.removedProjects) {
    gone.push({ name, record: await readRecord(storage, name).catch(() => null), isForgotten: true });
  }
  const removals = pruneHistory(state.removals ?? [], now, cfg.maxDeletionsWindowMs);
  if (effect.removing.projects + effect.removing.files > 0)
    removals.push({ at: now.toISOString(), ...effect.removing });
  await publisher.finish({
    root: entries,
    gone,
    beforeState: () => {
      for (const name of effect.removedProjects)
        log.info('project removed', { project: name, bundle: manifest.id });
      return Promise.resolve();
    },
    state: () => ({
      ...state,
      formatVersion: 1,
      lastSerial: manifest.serials.to ?? state.lastSerial,
      projects: Object.fromEntries([...projects.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      lastRun: { startedAt: now.toISOString(), finishedAt: new Date().toISOString(), ok: true },
      removals,
      deletionsHeld: null,
    }),
  });
}
