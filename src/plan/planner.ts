// The planner: (upstream page, local record, filters) → what to download, keep, remove. Pure.
import type { LocalFile, ProjectRecord } from '../model/record.js';
import type { ProjectPage, UpstreamFile } from '../model/upstream.js';
import type { Filters } from './filters.js';
import type { QuarantineHold } from '../model/holds.js';
import { splitByReleaseTime, type ReleaseTimePolicy } from './quarantine.js';

export interface ProjectPlan {
  readonly name: string;
  /** Selected upstream files that are not on disk with the upstream hash. */
  readonly download: readonly UpstreamFile[];
  /** Files on disk that stay, with attributes refreshed from upstream. */
  readonly keep: readonly LocalFile[];
  /** Files on disk that stay although no longer selected or upstream (cleanup off, or deletions held). */
  readonly retain: readonly LocalFile[];
  /** File names to delete from disk (with their .metadata) once the new page is written. */
  readonly remove: readonly string[];
  /** Kept files whose .metadata upstream now offers but we lack. */
  readonly fetchMetadata: readonly UpstreamFile[];
  /**
   * Files cleanup would delete (no longer upstream or selected): in `remove` when deletions are allowed,
   * else in `retain`, for the run's deletion guards to decide. Empty when cleanup is off or the page is suspect.
   */
  readonly unlinked: readonly string[];
  /** Why this page may not shrink the project (its files are all retained), or null. */
  readonly suspect: SuspectPage | null;
  /**
   * Mirrored files whose bytes upstream changed under the same name, to be replaced (allow_replaced_files):
   * each upstream entry is also in `download`, bound for a new path; the old file goes once the page
   * links the new one. Not a deletion: the file name stays on the page.
   */
  readonly replace: readonly ChangedFile[];
  /**
   * Mirrored files whose bytes upstream changed under the same name, kept as they are (allow_replaced_files
   * off, or no digest to name the new bytes by): each is in `keep`, its page entry unchanged, with
   * `heldUpstreamHashes` set. One warning each per run.
   */
  readonly held: readonly ChangedFile[];
  /** Files `min_release_age` holds back (not selected, not listed), and when the first comes of age; or null. */
  readonly quarantine: QuarantineHold | null;
}

/** A file name whose upstream bytes differ from the mirrored ones. */
interface ChangedFile {
  /** The mirrored file, as the record has it (the page links it). */
  readonly local: LocalFile;
  /** The upstream entry, with the new digests. */
  readonly upstream: UpstreamFile;
}

export interface PlanOptions {
  readonly cleanup: boolean;
  /** False while the run's deletion guards have not decided yet (or held): nothing is removed. */
  readonly isDeletionAllowed: boolean;
  /** allow_replaced_files: take new bytes under a mirrored name (default false: keep the mirrored file). */
  readonly allowReplacedFiles?: boolean;
  /** `sync --allow-deletions`: no page is suspect. */
  readonly isPageTrusted?: boolean;
  /** min_release_age and exclude_newer (quarantine.ts): files they leave out are not selected. Absent = none. */
  readonly releaseTimes?: ReleaseTimePolicy;
}

/**
 * A page that must not shrink its project this run: it lists no file while we hold some (`empty`), its body
 * may have ended early (`truncated`), or it dropped more than half of the project's mirrored files, and more
 * than one (`shrank`). Such a project may gain files but loses none.
 */
export interface SuspectPage {
  readonly reason: 'empty' | 'truncated' | 'shrank';
  /** Mirrored files the page no longer lists. */
  readonly dropped: number;
  /** Files the project has mirrored. */
  readonly mirrored: number;
}

/** The digest upstream gave for `algorithm`, or null. */
function upstreamSha256(file: UpstreamFile): string | null {
  return file.hashes['sha256'] ?? null;
}

/** Digests that may name a replaced file's directory, best first (as the store verifies). */
const NAMING_DIGESTS = ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'md5'] as const;

/**
 * The hex digest that names the directory new bytes under `file`'s name go to (model/layout.ts
 * `replacedFileRelPath`): sha256 when upstream gives it, else its strongest other digest; null without any.
 */
export function namingDigest(file: UpstreamFile): string | null {
  for (const algo of NAMING_DIGESTS) {
    const hex = file.hashes[algo];
    if (hex !== undefined && /^[0-9a-fA-F]{16,}$/.test(hex)) return hex.toLowerCase();
  }
  return null;
}

/** Is the local copy the same file as the upstream entry? */
function isSameFile(local: LocalFile, up: UpstreamFile): boolean {
  const sha = upstreamSha256(up);
  if (sha !== null) return sha === local.sha256;
  // Without a sha256 upstream, compare the other digests we were given, then the size.
  for (const [algo, hex] of Object.entries(up.hashes)) {
    const mine = local.upstreamHashes[algo];
    if (mine !== undefined) return mine === hex;
  }
  return up.size === null || up.size === local.size;
}

/** Are the two digest maps the same (keys and values)? */
function isSameHashes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * The same file with the upstream entry's attributes; a change held before is over. The record's own entry
 * when they are the ones it has (a re-plan from the record), so that an unchanged record is told cheaply.
 */
function refresh(local: LocalFile, up: UpstreamFile): LocalFile {
  const isCurrent =
    local.heldUpstreamHashes === undefined &&
    local.url === up.url &&
    local.requiresPython === up.requiresPython &&
    local.yanked === up.yanked &&
    local.uploadTime === up.uploadTime &&
    isSameHashes(local.upstreamHashes, up.hashes);
  if (isCurrent) return local;
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { heldUpstreamHashes: _over, ...rest } = local;
  return {
    ...rest,
    url: up.url,
    upstreamHashes: up.hashes,
    requiresPython: up.requiresPython,
    yanked: up.yanked,
    uploadTime: up.uploadTime,
  };
}

/**
 * A mirrored file kept although upstream serves other bytes under its name: its digests and bytes stay
 * (the page keeps linking them), the upstream's new digests are remembered, the name's attributes refreshed.
 */
function hold(local: LocalFile, up: UpstreamFile): LocalFile {
  return {
    ...local,
    url: up.url,
    requiresPython: up.requiresPython,
    yanked: up.yanked,
    uploadTime: up.uploadTime,
    heldUpstreamHashes: up.hashes,
  };
}

/** Is the page suspect (see SuspectPage)? A quarantined page (PEP 792) lists no file by design: never suspect. */
export function judgePage(page: ProjectPage, record: ProjectRecord | null): SuspectPage | null {
  const mirrored = record?.files.length ?? 0;
  if (mirrored === 0 || page.status === 'quarantined') return null;
  const listed = new Set(page.files.map((f) => f.filename));
  const dropped = (record?.files ?? []).filter((f) => !listed.has(f.filename)).length;
  if (page.files.length === 0) return { reason: 'empty', dropped, mirrored };
  if (dropped > 0 && page.isMaybeTruncated === true) return { reason: 'truncated', dropped, mirrored };
  if (dropped > 1 && dropped > mirrored / 2) return { reason: 'shrank', dropped, mirrored };
  return null;
}

export function planProject(
  page: ProjectPage,
  record: ProjectRecord | null,
  filters: Filters,
  opts: PlanOptions,
): ProjectPlan {
  const local = new Map((record?.files ?? []).map((f) => [f.filename, f]));
  const suspect = opts.isPageTrusted === true ? null : judgePage(page, record);
  const isRemovable = opts.cleanup && suspect === null;
  const canDelete = isRemovable && opts.isDeletionAllowed;
  const download: UpstreamFile[] = [];
  const keep: LocalFile[] = [];
  const fetchMetadata: UpstreamFile[] = [];
  const replace: ChangedFile[] = [];
  const held: ChangedFile[] = [];
  const seen = new Set<string>();
  // A quarantined project (PEP 792) lists no files; its page must expose none either.
  const listed = page.status === 'quarantined' ? [] : page.files;
  // Files too young (min_release_age) or too new (exclude_newer) are not there, for the version keys too.
  const timed =
    opts.releaseTimes === undefined ? null : splitByReleaseTime(listed, opts.releaseTimes, filters.matchFile);
  const upstreamFiles = timed?.admitted ?? listed;
  const selected = filters.selectFiles(page.name, upstreamFiles);
  for (const up of upstreamFiles) {
    if (seen.has(up.filename) || !selected.has(up.filename)) continue;
    seen.add(up.filename);
    const have = local.get(up.filename);
    if (have === undefined) {
      download.push(up);
    } else if (isSameFile(have, up)) {
      keep.push(refresh(have, up));
      if (have.metadataSha256 === null && up.coreMetadata !== null) fetchMetadata.push(up);
    } else if (opts.allowReplacedFiles === true && namingDigest(up) !== null) {
      // Published bytes never change under a page: the new bytes go to a new path (project.ts).
      replace.push({ local: have, upstream: up });
      download.push(up);
    } else {
      held.push({ local: have, upstream: up });
      keep.push(hold(have, up));
    }
  }
  const retain: LocalFile[] = [];
  const remove: string[] = [];
  const unlinked: string[] = [];
  for (const file of record?.files ?? []) {
    if (seen.has(file.filename)) continue; // kept, held or replaced
    if (isRemovable) unlinked.push(file.filename);
    if (canDelete) remove.push(file.filename);
    else retain.push(file);
  }
  const quarantine = timed?.hold ?? null;
  return {
    name: page.name,
    download,
    keep,
    retain,
    remove,
    fetchMetadata,
    unlinked,
    suspect,
    replace,
    held,
    quarantine,
  };
}

/** Page order: the upstream order of the page, then files no longer upstream in their old order. */
export function orderFiles(page: ProjectPage, files: readonly LocalFile[]): LocalFile[] {
  const rank = new Map(page.files.map((f, i) => [f.filename, i]));
  return files
    .map((f, i) => ({ f, key: rank.get(f.filename) ?? page.files.length + i }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.f);
}
