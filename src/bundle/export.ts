// `pypimirror export CONFIG OUT_DIR`: the changes since the last export (the whole tree with --full, or the
// first time) as a signed bundle. It reads the tree and never the upstream: the records are read under the
// run lock (briefly, so it runs beside the daemon), then the files they name are copied into the volumes.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { projectDir } from '../model/layout.js';
import { takeRunLock } from '../mirror/run-lock.js';
import type { ProjectRecord } from '../model/record.js';
import { renderProjectHtml, renderProjectJson } from '../mirror/render.js';
import { listRecords, readRecord, readState } from '../mirror/state.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import {
  type BundleManifest,
  bundleId,
  canonicalJson,
  exportedProject,
  manifestName,
  planExport,
  sha256Hex,
  signatureName,
} from './manifest.js';
import { BundleError } from '../errors.js';
import { readPrivateKey, signBytes } from './signing.js';
import { readExportState, writeExportState } from './state.js';
import { writeVolumes } from './volumes.js';
import { openLocalStorage } from '../storage/open.js';

export interface ExportOptions {
  readonly outDir: string;
  /** Carry the whole tree, not only the changes since the last export. */
  readonly isFull: boolean;
  /** Largest volume, bytes. */
  readonly maxVolume: number;
  readonly now?: Date;
}

export interface ExportResult {
  readonly manifest: BundleManifest;
  readonly bytes: number;
}

/** The records of the projects that have a page, and the upstream serial, read under the run lock. */
async function readTree(
  cfg: Config,
  log: Logger,
): Promise<{ records: ProjectRecord[]; serial: number | null }> {
  const storage = await openLocalStorage(cfg, 'export');
  const lock = await takeRunLock(cfg, { log, onLost: () => {} });
  try {
    const state = await readState(storage);
    const records: ProjectRecord[] = [];
    for (const name of await listRecords(storage)) {
      const record = await readRecord(storage, name);
      if (record !== null && record.files.length > 0) records.push(record);
    }
    return { records, serial: state.lastSerial };
  } finally {
    await lock.release();
  }
}

/**
 * Writes the next bundle into `opts.outDir` (volumes, then the manifest, then its signature, each atomically)
 * and records it as exported. Throws BUNDLE_NOTHING when nothing changed since the last export.
 */
export async function exportBundle(cfg: Config, log: Logger, opts: ExportOptions): Promise<ExportResult> {
  const key = await readPrivateKey(cfg.bundlePrivateKey);
  const { records, serial } = await readTree(cfg, log);
  const previous = await readExportState(cfg.mirrorRoot);
  const isFull = opts.isFull || previous === null;
  const plan = planExport(isFull ? null : (previous?.projects ?? null), records);
  if (
    !isFull &&
    plan.projects.length === 0 &&
    plan.removals.projects.length === 0 &&
    plan.removals.files.length === 0
  ) {
    throw new BundleError(
      'BUNDLE_NOTHING',
      `nothing to export: the tree is as bundle ${previous?.id ?? ''} left it`,
    );
  }
  const origin = previous?.origin ?? randomBytes(6).toString('hex');
  const sequence = (previous?.sequence ?? 0) + 1;
  const id = bundleId(origin, sequence);
  await ensureDir(opts.outDir);
  const sources = plan.files.map((f) => ({
    ...f,
    source: join(projectDir(cfg.mirrorRoot, f.project), f.path),
  }));
  const { volumes, files } = await writeVolumes(opts.outDir, id, opts.maxVolume, sources);
  const manifest: BundleManifest = {
    format: 'pypimirror-bundle',
    formatVersion: 1,
    origin,
    id,
    sequence,
    follows: previous?.id ?? null,
    isFull,
    createdAt: (opts.now ?? new Date()).toISOString(),
    serials: { from: previous?.serial ?? null, to: serial },
    volumes,
    files,
    projects: plan.projects,
    pages: plan.projects.flatMap((r) => [
      { path: `${r.name}/index.html`, sha256: sha256Hex(renderProjectHtml(r)) },
      { path: `${r.name}/index.v1_json`, sha256: sha256Hex(renderProjectJson(r)) },
    ]),
    removals: plan.removals,
  };
  const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
  await writeFileAtomic(join(opts.outDir, manifestName(id)), bytes);
  await writeFileAtomic(join(opts.outDir, signatureName(id)), signBytes(bytes, key));
  await writeExportState(cfg.mirrorRoot, {
    formatVersion: 1,
    origin,
    sequence,
    id,
    exportedAt: manifest.createdAt,
    serial,
    projects: Object.fromEntries(records.map((r) => [r.name, exportedProject(r)])),
  });
  const total = files.reduce((sum, f) => sum + f.size, 0);
  log.info('export finished', {
    bundle: id,
    full: isFull,
    projects: plan.projects.length,
    files: files.length,
    bytes: total,
    volumes: volumes.length,
    removedProjects: plan.removals.projects.length,
    removedFiles: plan.removals.files.length,
  });
  return { manifest, bytes: total };
}
