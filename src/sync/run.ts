// One sync run (DESIGN.md "One sync"): discover → sync changed projects through one fair pool →
// root page → state. The caller holds the run lock.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { INDEX_HTML, INDEX_JSON, stateDir } from '../mirror/layout.js';
import { claimRoot, removeOwnedProject } from '../mirror/ownership.js';
import type { ProjectRecord } from '../mirror/record.js';
import { renderRootHtml, renderRootJson, type RootEntry } from '../mirror/render.js';
import { type MirroredProject, readRecord, readState, removeRecord, writeState } from '../mirror/state.js';
import { compileFilters } from '../plan/filters.js';
import type { Upstream } from '../upstream/types.js';
import { removeTempFiles, writeFileAtomic } from '../util/fs.js';
import { createPool, createSemaphore, forEachWindowed } from '../util/pool.js';
import { type Candidate, discover, settleDiscovery } from './discover.js';
import { type ProjectContext, type ProjectOutcome, syncProject } from './project.js';
import type { RetryPolicy } from './retrying-download.js';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, DEFAULT_RETRIES } from '../upstream/retry.js';
import {
  formatSummary,
  isReportOk,
  type ProjectFailure,
  type SyncProgress,
  type SyncReport,
} from './report.js';

/**
 * Projects past their page fetch whose files are still downloading, at most: each holds only its plan,
 * and they all take turns in the one pool. Bounds memory on a first sync of a very large selection.
 */
const MAX_PROJECTS_IN_FLIGHT = 1000;

/** Received files waiting for their fdatasync and rename, per worker, before a connection waits for the disk. */
const PUBLISHING_PER_WORKER = 4;

export interface SyncDeps {
  readonly upstream: Upstream;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Retries of a failed file transfer (default: 4, from 500 ms, backing off to 30 s). */
  readonly retry?: RetryPolicy;
  /** Told after every file and every project (`sync` on a terminal draws a progress line from it). */
  readonly onProgress?: (progress: SyncProgress) => void;
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

export async function runSync(deps: SyncDeps, cfg: Config, outer: AbortSignal): Promise<SyncReport> {
  // The run's own signal: every request in flight listens to it (pool slots, retries, file reads), more
  // than EventTarget's default warning threshold of 10 with `workers` above 8 or so.
  const runCtl = new AbortController();
  setMaxListeners(0, runCtl.signal);
  const onAbort = (): void => runCtl.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  try {
    return await runSyncWith(deps, cfg, runCtl.signal);
  } finally {
    outer.removeEventListener('abort', onAbort);
  }
}

async function runSyncWith(deps: SyncDeps, cfg: Config, signal: AbortSignal): Promise<SyncReport> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const log = deps.log;
  const root = cfg.mirrorRoot;
  // Refuses a root that is not ours (a system directory, a file, foreign entries: ConfigError, exit 2).
  const foreign = new Set((await claimRoot(cfg, started)).foreign);
  await removeTempFiles(root, foreign);
  await removeTempFiles(stateDir(root));
  const state = await readState(root);
  const filters = compileFilters(cfg.packageMatches, cfg.filenameMatches);
  const scopeKey = computeScopeKey(cfg);
  const upKey = upstreamKey(cfg);
  const isRescoped = state.scopeKey !== scopeKey;
  const isUpstreamChanged = state.upstreamKey !== null && state.upstreamKey !== upKey;
  let requests = 0;

  // 1. Discovery.
  const found = await discover({
    upstream: deps.upstream,
    log,
    cfg,
    state,
    filters,
    isRescoped,
    isUpstreamChanged,
    signal,
    now: started,
  });
  const { selected, toSync, deletionsHeld } = found;
  requests += found.requests;
  const mirrored = new Map<string, MirroredProject>(Object.entries(state.projects));
  log.info('sync started', {
    discovery: found.mode,
    selected: selected.size,
    toCheck: toSync.length,
    isRescoped,
  });

  // 2. Projects, all through one fair pool of `workers` upstream requests.
  const pool = createPool(cfg.workers);
  // A download holds its connection slot until the body is in, then publishes (fdatasync, rename) outside
  // it; these permits bound the files waiting for publication, so a slow disk cannot pile up open files.
  const publishing = createSemaphore(cfg.workers * PUBLISHING_PER_WORKER);
  const progress = { projectsDone: 0, projectsToCheck: toSync.length, filesFetched: 0, bytesFetched: 0 };
  const ctx: ProjectContext = {
    cfg,
    filters,
    upstream: deps.upstream,
    pool,
    publishing,
    log,
    signal,
    isDeletionAllowed: deletionsHeld === null,
    isUpstreamChanged,
    foreign,
    retry: deps.retry ?? {
      retries: DEFAULT_RETRIES,
      minMs: DEFAULT_MIN_DELAY_MS,
      maxMs: DEFAULT_MAX_DELAY_MS,
    },
    countRequest: () => requests++,
    onFileFetched: (bytes) => {
      progress.filesFetched++;
      progress.bytesFetched += bytes;
      deps.onProgress?.({ ...progress });
    },
  };
  const projects = new Map(mirrored);
  const failures: ProjectFailure[] = [];
  const deferred: string[] = [];
  const retryLater: Candidate[] = [];
  const gone: string[] = [];
  const removals = new Set<string>();
  /** Projects whose every file left the selection (with their previous record): their directory goes after the root page. */
  const emptied = new Map<string, ProjectRecord | null>();
  let projectsChanged = 0;
  let filesFetched = 0;
  let bytesFetched = 0;
  let filesRemoved = 0;
  let isAborted = false;
  const keepProject = (record: ProjectRecord, c: Candidate): void => {
    const serial = Math.max(c.serial ?? -1, record.serial ?? -1);
    const entry = { displayName: c.displayName, serial: serial < 0 ? null : serial };
    projects.set(c.name, record.files.length === 0 ? { ...entry, isEmpty: true } : entry);
  };
  // A project that failed or was deferred is fetched again next run, whatever the serials say.
  const forgetSerial = (name: string): void => {
    const previous = projects.get(name);
    if (previous !== undefined) projects.set(name, { ...previous, serial: null });
  };
  try {
    await forEachWindowed(toSync, cfg.workers * 4, MAX_PROJECTS_IN_FLIGHT, async (c, started) => {
      if (signal.aborted) return;
      let record: ProjectRecord | null = null;
      let outcome: ProjectOutcome;
      try {
        record = await readRecord(root, c.name);
        outcome = await syncProject(ctx, c.name, c.displayName, c.serial, record, isRescoped, started);
      } catch (err) {
        if (signal.aborted) throw err;
        outcome = { kind: 'failed', reason: err instanceof Error ? err.message : String(err) };
      }
      progress.projectsDone++;
      deps.onProgress?.({ ...progress });
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
          keepProject(outcome.record, c);
          if ((record?.files.length ?? 0) > 0) {
            emptied.set(c.name, record);
            projectsChanged++;
          }
          log.debug('no file selected; the project has no page', { project: c.name });
          break;
        case 'gone':
          gone.push(c.name);
          if (record !== null || mirrored.has(c.name)) removals.add(c.name);
          else log.warn('project listed upstream but its page is missing', { project: c.name });
          break;
        case 'stale':
          forgetSerial(c.name);
          retryLater.push(c);
          deferred.push(c.name);
          log.warn('upstream page is stale; retrying next run', { project: c.name, ...outcome });
          break;
        case 'failed':
          forgetSerial(c.name);
          retryLater.push(c);
          failures.push({ project: c.name, reason: outcome.reason });
          log.error('project failed; its previous page stays', { project: c.name, error: outcome.reason });
          break;
        case 'skipped':
          forgetSerial(c.name);
          log.warn('project skipped: its directory is not one pypimirror wrote', {
            project: c.name,
            reason: outcome.reason,
          });
          break;
      }
    });
  } catch (err) {
    if (!signal.aborted) throw err;
    isAborted = true;
  }
  for (const name of found.toRemove) removals.add(name);
  // Literal mode: when every project answered 404 at once, the upstream must show it is healthy first.
  let held = deletionsHeld;
  if (held === null && !isAborted) {
    const check = await found.checkGone(gone, signal);
    requests += check.requests;
    held = check.held;
  }

  // 3. Removals (cleanup), root page, then removal of directories the root page no longer links.
  const removed: string[] = [];
  if (removals.size > 0 && !isAborted) {
    if (!cfg.cleanup) {
      log.info('cleanup is off; projects no longer selected or upstream are kept', {
        projects: [...removals],
      });
    } else if (held !== null) {
      log.warn(`deletions held: ${held}`, { projects: removals.size });
    } else {
      for (const name of removals) {
        projects.delete(name);
        removed.push(name);
      }
    }
  }
  const entries: RootEntry[] = [...projects.entries()]
    .filter(([, p]) => p.isEmpty !== true)
    .map(([name, p]) => ({ name, displayName: p.displayName }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const isRootChanged =
    projectsChanged > 0 || removed.length > 0 || projects.size !== mirrored.size || state.lastRun === null;
  if (cfg.createIndexes && isRootChanged) {
    await writeFileAtomic(join(root, INDEX_HTML), renderRootHtml(entries, cfg.baseUrl));
    await writeFileAtomic(join(root, INDEX_JSON), renderRootJson(entries));
  }
  // Only what the records say we wrote goes, never through a symlink (ownership.ts).
  for (const name of removed) {
    const record = await readRecord(root, name).catch(() => null);
    filesRemoved += await removeOwnedProject(root, name, record, log);
    await removeRecord(root, name);
    log.info('project removed', { project: name });
  }
  for (const [name, record] of emptied) {
    filesRemoved += await removeOwnedProject(root, name, record, log);
    log.info('no file of the project is selected any more; its page and files are removed', {
      project: name,
    });
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
    deletionsHeld: removals.size > 0 ? held : null,
    listingFailed: found.isListingFailed,
    aborted: isAborted,
    requests,
  };
  await writeState(root, {
    formatVersion: 1,
    scopeKey: isAborted ? state.scopeKey : scopeKey,
    upstreamKey: upKey,
    // An interrupted run keeps the old serial, so the changes it did not reach are found again.
    lastSerial: (isAborted ? null : found.lastSerial) ?? state.lastSerial,
    listingCount: found.listingCount ?? state.listingCount,
    projects: Object.fromEntries([...projects.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    lastRun: { startedAt: report.startedAt, finishedAt: report.finishedAt, ok: isReportOk(report) },
    discovery: settleDiscovery(found, state, {
      projects,
      retryLater,
      isAborted,
      isDeletionHeld: removals.size > 0 && held !== null,
    }),
  });
  (isReportOk(report) ? log.info : log.warn).call(log, formatSummary(report), { summary: true });
  return report;
}
