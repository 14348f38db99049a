// Syncs one project: page → plan → verified downloads → page → record → removals.
// Order matters: a page is written only after every file it links is in place, and files are removed
// only after the page that no longer links them is written. A published file is never overwritten: new
// bytes under a mirrored name go to a new path (`<16 hex>/<filename>`), then the page links them, then
// the old file goes, so no instant shows a page whose hash and bytes differ.
import { isDeepStrictEqual } from 'node:util';
import { UpstreamError } from '../errors.js';
import { localRelPath, whyUnstorableFilename } from '../model/layout.js';
import { claimProject, whyProjectDirIsNotOurs } from '../mirror/ownership.js';
import type { LocalFile, ProjectRecord } from '../model/record.js';
import { writeRecord } from '../mirror/state.js';
import {
  namingDigest,
  orderFiles,
  planProject,
  type ProjectPlan,
  type SuspectPage,
} from '../plan/planner.js';
import type { QuarantineHold } from '../model/holds.js';
import { fileKey, projectKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import type { ProjectPage, UpstreamFile } from '../model/upstream.js';
import { checkKeptFiles, type DiskCheck } from './disk-check.js';
import { fetchFile, fetchMetadata } from './fetch-file.js';
import {
  describeError,
  type ProjectContext,
  settleAdmitted,
  settleWindowed,
  sizeAt,
} from './project-context.js';
import { withUploadTimes } from './release-times.js';

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
  const { upstream, signal } = ctx;
  const notOurs = await whyProjectDirIsNotOurs(ctx.storage, name, record !== null, ctx.foreign ?? new Set());
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
      if (!isRescoped && (await isTreeIntact(ctx.storage, record))) {
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

/** Are the record's files still in the tree with their recorded sizes? (A stat each; no hashing.) */
async function isTreeIntact(storage: Storage, record: ProjectRecord): Promise<boolean> {
  const sizes = await settleWindowed(
    record.files,
    async (f) => (await sizeAt(storage, fileKey(record.name, f))) === f.size,
  );
  return sizes.every((r) => r.status === 'fulfilled' && r.value);
}

/** A project's plan, with what is on disk checked: the files to keep, those to download, those damaged. */
interface CheckedPlan {
  readonly page: ProjectPage;
  readonly plan: ProjectPlan;
  readonly keep: LocalFile[];
  readonly download: UpstreamFile[];
  /** Keys of recorded files whose size on disk is wrong: removed before the download. */
  readonly damaged: string[];
  /** Mirrored files whose new bytes go to a new path; the old file goes once the page links the new one. */
  readonly replacing: Map<string, LocalFile>;
  /** False when the project's directory was listed and holds no temp file (disk-check.ts). */
  readonly mayHoldTempFiles: boolean;
}

/** Plans `page` against `record` (plan/planner.ts), then checks the files to keep against the tree. */
async function planPage(
  ctx: ProjectContext,
  page: ProjectPage,
  record: ProjectRecord | null,
  diskCheck: DiskCheck,
): Promise<CheckedPlan> {
  const { cfg, log, storage } = ctx;
  // The decoders skip names that cannot be stored; a page rebuilt from an older record may still hold one.
  const unstorable = page.files.filter((file) => whyUnstorableFilename(file.filename) !== null);
  for (const f of unstorable) {
    log.warn('file skipped: its name cannot be stored', { project: page.name, file: f.filename });
  }
  // The page itself when every name can be stored (a re-plan's is the record's: told unchanged by identity).
  if (unstorable.length > 0) page = { ...page, files: page.files.filter((f) => !unstorable.includes(f)) };
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
  const replacing = new Map(plan.replace.map((c) => [c.local.filename, c.local]));
  // Files the record says we have but that are gone or changed on disk are fetched again. Damaged bytes
  // go first (the page names others); the upstream's come back beside the page, or to a new path when
  // they are not the bytes the page names (a held change).
  const keep: LocalFile[] = [];
  const download: UpstreamFile[] = [...plan.download];
  const damaged: string[] = [];
  const byName = new Map(page.files.map((f) => [f.filename, f]));
  const { sizes, mayHoldTempFiles } = await checkKeptFiles(storage, page.name, plan.keep, diskCheck);
  plan.keep.forEach((file, i) => {
    const size = sizes[i] ?? null;
    if (size === file.size) {
      keep.push(file);
      return;
    }
    if (size !== null) damaged.push(fileKey(page.name, file));
    download.push(byName.get(file.filename) as UpstreamFile);
    if (file.heldUpstreamHashes !== undefined) replacing.set(file.filename, file);
  });
  return { page, plan, keep, download, damaged, replacing, mayHoldTempFiles };
}

/** What a project's downloads brought: the verified files, the failures, the kept files with their `.metadata`. */
interface Fetched {
  readonly fetched: LocalFile[];
  readonly errors: string[];
  readonly bytesFetched: number;
  readonly filesFetched: number;
  readonly kept: LocalFile[];
}

/** Downloads what the plan lacks (as the run's permits allow), then the `.metadata` files of kept ones. */
async function fetchPlanned(ctx: ProjectContext, checked: CheckedPlan): Promise<Fetched> {
  const { page, plan, download, replacing } = checked;
  const results = await settleAdmitted(download, ctx.downloads, page.name, (file) =>
    fetchFile(ctx, page.name, file, replacing.has(file.filename)),
  );
  const out = { fetched: [] as LocalFile[], errors: [] as string[], bytesFetched: 0, filesFetched: 0 };
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      out.fetched.push(result.value.file);
      out.bytesFetched += result.value.bytes;
      out.filesFetched += result.value.bytes > 0 ? 1 : 0;
    } else {
      out.errors.push(`${download[i]?.filename}: ${describeError(result.reason)}`);
    }
  });
  if (ctx.signal.aborted) ctx.signal.throwIfAborted();
  const metadataOf = new Map(plan.fetchMetadata.map((f) => [f.filename, f]));
  const kept = (
    await settleWindowed(checked.keep, async (file) => {
      const up = metadataOf.get(file.filename);
      if (up === undefined) return file;
      return { ...file, metadataSha256: await fetchMetadata(ctx, page.name, fileKey(page.name, file), up) };
    })
  ).map((r) => {
    if (r.status === 'rejected') throw r.reason; // only an abort: a failed .metadata is a warning
    return r.value;
  });
  return { ...out, kept };
}

/**
 * A project whose files did not all come: the previous page stays; the verified files that did come are
 * remembered so they are not fetched again. New bytes under a name the page still links stay out of the
 * record (the record says what the page links); the next run finds them at their new path and adopts them.
 */
async function rememberPartial(
  ctx: ProjectContext,
  checked: CheckedPlan,
  displayName: string,
  record: ProjectRecord | null,
  got: Fetched,
): Promise<ProjectOutcome> {
  const name = checked.page.name;
  const recorded = got.fetched.filter((f) => !checked.replacing.has(f.filename));
  const fetchedNames = new Set(recorded.map((f) => f.filename));
  const previous = (record?.files ?? []).filter((f) => !fetchedNames.has(f.filename));
  if (recorded.length > 0) {
    await writeRecord(ctx.storage, {
      ...(record ?? emptyRecord(name, displayName)),
      files: [...previous, ...recorded],
    });
  }
  for (const e of got.errors) ctx.log.error('file failed', { project: name, error: e });
  return { kind: 'failed', reason: got.errors.join('; ') };
}

/**
 * Plans `page` against `record`, fetches what is missing, publishes page and record, removes what may go.
 * `diskCheck`: how the files kept are checked in the tree (disk-check.ts).
 */
export async function applyPage(
  ctx: ProjectContext,
  page: ProjectPage,
  displayName: string,
  record: ProjectRecord | null,
  onPlanned: () => void = () => {},
  diskCheck: DiskCheck = 'size',
): Promise<ProjectOutcome> {
  const { storage } = ctx;
  const checked = await planPage(ctx, page, record, diskCheck);
  const { plan, download, replacing } = checked;
  page = checked.page;
  if (ctx.isDryRun === true)
    return { kind: 'planned', download, unlinked: plan.unlinked, suspect: plan.suspect };
  for (const key of checked.damaged) await storage.remove(key);
  if (checked.keep.length + download.length + plan.retain.length === 0) {
    // Remembered like any project, so unchanged serials and ETags spare its page next time; the run
    // removes its directory (if it had one) after the root page stops linking it.
    const empty = nextRecord(page, displayName, [], plan.quarantine);
    await writeRecord(storage, empty);
    return { kind: 'empty', record: empty };
  }
  // The record comes before the directory, so a directory without one is never taken for ours (ownership.ts).
  if (record === null) await claimProject(storage, emptyRecord(page.name, displayName));
  if (checked.mayHoldTempFiles) await storage.sweep(projectKey(page.name));
  onPlanned();
  const got = await fetchPlanned(ctx, checked);
  if (got.errors.length > 0) return rememberPartial(ctx, checked, displayName, record, got);
  const next = nextRecord(
    page,
    displayName,
    orderFiles(page, [...got.kept, ...got.fetched, ...plan.retain]),
    plan.quarantine,
  );
  // A re-plan that changes nothing (the page as stored, a new scope that keeps every file): the pages and
  // the record on disk already say this, and rewriting them would cost three fsyncs per project.
  const isUnchanged =
    record !== null &&
    got.fetched.length === 0 &&
    replacing.size === 0 &&
    plan.remove.length === 0 &&
    plan.unlinked.length === 0 &&
    plan.suspect === null &&
    isDeepStrictEqual(next, record);
  if (isUnchanged) return { kind: 'unchanged', record };
  // The replaced bytes go once no page links them, before the record forgets them: a kill in between
  // leaves a record naming a missing file, which the next run notices (isTreeIntact) and re-plans.
  const nextPaths = new Set(next.files.map(localRelPath));
  const recordedByName = new Map((record?.files ?? []).map((f) => [f.filename, f]));
  const filesRemoved = await ctx.publisher.project({
    record: next,
    forgotten: [...replacing.values()].filter((old) => !nextPaths.has(localRelPath(old))),
    removals: plan.remove.map((filename) => recordedByName.get(filename) ?? { filename }),
  });
  for (const filename of plan.remove) ctx.log.info('file removed', { project: page.name, file: filename });
  return {
    kind: 'synced',
    record: next,
    filesFetched: got.filesFetched,
    bytesFetched: got.bytesFetched,
    filesRemoved,
    unlinked: plan.unlinked,
    suspect: plan.suspect,
  };
}

/**
 * A project planned again from its record's page, no page fetched (a filter change the changelog vouches
 * for, a closure round): its kept files are checked by one listing of its directory (disk-check.ts
 * 'presence'; `listed`: the listing read ahead): a file removed by hand is fetched again here, one changed
 * in place when its page is next fetched, or by `verify`.
 */
export function replanFromRecord(
  ctx: ProjectContext,
  record: ProjectRecord,
  displayName: string,
  onPlanned: () => void,
  listed?: readonly string[],
): Promise<ProjectOutcome> {
  const check = listed === undefined ? 'presence' : { listed };
  return applyPage(ctx, pageFromRecord(record, null), displayName, record, onPlanned, check);
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
