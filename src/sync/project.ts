// Syncs one project: page → plan → verified downloads → page → record → removals.
// Order matters: a page is written only after every file it links is in place, and files are removed
// only after the page that no longer links them is written. A published file is never overwritten: new
// bytes under a mirrored name go to a new path (`<16 hex>/<filename>`), then the page links them, then
// the old file goes, so no instant shows a page whose hash and bytes differ.
import { lstat, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/types.js';
import { PypimirrorError, StoreError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  INDEX_HTML,
  INDEX_JSON,
  localFilePath,
  localRelPath,
  projectDir,
  replacedFileRelPath,
  whyUnstorableFilename,
} from '../model/layout.js';
import { claimProject, whyProjectDirIsNotOurs } from '../mirror/ownership.js';
import type { LocalFile, ProjectRecord } from '../model/record.js';
import { renderProjectHtml, renderProjectJson } from '../mirror/render.js';
import { writeRecord } from '../mirror/state.js';
import { fileSize, hashFile, removeFile } from '../mirror/store.js';
import type { Filters } from '../plan/filters.js';
import {
  namingDigest,
  orderFiles,
  planProject,
  type ProjectPlan,
  type SuspectPage,
} from '../plan/planner.js';
import type { QuarantineHold } from '../model/holds.js';
import type { ProjectPage, Upstream, UpstreamFile } from '../model/upstream.js';
import { ensureDir, removeTempFiles, syncDir, writeFileAtomic } from '../util/fs.js';
import type { Pool, Semaphore } from '../util/pool.js';
import { type ReleaseTimes, withUploadTimes } from './release-times.js';
import { downloadWithRetries, type RetryPolicy } from './retrying-download.js';
import { writeMetadataFromWheel } from './wheel-metadata.js';

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
  /** The run's second pass over a project, once its deletions are decided: its changed files were told. */
  readonly isReplan?: boolean;
  /** True when stored ETags/upstream lists belong to another upstream or scope and must not be trusted. */
  readonly isUpstreamChanged: boolean;
  readonly retry: RetryPolicy;
  /** Root entries that were there before pypimirror adopted the root: never written, never removed. */
  readonly foreign?: ReadonlySet<string>;
  /** min_release_age, quarantine_exempt, exclude_newer of the project's upstream (release-times.ts). */
  readonly releaseTimes?: ReleaseTimes;
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
      // A 304 from a lagging cache is as stale as an old page (docs/protocol.md §3): it must not pass for current.
      if (wantedSerial !== null && answer.serial !== null && answer.serial < wantedSerial) {
        return { kind: 'stale', pageSerial: answer.serial, wantedSerial };
      }
      if (!isRescoped && (await isTreeIntact(cfg.mirrorRoot, record))) {
        warnHeldFromRecord(ctx, record);
        return { kind: 'unchanged', record };
      }
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

/** Files stat'ed, fetched or downloaded at once by one project: a bound on its promises and open files. */
const FILES_IN_FLIGHT = 64;

/** Runs `fn` over `items` with at most FILES_IN_FLIGHT at once; results in item order. */
async function settleWindowed<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, items.length) }, runner));
  return results;
}

/** Are the record's files still on disk with their recorded sizes? (A stat each; no hashing.) */
async function isTreeIntact(root: string, record: ProjectRecord): Promise<boolean> {
  const sizes = await settleWindowed(
    record.files,
    async (f) => (await fileSize(localFilePath(root, record.name, f))) === f.size,
  );
  return sizes.every((r) => r.status === 'fulfilled' && r.value);
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
  page = await withUploadTimes(ctx, page);
  const plan = planProject(page, record, ctx.filters, {
    cleanup: cfg.cleanup,
    isDeletionAllowed: ctx.isDeletionAllowed,
    isPageTrusted: ctx.isPageTrusted === true,
    allowReplacedFiles: cfg.allowReplacedFiles,
    ...(ctx.releaseTimes === undefined ? {} : { releaseTimes: ctx.releaseTimes.policyFor(page.name) }),
  });
  if (plan.remove.length > 0 && page.files.length === 0)
    log.warn('upstream page lists no files', { project: page.name });
  if (ctx.isReplan !== true) warnChanged(ctx, page.name, plan);

  // Mirrored files whose new bytes go to a new path; the old file goes once the page links the new one.
  const replacing = new Map(plan.replace.map((c) => [c.local.filename, c.local]));
  // Files the record says we have but that are gone or changed on disk are fetched again. Damaged bytes
  // go first (the page names others); the upstream's come back beside the page, or to a new path when
  // they are not the bytes the page names (a held change).
  const keep: LocalFile[] = [];
  const download: UpstreamFile[] = [...plan.download];
  const damaged: string[] = [];
  const byName = new Map(page.files.map((f) => [f.filename, f]));
  const sizes = await settleWindowed(plan.keep, (file) => fileSize(localFilePath(root, page.name, file)));
  plan.keep.forEach((file, i) => {
    const r = sizes[i];
    if (r === undefined || r.status === 'rejected') throw r?.reason; // a disk error fails the project
    if (r.value === file.size) {
      keep.push(file);
      return;
    }
    if (r.value !== null) damaged.push(localFilePath(root, page.name, file));
    download.push(byName.get(file.filename) as UpstreamFile);
    if (file.heldUpstreamHashes !== undefined) replacing.set(file.filename, file);
  });
  if (ctx.isDryRun === true)
    return { kind: 'planned', download, unlinked: plan.unlinked, suspect: plan.suspect };
  for (const path of damaged) await removeFile(path);
  if (keep.length + download.length + plan.retain.length === 0) {
    // Remembered like any project, so unchanged serials and ETags spare its page next time; the run
    // removes its directory (if it had one) after the root page stops linking it.
    const empty = nextRecord(page, displayName, [], plan.quarantine);
    await writeRecord(root, empty);
    return { kind: 'empty', record: empty };
  }

  // The record comes before the directory, so a directory without one is never taken for ours (ownership.ts).
  if (record === null) await claimProject(root, emptyRecord(page.name, displayName));
  await ensureDir(dir);
  await removeTempFiles(dir);
  onPlanned();
  const results = await settleWindowed(download, (file) =>
    fetchFile(ctx, page.name, file, replacing.has(file.filename)),
  );
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
  const metadataOf = new Map(plan.fetchMetadata.map((f) => [f.filename, f]));
  const withMetadata = (
    await settleWindowed(keep, async (file) => {
      const up = metadataOf.get(file.filename);
      if (up === undefined) return file;
      const path = localFilePath(root, page.name, file);
      return { ...file, metadataSha256: await fetchMetadata(ctx, page.name, path, up) };
    })
  ).map((r) => {
    if (r.status === 'rejected') throw r.reason; // only an abort: a failed .metadata is a warning
    return r.value;
  });

  if (errors.length > 0) {
    // Keep the previous page; remember the verified files we did get so they are not fetched again. New
    // bytes under a name the page still links stay out of the record (the record says what the page
    // links); the next run finds them at their new path and adopts them.
    const recorded = fetched.filter((f) => !replacing.has(f.filename));
    const fetchedNames = new Set(recorded.map((f) => f.filename));
    const previous = (record?.files ?? []).filter((f) => !fetchedNames.has(f.filename));
    if (recorded.length > 0) {
      await writeRecord(root, {
        ...(record ?? emptyRecord(page.name, displayName)),
        files: [...previous, ...recorded],
      });
    }
    for (const e of errors) log.error('file failed', { project: page.name, error: e });
    return { kind: 'failed', reason: errors.join('; ') };
  }

  const next = nextRecord(
    page,
    displayName,
    orderFiles(page, [...withMetadata, ...fetched, ...plan.retain]),
    plan.quarantine,
  );
  // A re-plan that changes nothing (the page as stored, a new scope that keeps every file): the pages and
  // the record on disk already say this, and rewriting them would cost three fsyncs per project.
  const isUnchanged =
    record !== null &&
    fetched.length === 0 &&
    replacing.size === 0 &&
    plan.remove.length === 0 &&
    plan.unlinked.length === 0 &&
    plan.suspect === null &&
    isDeepStrictEqual(next, record);
  if (isUnchanged) return { kind: 'unchanged', record };
  if (cfg.createIndexes) {
    // HTML first: a directory must never offer JSON without HTML (docs/protocol.md §2).
    await writeFileAtomic(join(dir, INDEX_HTML), renderProjectHtml(next));
    await writeFileAtomic(join(dir, INDEX_JSON), renderProjectJson(next));
  }
  // The replaced bytes go once no page links them, before the record forgets them: a kill in between
  // leaves a record naming a missing file, which the next run notices (isTreeIntact) and re-plans.
  const nextPaths = new Set(next.files.map(localRelPath));
  for (const old of replacing.values()) {
    if (!nextPaths.has(localRelPath(old))) await removeLocalFile(root, page.name, old);
  }
  await writeRecord(root, next);
  let filesRemoved = 0;
  const recordedByName = new Map((record?.files ?? []).map((f) => [f.filename, f]));
  for (const filename of plan.remove) {
    const old = recordedByName.get(filename) ?? { filename };
    if (await removeLocalFile(root, page.name, old)) filesRemoved++;
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

/** The record of `page` with `files` on disk (and what min_release_age held back). */
export function nextRecord(
  page: ProjectPage,
  displayName: string,
  files: LocalFile[],
  quarantine: QuarantineHold | null,
): ProjectRecord {
  return {
    ...(quarantine === null ? {} : { quarantine }),
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
export function emptyRecord(name: string, displayName: string): ProjectRecord {
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

/** Removes a mirrored file, its .metadata and its replaced-file directory once empty; false if it was gone. */
export async function removeLocalFile(
  root: string,
  project: string,
  file: { readonly filename: string; readonly path?: string },
): Promise<boolean> {
  const path = localFilePath(root, project, file);
  const isRemoved = await removeFile(path);
  await removeFile(`${path}.metadata`);
  if (file.path !== undefined) await rmdir(dirname(path)).catch(() => {}); // not empty, or gone: stays
  return isRemoved;
}

const CHANGED = 'upstream serves other bytes under a mirrored file name';
const HELD = `${CHANGED}; the mirrored file is kept (allow_replaced_files = true would replace it)`;

/** The one warning per changed file name per run: the project, the file, both digests, what was done. */
function warnChangedFile(
  ctx: ProjectContext,
  project: string,
  local: LocalFile,
  upstreamHashes: Readonly<Record<string, string>>,
  message: string,
): void {
  const sha256 = upstreamHashes['sha256'];
  ctx.log.warn(message, {
    project,
    file: local.filename,
    sha256: local.sha256,
    ...(sha256 === undefined ? { upstreamHashes } : { upstreamSha256: sha256 }),
  });
}

function warnChanged(ctx: ProjectContext, project: string, plan: ProjectPlan): void {
  for (const { local, upstream } of plan.held) {
    const message =
      ctx.cfg.allowReplacedFiles && namingDigest(upstream) === null
        ? `${CHANGED}; the mirrored file is kept (upstream gives no digest to store the new bytes by)`
        : HELD;
    warnChangedFile(ctx, project, local, upstream.hashes, message);
  }
  for (const { local, upstream } of plan.replace) {
    warnChangedFile(
      ctx,
      project,
      local,
      upstream.hashes,
      `${CHANGED}; it is replaced (allow_replaced_files = true)`,
    );
  }
}

/** An unchanged project still warns, every run, about the changes it holds (from its record). */
function warnHeldFromRecord(ctx: ProjectContext, record: ProjectRecord): void {
  for (const file of record.files) {
    if (file.heldUpstreamHashes !== undefined)
      warnChangedFile(ctx, record.name, file, file.heldUpstreamHashes, HELD);
  }
}

/**
 * Where a download goes, relative to the project directory, or the verified file already there (resume:
 * a file renamed into place by an interrupted run was verified before the rename). Beside the page unless
 * the name's published bytes differ (`isReplacement`) or something else is in the way there: then to
 * `<16 hex>/<filename>`. A file in the way is never overwritten (a page may link it) and stays.
 */
async function chooseTarget(
  ctx: ProjectContext,
  project: string,
  up: UpstreamFile,
  isReplacement: boolean,
): Promise<{ rel: string; adopted: { sha256: string; size: number } | null }> {
  const digest = namingDigest(up);
  const moved = digest === null ? null : replacedFileRelPath(up.filename, digest);
  const candidates = isReplacement ? [moved] : [up.filename, moved];
  const sha = up.hashes['sha256'];
  const dir = projectDir(ctx.cfg.mirrorRoot, project);
  for (const rel of candidates) {
    if (rel === null) continue;
    const path = join(dir, rel);
    const size = await fileSize(path);
    if (size === null) return { rel, adopted: null };
    if (sha !== undefined && (up.size === null || size === up.size)) {
      const onDisk = await hashFile(path, ctx.signal);
      if (onDisk !== null && onDisk.sha256 === sha) return { rel, adopted: onDisk };
    }
    ctx.log.warn('a file with other bytes is in the way of a download; it stays', { project, path: rel });
  }
  throw new StoreError(
    'STORE_EXISTS',
    `${join(dir, up.filename)}: no free path for the upstream's bytes (files with other bytes are there)`,
  );
}

/** The `<16 hex>/` directory of replaced files: created 0755, and never a symlink or anything but a directory. */
async function ensureHashDir(dir: string): Promise<void> {
  await ensureDir(dir);
  const info = await lstat(dir);
  if (!info.isDirectory() || info.isSymbolicLink()) {
    throw new StoreError(
      'STORE_IO',
      `${dir}: not a directory of ours (a symlink or a file); nothing written`,
    );
  }
}

/** Downloads one file (or adopts a verified copy already on disk), then its .metadata if offered. */
async function fetchFile(
  ctx: ProjectContext,
  project: string,
  up: UpstreamFile,
  isReplacement: boolean,
): Promise<{ file: LocalFile; bytes: number }> {
  const { rel, adopted } = await chooseTarget(ctx, project, up, isReplacement);
  const target = join(projectDir(ctx.cfg.mirrorRoot, project), rel);
  const base = {
    filename: up.filename,
    ...(rel === up.filename ? {} : { path: rel }),
    url: up.url,
    upstreamHashes: up.hashes,
    requiresPython: up.requiresPython,
    yanked: up.yanked,
    uploadTime: up.uploadTime,
  };
  if (adopted !== null) {
    ctx.log.debug('file adopted from disk', { project, file: rel });
    return {
      file: { ...base, ...adopted, metadataSha256: await fetchMetadata(ctx, project, target, up) },
      bytes: 0,
    };
  }
  if (rel !== up.filename) {
    await ensureHashDir(dirname(target));
    await removeTempFiles(dirname(target));
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
  ctx.log.info('file fetched', { project, file: rel, bytes: stored.size });
  ctx.onFileFetched(stored.size);
  const metadataSha256 = await fetchMetadata(ctx, project, target, up);
  return { file: { ...base, sha256: stored.sha256, size: stored.size, metadataSha256 }, bytes: stored.size };
}

/**
 * Writes <file>.metadata (PEP 658) when upstream offers it: from the wheel on disk when its METADATA has the
 * page's digest (no request), else fetched. A failure is not fatal: the page then simply does not advertise
 * metadata, and the next run tries again.
 */
async function fetchMetadata(
  ctx: ProjectContext,
  project: string,
  filePath: string,
  up: UpstreamFile,
): Promise<string | null> {
  if (up.coreMetadata === null) return null;
  const fromWheel = await writeMetadataFromWheel(filePath, up.filename, up.coreMetadata, ctx.log, project);
  if (fromWheel !== null) return fromWheel;
  const target = `${filePath}.metadata`;
  try {
    // A page advertises the .metadata only once its record has it, so a leftover may be replaced.
    const stored = await downloadWithRetries(ctx, project, `${up.url}.metadata`, target, {
      hashes: up.coreMetadata,
      size: null,
      mayReplace: true,
    });
    return stored.sha256;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    await rm(target, { force: true });
    ctx.log.warn('core metadata not mirrored', { project, file: up.filename, error: describeError(err) });
    return null;
  }
}
