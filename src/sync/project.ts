// Syncs one project: page → plan → verified downloads → page → record → removals.
// Order matters: a page is written only after every file it links is in place, and files are removed
// only after the page that no longer links them is written.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { PypimirrorError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { filePath, INDEX_HTML, INDEX_JSON, projectDir, whyUnstorableFilename } from '../mirror/layout.js';
import { claimProject, whyProjectDirIsNotOurs } from '../mirror/ownership.js';
import type { LocalFile, ProjectRecord } from '../mirror/record.js';
import { renderProjectHtml, renderProjectJson } from '../mirror/render.js';
import { writeRecord } from '../mirror/state.js';
import { fileSize, hashFile, removeFile } from '../mirror/store.js';
import type { Filters } from '../plan/filters.js';
import { orderFiles, planProject, type SuspectPage } from '../plan/planner.js';
import type { ProjectPage, Upstream, UpstreamFile } from '../upstream/types.js';
import { ensureDir, removeTempFiles, syncDir, writeFileAtomic } from '../util/fs.js';
import type { Pool, Semaphore } from '../util/pool.js';
import { downloadWithRetries, type RetryPolicy } from './retrying-download.js';

export interface ProjectContext {
  readonly cfg: Config;
  readonly filters: Filters;
  readonly upstream: Upstream;
  /** Upstream connections: `workers` slots shared by pages and files. */
  readonly pool: Pool;
  /** Permits for received files waiting for their fdatasync and rename (each holds a temp file open). */
  readonly publishing: Semaphore;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** False while the run's deletion guards decide (run.ts): files to remove stay, listed in the outcome. */
  readonly isDeletionAllowed: boolean;
  /** `sync --allow-deletions`: a suspect page (planner.ts judgePage) may shrink its project too. */
  readonly isPageTrusted?: boolean;
  /** `sync --dry-run`: plan only (outcome `planned`), write and remove nothing. */
  readonly isDryRun?: boolean;
  /** True when stored ETags/upstream lists belong to another upstream or scope and must not be trusted. */
  readonly isUpstreamChanged: boolean;
  readonly retry: RetryPolicy;
  /** Root entries that were there before pypimirror adopted the root: never written, never removed. */
  readonly foreign?: ReadonlySet<string>;
  /** Counts every upstream request. */
  countRequest(): void;
  /** Called after each verified file is in place. */
  onFileFetched(bytes: number): void;
}

export type ProjectOutcome =
  | { kind: 'unchanged'; record: ProjectRecord }
  | {
      kind: 'synced';
      record: ProjectRecord;
      filesFetched: number;
      bytesFetched: number;
      filesRemoved: number;
      /** Files retained for the run's deletion guards to decide (see PlanOptions.isDeletionAllowed). */
      unlinked: readonly string[];
      suspect: SuspectPage | null;
    }
  | { kind: 'empty'; record: ProjectRecord } // no file selected: a record (for serials/ETags), no page
  // A mirrored project now quarantined (PEP 792): nothing written; the run decides (applyPage) or holds it.
  | { kind: 'quarantined'; page: ProjectPage }
  // Dry run: what the project would download and remove.
  | {
      kind: 'planned';
      download: readonly UpstreamFile[];
      unlinked: readonly string[];
      suspect: SuspectPage | null;
    }
  | { kind: 'gone' } // upstream answered 404
  | { kind: 'stale'; pageSerial: number; wantedSerial: number }
  | { kind: 'failed'; reason: string }
  | { kind: 'skipped'; reason: string }; // its directory is not ours (ownership.ts): left alone

/** The upstream page as the record last saw it. */
export function pageFromRecord(record: ProjectRecord, serial: number | null): ProjectPage {
  return {
    name: record.name,
    files: record.upstreamFiles,
    versions: record.versions,
    serial: serial ?? record.serial,
    etag: record.etag,
    lastModified: record.lastModified,
    status: record.status,
    statusReason: record.statusReason,
  };
}

function describeError(err: unknown): string {
  if (err instanceof PypimirrorError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export async function syncProject(
  ctx: ProjectContext,
  name: string,
  displayName: string,
  wantedSerial: number | null,
  record: ProjectRecord | null,
  isRescoped: boolean,
  /** Called once the project has its plan and is about to download: the caller may start another. */
  onPlanned: () => void = () => {},
): Promise<ProjectOutcome> {
  const { cfg, upstream, signal } = ctx;
  const notOurs = await whyProjectDirIsNotOurs(
    cfg.mirrorRoot,
    name,
    record !== null,
    ctx.foreign ?? new Set(),
  );
  if (notOurs !== null) return { kind: 'skipped', reason: notOurs };
  const conditional =
    record !== null && !ctx.isUpstreamChanged && (record.etag !== null || record.lastModified !== null)
      ? { etag: record.etag, lastModified: record.lastModified }
      : null;
  let page: ProjectPage;
  try {
    ctx.countRequest();
    const answer = await ctx.pool.run(name, () => upstream.fetchProject(name, conditional, signal));
    if ('notModified' in answer) {
      if (record === null) throw new Error('upstream answered 304 to an unconditional request');
      // A 304 from a lagging cache is as stale as an old page (PROTOCOL.md §3): it must not pass for current.
      if (wantedSerial !== null && answer.serial !== null && answer.serial < wantedSerial) {
        return { kind: 'stale', pageSerial: answer.serial, wantedSerial };
      }
      if (!isRescoped && (await isTreeIntact(cfg.mirrorRoot, record))) return { kind: 'unchanged', record };
      page = pageFromRecord(record, answer.serial);
    } else {
      page = answer;
    }
  } catch (err) {
    if (err instanceof UpstreamError && err.code === 'UPSTREAM_NOT_FOUND') return { kind: 'gone' };
    if (signal.aborted) throw err;
    return { kind: 'failed', reason: describeError(err) };
  }
  if (wantedSerial !== null && page.serial !== null && page.serial < wantedSerial) {
    return { kind: 'stale', pageSerial: page.serial, wantedSerial };
  }
  if (page.status === 'quarantined' && (record?.files.length ?? 0) > 0) {
    return { kind: 'quarantined', page: { ...page, files: [] } };
  }
  try {
    return await applyPage(ctx, page, displayName, record, onPlanned);
  } catch (err) {
    if (signal.aborted) throw err;
    return { kind: 'failed', reason: describeError(err) };
  }
}

/** Are the record's files still on disk with their recorded sizes? (A stat each; no hashing.) */
async function isTreeIntact(root: string, record: ProjectRecord): Promise<boolean> {
  const sizes = await Promise.all(record.files.map((f) => fileSize(filePath(root, record.name, f.filename))));
  return sizes.every((size, i) => size === record.files[i]?.size);
}

/** Plans `page` against `record`, fetches what is missing, writes page and record, removes what may go. */
export async function applyPage(
  ctx: ProjectContext,
  page: ProjectPage,
  displayName: string,
  record: ProjectRecord | null,
  onPlanned: () => void = () => {},
): Promise<ProjectOutcome> {
  const { cfg, log, signal } = ctx;
  const root = cfg.mirrorRoot;
  const dir = projectDir(root, page.name);
  // The decoders skip names that cannot be stored; a page rebuilt from an older record may still hold one.
  for (const f of page.files.filter((file) => whyUnstorableFilename(file.filename) !== null)) {
    log.warn('file skipped: its name cannot be stored', { project: page.name, file: f.filename });
  }
  page = { ...page, files: page.files.filter((file) => whyUnstorableFilename(file.filename) === null) };
  const plan = planProject(page, record, ctx.filters, {
    cleanup: cfg.cleanup,
    isDeletionAllowed: ctx.isDeletionAllowed,
    isPageTrusted: ctx.isPageTrusted === true,
  });
  if (plan.remove.length > 0 && page.files.length === 0)
    log.warn('upstream page lists no files', { project: page.name });

  // Files the record says we have but that are gone or changed on disk are fetched again.
  const keep: LocalFile[] = [];
  const download: UpstreamFile[] = [...plan.download];
  const byName = new Map(page.files.map((f) => [f.filename, f]));
  for (const file of plan.keep) {
    if ((await fileSize(filePath(root, page.name, file.filename))) === file.size) keep.push(file);
    else download.push(byName.get(file.filename) as UpstreamFile);
  }
  if (ctx.isDryRun === true)
    return { kind: 'planned', download, unlinked: plan.unlinked, suspect: plan.suspect };
  if (keep.length + download.length + plan.retain.length === 0) {
    // Remembered like any project, so unchanged serials and ETags spare its page next time; the run
    // removes its directory (if it had one) after the root page stops linking it.
    const empty = nextRecord(page, displayName, []);
    await writeRecord(root, empty);
    return { kind: 'empty', record: empty };
  }

  // The record comes before the directory, so a directory without one is never taken for ours (ownership.ts).
  if (record === null) await claimProject(root, emptyRecord(page.name, displayName));
  await ensureDir(dir);
  await removeTempFiles(dir);
  onPlanned();
  const results = await Promise.allSettled(download.map((file) => fetchFile(ctx, page.name, file, record)));
  const fetched: LocalFile[] = [];
  const errors: string[] = [];
  let bytesFetched = 0;
  let filesFetched = 0;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      fetched.push(result.value.file);
      bytesFetched += result.value.bytes;
      filesFetched += result.value.bytes > 0 ? 1 : 0;
    } else {
      errors.push(`${download[i]?.filename}: ${describeError(result.reason)}`);
    }
  });
  if (signal.aborted) signal.throwIfAborted();
  const withMetadata = await Promise.all(
    keep.map(async (file) => {
      const up = plan.fetchMetadata.find((f) => f.filename === file.filename);
      return up === undefined ? file : { ...file, metadataSha256: await fetchMetadata(ctx, page.name, up) };
    }),
  );

  if (errors.length > 0) {
    // Keep the previous page; remember the verified files we did get so they are not fetched again.
    const fetchedNames = new Set(fetched.map((f) => f.filename));
    const previous = (record?.files ?? []).filter((f) => !fetchedNames.has(f.filename));
    if (fetched.length > 0) {
      await writeRecord(root, {
        ...(record ?? emptyRecord(page.name, displayName)),
        files: [...previous, ...fetched],
      });
    }
    for (const e of errors) log.error('file failed', { project: page.name, error: e });
    return { kind: 'failed', reason: errors.join('; ') };
  }

  const next = nextRecord(page, displayName, orderFiles(page, [...withMetadata, ...fetched, ...plan.retain]));
  if (cfg.createIndexes) {
    // HTML first: a directory must never offer JSON without HTML (PROTOCOL.md §2).
    await writeFileAtomic(join(dir, INDEX_HTML), renderProjectHtml(next));
    await writeFileAtomic(join(dir, INDEX_JSON), renderProjectJson(next));
  }
  await writeRecord(root, next);
  let filesRemoved = 0;
  for (const filename of plan.remove) {
    if (await removeFile(filePath(root, page.name, filename))) filesRemoved++;
    await removeFile(`${filePath(root, page.name, filename)}.metadata`);
  }
  if (filesRemoved > 0) await syncDir(dir);
  for (const filename of plan.remove) log.info('file removed', { project: page.name, file: filename });
  return {
    kind: 'synced',
    record: next,
    filesFetched,
    bytesFetched,
    filesRemoved,
    unlinked: plan.unlinked,
    suspect: plan.suspect,
  };
}

function nextRecord(page: ProjectPage, displayName: string, files: LocalFile[]): ProjectRecord {
  return {
    formatVersion: 1,
    name: page.name,
    displayName,
    serial: page.serial,
    etag: page.etag,
    lastModified: page.lastModified,
    status: page.status,
    statusReason: page.statusReason,
    versions: page.versions,
    upstreamFiles: page.files,
    files,
  };
}

/** A record with no serial and no ETag: the project's page is fetched in full next run. */
function emptyRecord(name: string, displayName: string): ProjectRecord {
  return {
    formatVersion: 1,
    name,
    displayName,
    serial: null,
    etag: null,
    lastModified: null,
    status: null,
    statusReason: null,
    versions: [],
    upstreamFiles: [],
    files: [],
  };
}

/** Downloads one file (or adopts a verified copy already on disk), then its .metadata if offered. */
async function fetchFile(
  ctx: ProjectContext,
  project: string,
  up: UpstreamFile,
  record: ProjectRecord | null,
): Promise<{ file: LocalFile; bytes: number }> {
  const target = filePath(ctx.cfg.mirrorRoot, project, up.filename);
  const base = {
    filename: up.filename,
    url: up.url,
    upstreamHashes: up.hashes,
    requiresPython: up.requiresPython,
    yanked: up.yanked,
    uploadTime: up.uploadTime,
  };
  // Resume: a file renamed into place by an interrupted run was verified before the rename.
  const isKnown = record?.files.some((f) => f.filename === up.filename) ?? false;
  const sha = up.hashes['sha256'];
  const sizeOnDisk = await fileSize(target); // a regular file only: never read through a symlink
  if (!isKnown && sha !== undefined && sizeOnDisk !== null && (up.size === null || sizeOnDisk === up.size)) {
    const onDisk = await hashFile(target, ctx.signal);
    if (onDisk !== null && onDisk.sha256 === sha) {
      ctx.log.debug('file adopted from disk', { project, file: up.filename });
      return {
        file: { ...base, ...onDisk, metadataSha256: await fetchMetadata(ctx, project, up) },
        bytes: 0,
      };
    }
  }
  const stored = await downloadWithRetries(ctx, project, up.url, target, {
    hashes: up.hashes,
    size: up.size,
  });
  if (stored.verifiedWith === null) {
    ctx.log.warn('upstream gave no digest to verify against; size checked only', {
      project,
      file: up.filename,
    });
  }
  ctx.log.info('file fetched', { project, file: up.filename, bytes: stored.size });
  ctx.onFileFetched(stored.size);
  const metadataSha256 = await fetchMetadata(ctx, project, up);
  return { file: { ...base, sha256: stored.sha256, size: stored.size, metadataSha256 }, bytes: stored.size };
}

/**
 * Fetches <file>.metadata (PEP 658) when upstream offers it. A failure is not fatal: the page then
 * simply does not advertise metadata, and the next run tries again.
 */
async function fetchMetadata(ctx: ProjectContext, project: string, up: UpstreamFile): Promise<string | null> {
  if (up.coreMetadata === null) return null;
  const target = `${filePath(ctx.cfg.mirrorRoot, project, up.filename)}.metadata`;
  try {
    const stored = await downloadWithRetries(ctx, project, `${up.url}.metadata`, target, {
      hashes: up.coreMetadata,
      size: null,
    });
    return stored.sha256;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    await rm(target, { force: true });
    ctx.log.warn('core metadata not mirrored', { project, file: up.filename, error: describeError(err) });
    return null;
  }
}
