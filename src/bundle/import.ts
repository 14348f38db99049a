// `pypimirror import CONFIG BUNDLE_DIR...`: checks each bundle's signature, then applies the bundles in
// their order under the run lock: each one's volumes are extracted into a staging directory with every
// member's and volume's sha256 checked, and only then published (apply.ts). A bundle whose predecessor has
// not been imported is copied into <root>/.pypimirror/bundles/<id>/ and applied once the gap is filled.
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { foreignOfRoot } from '../mirror/ownership.js';
import { syncDir } from '../util/fs.js';
import { applyBundle, type BundleEffect, judgeBundleDeletions, planApply } from './apply.js';
import {
  type BundleManifest,
  bundleId,
  canonicalJson,
  idOfManifestName,
  manifestName,
  signatureName,
  whyManifestInvalid,
} from './manifest.js';
import { BundleError } from '../errors.js';
import { isSignatureValid, readPublicKey } from './signing.js';
import { type ImportState, pendingDir, readImportState, stagingDir, writeImportState } from './state.js';
import { checkVolumesPresent, extractVolumes } from './volumes.js';
import { openLocalStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';

/** A bundle found in a directory, its signature checked. */
interface FoundBundle {
  readonly dir: string;
  readonly manifest: BundleManifest;
  /** Held in the pending directory already. */
  readonly isHeld: boolean;
}

export interface ImportOptions {
  readonly dirs: readonly string[];
  readonly dryRun: boolean;
  readonly allowDeletions: boolean;
  readonly print: (line: string) => void;
  readonly signal: AbortSignal;
  readonly now?: () => Date;
}

export interface ImportOutcome {
  readonly applied: readonly string[];
  readonly alreadyImported: readonly string[];
  /** Bundles held for a missing predecessor, and the message naming what is missing (null: no gap). */
  readonly pending: readonly string[];
  readonly gap: string | null;
  /** The deletion guards held a bundle: the warning (it stays pending). */
  readonly held: string | null;
}

function refuse(where: string, why: string): BundleError {
  return new BundleError('BUNDLE_REFUSED', `${where}: refused: ${why}; nothing was written`);
}

/** Reads and checks one bundle's manifest: signature present and valid, canonical, well-formed. */
async function readSignedManifest(dir: string, id: string, key: KeyObject): Promise<BundleManifest> {
  const path = join(dir, manifestName(id));
  const bytes = await readFile(path);
  const signature = await readFile(join(dir, signatureName(id)), 'utf8').catch(() => null);
  if (signature === null) throw refuse(path, `unsigned (no ${signatureName(id)} beside it)`);
  if (!isSignatureValid(bytes, signature, key)) {
    throw refuse(path, 'the signature does not match bundle_public_key (altered, or signed by another key)');
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw refuse(path, 'signed, but not JSON');
  }
  const invalid = whyManifestInvalid(json);
  if (invalid !== null) throw refuse(path, `signed, but ${invalid}`);
  if (canonicalJson(json) !== bytes.toString('utf8') || (json as BundleManifest).id !== id) {
    throw refuse(path, 'signed, but not in canonical form or not named by its id');
  }
  return json as BundleManifest;
}

async function findBundles(dirs: readonly string[], key: KeyObject, isHeld: boolean): Promise<FoundBundle[]> {
  const found: FoundBundle[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isHeld) continue;
      throw new BundleError('BUNDLE_REFUSED', `${dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names.sort()) {
      const id = idOfManifestName(name);
      if (id !== null) found.push({ dir, manifest: await readSignedManifest(dir, id, key), isHeld });
    }
  }
  return found;
}

/** The held bundles' directories. */
async function heldDirs(root: string): Promise<string[]> {
  const names = await readdir(pendingDir(root)).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.')).map((n) => join(pendingDir(root), n));
}

/** Copies a bundle into the pending directory (whole, then renamed into place). */
async function holdBundle(root: string, bundle: FoundBundle): Promise<void> {
  const m = bundle.manifest;
  const target = join(pendingDir(root), m.id);
  const partial = join(pendingDir(root), `.${m.id}.partial`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  for (const name of [...m.volumes.map((v) => v.name), manifestName(m.id), signatureName(m.id)]) {
    await copyFile(join(bundle.dir, name), join(partial, name));
  }
  await syncDir(partial);
  await rm(target, { recursive: true, force: true });
  await rename(partial, target);
}

/** The next bundle to apply after `state`: a delta that follows it, or a full bundle; the lowest sequence. */
function nextApplicable(bundles: readonly FoundBundle[], state: ImportState | null): FoundBundle | null {
  const fits = bundles.filter(
    (b) =>
      b.manifest.sequence > (state?.sequence ?? 0) &&
      (b.manifest.isFull || b.manifest.follows === (state?.id ?? null)),
  );
  return fits.sort((a, b) => a.manifest.sequence - b.manifest.sequence)[0] ?? null;
}

function describeGap(pending: readonly FoundBundle[], state: ImportState | null): string | null {
  if (pending.length === 0) return null;
  const first = [...pending].sort((a, b) => a.manifest.sequence - b.manifest.sequence)[0] as FoundBundle;
  const missing =
    state === null
      ? 'a full bundle (the outside\'s first export, or "export --full")'
      : `bundle ${bundleId(state.origin, state.sequence + 1)}`;
  const after = state === null ? 'nothing imported yet' : `the last imported is ${state.id}`;
  return `waiting for ${missing}: ${after}; ${pending.length} bundle(s) held from ${first.manifest.id} on`;
}

/** The lines `import --dry-run` prints for a bundle. */
function describeEffect(m: BundleManifest, effect: BundleEffect): string[] {
  const lines = [
    `bundle ${m.id}${m.isFull ? ' (full)' : ''}: ${m.files.length} files, ${effect.projects.length} projects changed, ${effect.removedProjects.length} removed`,
  ];
  for (const p of effect.projects) {
    lines.push(`  ${p.name}${p.isNew ? ' (new)' : ''}`);
    for (const path of p.added) lines.push(`    + ${path}`);
    for (const path of p.removed) lines.push(`    - ${path}`);
  }
  for (const name of effect.removedProjects) lines.push(`  - ${name}/ (project removed)`);
  return lines;
}

function importedState(m: BundleManifest, importedAt: string): ImportState {
  return {
    formatVersion: 1,
    origin: m.origin,
    sequence: m.sequence,
    id: m.id,
    importedAt,
    serial: m.serials.to,
  };
}

/**
 * Imports what `opts.dirs` hold, with the bundles held from earlier imports. The caller holds the run lock
 * (not for a dry run, which writes nothing). Throws BUNDLE_REFUSED for a bundle that fails a check.
 */
export async function importBundles(cfg: Config, log: Logger, opts: ImportOptions): Promise<ImportOutcome> {
  const root = cfg.mirrorRoot;
  const now = opts.now ?? (() => new Date());
  const key = await readPublicKey(cfg.bundlePublicKey);
  const given = await findBundles(opts.dirs, key, false);
  if (given.length === 0) log.info('no bundle (<id>.manifest.json) found', { dirs: opts.dirs.join(' ') });
  const held = await findBundles(await heldDirs(root), key, true);
  const byId = new Map<string, FoundBundle>();
  for (const b of [...held, ...given]) if (!byId.has(b.manifest.id)) byId.set(b.manifest.id, b);
  let state = await readImportState(root);
  for (const b of byId.values()) {
    const origin = state?.origin ?? given[0]?.manifest.origin;
    if (b.manifest.origin !== origin) {
      throw refuse(
        join(b.dir, manifestName(b.manifest.id)),
        `it comes from outside mirror ${b.manifest.origin}; this mirror imports from ${origin}`,
      );
    }
  }
  const storage = await openLocalStorage(cfg, 'import');
  const foreign = new Set(await foreignOfRoot(cfg, storage));
  const applied: string[] = [];
  let heldMessage: string | null = null;
  let simulated = 0;
  let remaining = [...byId.values()];
  for (let next = nextApplicable(remaining, state); next !== null; next = nextApplicable(remaining, state)) {
    const m = next.manifest;
    remaining = remaining.filter((b) => b !== next);
    if (opts.dryRun) {
      // A dry run places nothing: a later bundle's effect is judged against the tree as it is now.
      const effect = await planApply(storage, m, foreign).catch((err: unknown) => {
        if (simulated === 0 || !(err instanceof BundleError)) throw err;
        return null;
      });
      const lines =
        effect === null ? [`bundle ${m.id}: applies after the bundles above`] : describeEffect(m, effect);
      for (const line of lines) opts.print(line);
      state = importedState(m, '');
      simulated++;
      continue;
    }
    const effect = await planApply(storage, m, foreign);
    const hold = opts.allowDeletions ? null : await judgeBundleDeletions(cfg, storage, effect, now());
    if (hold !== null) {
      heldMessage =
        `deletions held: bundle ${m.id} would remove ${effect.removing.projects} projects and ${effect.removing.files} ` +
        `files of ${effect.mirrored.projects} projects (${effect.mirrored.files} files), ${hold}; run ` +
        '"pypimirror import --allow-deletions" once to let them go';
      remaining.push(next);
      break;
    }
    await applyOne(cfg, storage, log, next, effect, now(), opts.signal);
    state = importedState(m, now().toISOString());
    await writeImportState(root, state);
    if (next.isHeld) await rm(next.dir, { recursive: true, force: true });
    applied.push(m.id);
  }
  const sequence = state?.sequence ?? 0;
  const alreadyImported = remaining.filter((b) => b.manifest.sequence <= sequence);
  const pending = remaining.filter((b) => b.manifest.sequence > sequence);
  if (!opts.dryRun) {
    for (const b of alreadyImported) if (b.isHeld) await rm(b.dir, { recursive: true, force: true });
    for (const b of pending) if (!b.isHeld) await holdBundle(root, b);
  }
  for (const b of alreadyImported)
    log.info('bundle already imported; nothing to do', { bundle: b.manifest.id });
  const gap = heldMessage === null ? describeGap(pending, state) : null;
  return {
    applied,
    alreadyImported: alreadyImported.map((b) => b.manifest.id),
    pending: pending.map((b) => b.manifest.id),
    gap,
    held: heldMessage,
  };
}

/** Extracts one bundle into the staging directory (all checks), publishes it, then clears the staging. */
async function applyOne(
  cfg: Config,
  storage: Storage,
  log: Logger,
  bundle: FoundBundle,
  effect: BundleEffect,
  now: Date,
  signal: AbortSignal,
): Promise<void> {
  const staging = stagingDir(cfg.mirrorRoot);
  await rm(staging, { recursive: true, force: true });
  try {
    await checkVolumesPresent(bundle.dir, bundle.manifest);
    await extractVolumes(bundle.dir, bundle.manifest, staging, signal);
    await applyBundle(cfg, storage, log, bundle.manifest, effect, staging, now, signal);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const m = bundle.manifest;
  log.info('bundle imported', {
    bundle: m.id,
    files: m.files.length,
    bytes: m.files.reduce((sum, f) => sum + f.size, 0),
    projects: effect.projects.length,
    removedProjects: effect.removedProjects.length,
  });
}
