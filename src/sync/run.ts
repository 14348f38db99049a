// One sync run (DESIGN.md "One sync"): discover → sync changed projects through one fair pool →
// root page → state. The caller holds the run lock.
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { INDEX_HTML, INDEX_JSON, projectDir, stateDir } from '../mirror/layout.js';
import type { ProjectRecord } from '../mirror/record.js';
import { renderRootHtml, renderRootJson, type RootEntry } from '../mirror/render.js';
import { type MirroredProject, readRecord, readState, removeRecord, writeState } from '../mirror/state.js';
import { compileFilters } from '../plan/filters.js';
import { normalizeName } from '../plan/names.js';
import type { ProjectListing, Upstream } from '../upstream/types.js';
import { removeTempFiles, writeFileAtomic } from '../util/fs.js';
import { createPool, mapLimit } from '../util/pool.js';
import { type ProjectContext, syncProject } from './project.js';
import type { RetryPolicy } from './retrying-download.js';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, DEFAULT_RETRIES } from '../upstream/retry.js';
import { formatSummary, isReportOk, type ProjectFailure, type SyncReport } from './report.js';

export interface SyncDeps {
  readonly upstream: Upstream;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Retries of a failed file transfer (default: 4, from 500 ms, backing off to 30 s). */
  readonly retry?: RetryPolicy;
}

/** Everything that decides what the tree holds. A change re-plans every project (from stored pages). */
export function computeScopeKey(cfg: Config): string {
  const scope = [
    cfg.indexUrl.href,
    cfg.packageMatches.join('\n'),
    cfg.filenameMatches.join('\n'),
    cfg.cleanup,
  ];
  return createHash('sha256').update(JSON.stringify(scope)).digest('hex').slice(0, 32);
}

function upstreamKey(cfg: Config): string {
  return createHash('sha256').update(cfg.indexUrl.href).digest('hex').slice(0, 32);
}

/** Why deletions must wait this run (DESIGN.md "One sync" 7), or null when they may go ahead. */
export function holdDeletions(listing: ProjectListing | null, previousCount: number | null): string | null {
  if (listing === null) return 'the upstream listing could not be fetched';
  const count = listing.projects.length;
  if (count === 0) return 'the upstream listing was empty';
  if (previousCount !== null && count < previousCount / 2) {
    return `the upstream listing shrank from ${previousCount} to ${count} projects (more than half)`;
  }
  return null;
}

interface Candidate {
  readonly name: string;
  readonly displayName: string;
  /** Serial the listing gave for it, or null. */
  readonly serial: number | null;
}

export async function runSync(deps: SyncDeps, cfg: Config, signal: AbortSignal): Promise<SyncReport> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const log = deps.log;
  const root = cfg.mirrorRoot;
  await mkdir(join(stateDir(root), 'projects'), { recursive: true });
  await removeTempFiles(root);
  await removeTempFiles(stateDir(root));
  const state = await readState(root);
  const filters = compileFilters(cfg.packageMatches, cfg.filenameMatches);
  const scopeKey = computeScopeKey(cfg);
  const upKey = upstreamKey(cfg);
  const isRescoped = state.scopeKey !== scopeKey;
  const isUpstreamChanged = state.upstreamKey !== null && state.upstreamKey !== upKey;
  let requests = 0;

  // 1. Discovery.
  let listing: ProjectListing | null = null;
  try {
    requests++;
    listing = await deps.upstream.fetchListing(signal);
  } catch (err) {
    signal.throwIfAborted();
    log.error('upstream listing failed', { error: err instanceof Error ? err.message : String(err) });
  }
  const deletionsHeld = holdDeletions(listing, state.listingCount);
  const selected = new Map<string, Candidate>();
  for (const p of listing?.projects ?? []) {
    const name = normalizeName(p.name);
    if (!selected.has(name) && filters.matchProject(name)) {
      selected.set(name, { name, displayName: p.name, serial: p.serial });
    }
  }
  const mirrored = new Map<string, MirroredProject>(Object.entries(state.projects));
  if (listing === null) {
    // Without a listing, still refresh what we have (conditionally), but add and delete nothing.
    for (const [name, p] of mirrored) {
      if (filters.matchProject(name)) selected.set(name, { name, displayName: p.displayName, serial: null });
    }
  }
  const toSync: Candidate[] = [];
  for (const c of selected.values()) {
    const previous = mirrored.get(c.name);
    const isUnchanged =
      !isRescoped && previous !== undefined && c.serial !== null && previous.serial === c.serial;
    if (!isUnchanged) toSync.push(c);
  }
  const toRemove = [...mirrored.keys()].filter((name) => !selected.has(name));
  log.info('sync started', {
    upstream: listing?.format ?? 'unavailable',
    listed: listing?.projects.length ?? 0,
    selected: selected.size,
    toCheck: toSync.length,
    isRescoped,
  });

  // 2. Projects, all through one fair pool of `workers` upstream requests.
  const pool = createPool(cfg.workers);
  const ctx: ProjectContext = {
    cfg,
    filters,
    upstream: deps.upstream,
    pool,
    log,
    signal,
    isDeletionAllowed: deletionsHeld === null,
    isUpstreamChanged,
    retry: deps.retry ?? {
      retries: DEFAULT_RETRIES,
      minMs: DEFAULT_MIN_DELAY_MS,
      maxMs: DEFAULT_MAX_DELAY_MS,
    },
    countRequest: () => requests++,
  };
  const projects = new Map(mirrored);
  const failures: ProjectFailure[] = [];
  const deferred: string[] = [];
  const removals = new Set<string>();
  let projectsChanged = 0;
  let filesFetched = 0;
  let bytesFetched = 0;
  let filesRemoved = 0;
  let isAborted = false;
  const keepProject = (record: ProjectRecord, c: Candidate): void => {
    const serial = Math.max(c.serial ?? -1, record.serial ?? -1);
    projects.set(c.name, { displayName: c.displayName, serial: serial < 0 ? null : serial });
  };
  // A project that failed or was deferred is fetched again next run, whatever the serials say.
  const forgetSerial = (name: string): void => {
    const previous = projects.get(name);
    if (previous !== undefined) projects.set(name, { ...previous, serial: null });
  };
  try {
    await mapLimit(toSync, cfg.workers * 4, async (c) => {
      if (signal.aborted) return;
      const record = await readRecord(root, c.name);
      const outcome = await syncProject(ctx, c.name, c.displayName, c.serial, record, isRescoped);
      switch (outcome.kind) {
        case 'unchanged':
          keepProject(outcome.record, c);
          break;
        case 'synced':
          keepProject(outcome.record, c);
          projectsChanged++;
          filesFetched += outcome.filesFetched;
          bytesFetched += outcome.bytesFetched;
          filesRemoved += outcome.filesRemoved;
          log.info('project synced', { project: c.name, files: outcome.record.files.length });
          break;
        case 'empty':
          if (record !== null) removals.add(c.name);
          else log.debug('no file selected; project not mirrored', { project: c.name });
          break;
        case 'gone':
          if (record !== null || mirrored.has(c.name)) removals.add(c.name);
          else log.warn('project listed upstream but its page is missing', { project: c.name });
          break;
        case 'stale':
          forgetSerial(c.name);
          deferred.push(c.name);
          log.warn('upstream page is stale; retrying next run', { project: c.name, ...outcome });
          break;
        case 'failed':
          forgetSerial(c.name);
          failures.push({ project: c.name, reason: outcome.reason });
          log.error('project failed; its previous page stays', { project: c.name, error: outcome.reason });
          break;
      }
    });
  } catch (err) {
    if (!signal.aborted) throw err;
    isAborted = true;
  }
  for (const name of toRemove) removals.add(name);

  // 3. Removals (cleanup), root page, then removal of directories the root page no longer links.
  const removed: string[] = [];
  if (removals.size > 0 && !isAborted) {
    if (!cfg.cleanup) {
      log.info('cleanup is off; projects no longer selected or upstream are kept', {
        projects: [...removals],
      });
    } else if (deletionsHeld !== null) {
      log.warn(`deletions held: ${deletionsHeld}`, { projects: removals.size });
    } else {
      for (const name of removals) {
        projects.delete(name);
        removed.push(name);
      }
    }
  }
  const entries: RootEntry[] = [...projects.entries()]
    .map(([name, p]) => ({ name, displayName: p.displayName }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const isRootChanged =
    projectsChanged > 0 || removed.length > 0 || projects.size !== mirrored.size || state.lastRun === null;
  if (cfg.createIndexes && isRootChanged) {
    await writeFileAtomic(join(root, INDEX_HTML), renderRootHtml(entries, cfg.baseUrl));
    await writeFileAtomic(join(root, INDEX_JSON), renderRootJson(entries));
  }
  for (const name of removed) {
    const record = await readRecord(root, name).catch(() => null);
    filesRemoved += record?.files.length ?? 0;
    await rm(projectDir(root, name), { recursive: true, force: true });
    await removeRecord(root, name);
    log.info('project removed', { project: name });
  }
  const finished = now();
  const report: SyncReport = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    projectsChecked: selected.size,
    projectsChanged: projectsChanged + removed.length,
    projectsRemoved: removed.length,
    filesFetched,
    bytesFetched,
    filesRemoved,
    failures,
    deferred,
    deletionsHeld: removals.size > 0 ? deletionsHeld : null,
    listingFailed: listing === null,
    aborted: isAborted,
    requests,
  };
  await writeState(root, {
    formatVersion: 1,
    scopeKey: isAborted ? state.scopeKey : scopeKey,
    upstreamKey: upKey,
    lastSerial: listing?.serial ?? state.lastSerial,
    listingCount: listing === null ? state.listingCount : listing.projects.length,
    projects: Object.fromEntries([...projects.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    lastRun: { startedAt: report.startedAt, finishedAt: report.finishedAt, ok: isReportOk(report) },
  });
  (isReportOk(report) ? log.info : log.warn).call(log, formatSummary(report), { summary: true });
  return report;
}
