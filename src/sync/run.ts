// One sync run (docs/architecture.md "One sync"): discover → sync changed projects through one fair pool →
// root page → state. The caller holds the run lock.
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { openFindLinks } from '../mirror/find-links.js';
import { STATE_DIR } from '../model/layout.js';
import { claimRoot, foreignOfRoot } from '../mirror/ownership.js';
import { createPublisher } from '../mirror/publish.js';
import type { ProjectRecord } from '../model/record.js';
import type { RootEntry } from '../mirror/render.js';
import { type MirroredProject, readRecord, readState, writeRecord } from '../mirror/state.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import { mergeHolds } from '../plan/quarantine.js';
import type { SuspectPage } from '../plan/planner.js';
import type { ProjectPage, Upstream, UpstreamFile } from '../model/upstream.js';
import { createPool, createSemaphore, forEachWindowed } from '../util/pool.js';
import type { Candidate } from './discover.js';
import { createReleaseTimes } from './release-times.js';
import { buildRouting, discoverRoutes, settleRoutes, wholeScopeKey, type Route } from './upstreams.js';
import { type ClosureTask, DependencyClosure, MAX_CLOSURE_ROUNDS } from './closure.js';
import {
  formatHold,
  formatSuspectHold,
  judgeDeletions,
  pruneHistory,
} from './guards.js';
import type { DeletionHold, RemovalEntry } from '../model/holds.js';
import { applyPage, pageFromRecord, type ProjectOutcome, syncProject } from './project.js';
import type { ProjectContext } from './project-context.js';
import type { RetryPolicy } from './retrying-download.js';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, DEFAULT_RETRIES } from '../upstream/retry.js';
import {
  formatBytes,
  formatDryRunSummary,
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
  /** [mirror]'s index_url. */
  readonly upstream: Upstream;
  /** A client per `[upstream:NAME]` section, by NAME (src/sync/upstreams.ts). */
  readonly upstreams?: ReadonlyMap<string, Upstream> | undefined;
  readonly log: Logger;
  /** The served tree (default: the storage the config names, storage/open.ts). */
  readonly storage?: Storage;
  readonly now?: () => Date;
  /** Retries of a failed file transfer (default: 4, from 500 ms, backing off to 30 s). */
  readonly retry?: RetryPolicy;
  /** Told after every file and every project (`sync` on a terminal draws a progress line from it). */
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Where `sync --dry-run` prints what it would do, one line at a time (default: nowhere). */
  readonly print?: (line: string) => void;
}

/** How one run may act, from the command line (never from the config: the daemon never sets them). */
export interface RunOptions {
  /** `sync --allow-deletions`: this run's held deletions go ahead, and the window starts afresh. */
  readonly allowDeletions?: boolean;
  /** `sync --dry-run`: fetch pages and plan, print what would be fetched and removed; change nothing. */
  readonly dryRun?: boolean;
}

/**
 * Everything that decides what the tree holds. A change re-plans the projects of the upstreams it concerns
 * (from stored pages); each upstream's own part is in src/sync/upstreams.ts.
 */
export function computeScopeKey(cfg: Config): string {
  return wholeScopeKey(cfg);
}

export async function runSync(
  deps: SyncDeps,
  cfg: Config,
  outer: AbortSignal,
  options: RunOptions = {},
): Promise<SyncReport> {
  // The run's own signal: every request in flight listens to it (pool slots, retries, file reads), more
  // than EventTarget's default warning threshold of 10 with `workers` above 8 or so.
  const runCtl = new AbortController();
  setMaxListeners(0, runCtl.signal);
  const onAbort = (): void => runCtl.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  try {
    return await runSyncWith(deps, cfg, runCtl.signal, options);
  } finally {
    outer.removeEventListener('abort', onAbort);
  }
}

async function runSyncWith(
  deps: SyncDeps,
  cfg: Config,
  signal: AbortSignal,
  options: RunOptions,
): Promise<SyncReport> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const log = deps.log;
  const storage = deps.storage ?? (await openStorage(cfg));
  const publisher = createPublisher(storage, { createIndexes: cfg.createIndexes, baseUrl: cfg.baseUrl, log });
  const isDryRun = options.dryRun === true;
  const isReleased = options.allowDeletions === true;
  const print = deps.print ?? (() => {});
  // Refuses a root that is not ours (a system directory, a file, foreign entries: ConfigError, exit 2).
  const foreign = new Set(
    isDryRun ? await foreignOfRoot(cfg, storage) : (await claimRoot(cfg, storage, started)).foreign,
  );
  if (!isDryRun) {
    await storage.sweep('', foreign);
    await storage.sweep(STATE_DIR);
  }
  // find_links_dir: a directory pypimirror may not fill stops the run here (ConfigError), before any request.
  const findLinks = isDryRun ? null : await openFindLinks(cfg, storage, log, started);
  const state = await readState(storage);
  // With `requirements`, the selection is package_matches plus the dependency closure (closure.ts): first as
  // the mirror knows it, then grown round by round from what each round mirrors. It widens [mirror]'s
  // route only: a project an [upstream:NAME] section claims is that section's, whatever the closure says.
  const closure =
    cfg.requirements.length > 0 ? await DependencyClosure.start(cfg, storage, log, state) : null;
  let requests = 0;

  // 1. Discovery, upstream by upstream (upstreams.ts): each project from the one upstream that claims it.
  const routing = buildRouting(cfg, deps.upstream, deps.upstreams, closure?.filters() ?? null);
  const routed = await discoverRoutes({ routing, log, cfg, state, signal, now: started });
  const found = routed.found;
  const isRescoped = routed.byRoute.some((r) => r.isRescoped);
  const { selected, toSync, deletionsHeld } = found;
  requests += found.requests;
  const mirrored = new Map<string, MirroredProject>(Object.entries(state.projects));
  if (toSync.length + found.toRemove.length > 0) await findLinks?.markDirty();
  /** Projects whose record the run may have changed: the flat directory follows them at the end. */
  const touched = new Set<string>();
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
    filters: routing.routes[routing.routes.length - 1]?.filters as ProjectContext['filters'],
    upstream: deps.upstream,
    storage,
    publisher,
    pool,
    publishing,
    log,
    signal,
    // Nothing is removed while the projects sync: the guards decide once every page is in (step 3).
    isDeletionAllowed: false,
    isPageTrusted: isReleased,
    isDryRun,
    isUpstreamChanged: false,
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
  // Each project goes through its upstream's client, filters, release-time keys and trust in stored validators.
  const contexts = new Map<Route, ProjectContext>();
  for (const { route, isUpstreamChanged } of routed.byRoute) {
    const releaseTimes = createReleaseTimes(
      route.label,
      route.minReleaseAgeMs,
      cfg.quarantineExempt,
      cfg.excludeNewer,
      started,
    );
    contexts.set(route, {
      ...ctx,
      upstream: route.upstream,
      filters: route.filters,
      isUpstreamChanged,
      releaseTimes,
    });
  }
  // A project that moved to another upstream takes that upstream's bytes under a name it already has, the
  // safe way (a new path, then the page, then the old file goes): the old upstream's bytes never stay.
  // [mirror]'s route selects with the closure as it grows, round by round.
  let closureFilters = closure?.filters() ?? null;
  const isClaimedBySection = (name: string): boolean => routing.ownerOf(name).section !== null;
  const contextOf = (name: string): ProjectContext => {
    const owner = routed.of(name).route;
    const routeCtx = contexts.get(owner) ?? ctx;
    const selecting =
      closureFilters !== null && owner.section === null ? { ...routeCtx, filters: closureFilters } : routeCtx;
    return routed.moved.has(name) ? { ...selecting, cfg: { ...cfg, allowReplacedFiles: true } } : selecting;
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
  /** Projects the closure rounds fetched beyond discovery's selection. */
  let closureChecked = 0;
  /** Files the pages no longer link, retained until the guards decide; `isWhole`: none would be left. */
  const unlinked = new Map<string, { c: Candidate; files: readonly string[]; isWhole: boolean }>();
  const quarantined = new Map<string, { c: Candidate; page: ProjectPage }>();
  const suspects: (SuspectPage & { readonly project: string })[] = [];
  const noteUnlinked = (
    c: Candidate,
    files: readonly string[],
    left: number,
    suspect: SuspectPage | null,
  ): void => {
    if (suspect !== null) suspects.push({ ...suspect, project: c.name });
    if (files.length > 0) unlinked.set(c.name, { c, files, isWhole: left === 0 });
    else unlinked.delete(c.name); // a closure round planned it again, and it keeps every file now
  };
  let wouldFetch = { files: 0, bytes: 0 };
  const keepProject = (record: ProjectRecord, c: Candidate): void => {
    const serial = Math.max(c.serial ?? -1, record.serial ?? -1);
    const section = routed.of(c.name).route.section;
    const entry = {
      displayName: c.displayName,
      serial: serial < 0 ? null : serial,
      files: record.files.length,
      ...(section === null ? {} : { upstream: section }),
      ...(record.quarantine === undefined ? {} : { quarantine: record.quarantine }),
    };
    projects.set(c.name, record.files.length === 0 ? { ...entry, isEmpty: true } : entry);
  };
  // A project that failed or was deferred is fetched again next run, whatever the serials say.
  const forgetSerial = (name: string): void => {
    const previous = projects.get(name);
    if (previous !== undefined) projects.set(name, { ...previous, serial: null });
  };
  /** One round: pages fetched (or, for a closure re-plan, the record's page planned again) and synced. */
  const syncRound = (round: readonly ClosureTask[]): Promise<void> =>
    forEachWindowed(round, cfg.workers * 4, MAX_PROJECTS_IN_FLIGHT, async (c, started) => {
      if (signal.aborted) return;
      let record: ProjectRecord | null = null;
      let outcome: ProjectOutcome;
      try {
        record = await readRecord(storage, c.name);
        // Another upstream's validators say nothing about this one's page; held files coming of age
        // re-plan the project even if its page is unchanged.
        const asked =
          record !== null && routed.moved.has(c.name)
            ? { ...record, etag: null, lastModified: null }
            : record;
        const isReplanned = routed.of(c.name).isRescoped || routed.due.has(c.name);
        const projectCtx = contextOf(c.name);
        outcome =
          c.isReplan === true && record !== null
            ? await applyPage(projectCtx, pageFromRecord(record, null), c.displayName, record, started)
            : await syncProject(projectCtx, c.name, c.displayName, c.serial, asked, isReplanned, started);
      } catch (err) {
        if (signal.aborted) throw err;
        outcome = { kind: 'failed', reason: err instanceof Error ? err.message : String(err) };
      }
      closure?.noteOutcome(c.name, outcome, record !== null);
      progress.projectsDone++;
      deps.onProgress?.({ ...progress });
      if (outcome.kind !== 'unchanged') touched.add(c.name);
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
          noteUnlinked(
            c,
            outcome.unlinked,
            outcome.record.files.length - outcome.unlinked.length,
            outcome.suspect,
          );
          log.info('project synced', { project: c.name, files: outcome.record.files.length });
          break;
        case 'planned': {
          const left = (record?.files.length ?? 0) - outcome.unlinked.length + outcome.download.length;
          noteUnlinked(c, outcome.unlinked, left, outcome.suspect);
          wouldFetch = printDownloads(print, c.name, outcome.download, wouldFetch);
          break;
        }
        case 'quarantined':
          quarantined.set(c.name, { c, page: outcome.page });
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
          if (routed.of(c.name).route.section !== null) {
            // The dependency-confusion guard: a claimed project is never looked for elsewhere.
            const reason = describeMissingClaim(routed.of(c.name).route);
            forgetSerial(c.name);
            retryLater.push(c);
            failures.push({ project: c.name, reason });
            log.error('project failed; its previous page stays', { project: c.name, error: reason });
            break;
          }
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
  try {
    let round: ClosureTask[] = [...toSync, ...(closure?.tasks(found.toRemove, found.selected, toSync) ?? [])];
    for (let rounds = 1; round.length > 0; rounds++) {
      closure?.noteRound(round);
      progress.projectsToCheck += rounds === 1 ? round.length - toSync.length : round.length;
      closureChecked += round.filter((c) => c.isReplan !== true && !selected.has(c.name)).length;
      await syncRound(round);
      if (closure === null || rounds >= MAX_CLOSURE_ROUNDS) break;
      if (signal.aborted) {
        isAborted = true;
        break;
      }
      await closure.resolve(true);
      closureFilters = closure.filters();
      round = closure.tasks(found.toRemove, found.selected);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
    isAborted = true;
  }
  // A project the closure still pulls in stays, though discovery (which selected with the closure as it
  // was) would remove it; one that left the closure goes like a deselected one, unless something could not
  // be read this run (then the closure may only seem smaller).
  for (const name of found.toRemove) if (closure?.mayRemove(name) !== false) removals.add(name);
  if (closure !== null && !isAborted) {
    closure.warnUnknown();
    for (const name of projects.keys()) {
      if (isClaimedBySection(name) || closureFilters?.matchNormalizedProject(name) === true) continue;
      if (closure.mayRemove(name)) removals.add(name);
    }
    if (!closure.isSettledWhole)
      log.info('the dependency closure is incomplete this run: no project leaves it');
  }
  // Literal mode: when every project answered 404 at once, the upstream must show it is healthy first.
  let held = deletionsHeld;
  if (held === null && !isAborted) {
    const check = await found.checkGone(gone, signal);
    requests += check.requests;
    held = check.held;
  }

  // 3. The deletion guards (guards.ts) decide over the whole selection, then removals (cleanup), root page,
  // then removal of directories the root page no longer links.
  const removed: string[] = [];
  const isDue = !isAborted && removals.size + quarantined.size + unlinked.size > 0;
  const hasPage = (name: string): boolean => {
    const p = mirrored.get(name);
    return p !== undefined && p.isEmpty !== true;
  };
  const counted = new Map<string, number>();
  /** Files a mirrored project had before the run (state.json, else its record: then remembered in state). */
  const filesOf = async (name: string): Promise<number> => {
    const known = mirrored.get(name)?.files ?? counted.get(name);
    if (known !== undefined) return known;
    const count = (await readRecord(storage, name).catch(() => null))?.files.length ?? 0;
    counted.set(name, count);
    const entry = projects.get(name);
    if (entry !== undefined && entry.files === undefined) projects.set(name, { ...entry, files: count });
    return count;
  };
  const before = { projects: 0, files: 0 };
  /** What the run would remove: in all (for the warning), and as the guards judge it (see GuardInput). */
  const removing = { projects: 0, files: 0 };
  const judged = { projects: 0, files: 0 };
  if (isDue || (suspects.length > 0 && !isAborted)) {
    for (const [name, p] of mirrored) {
      if (p.isEmpty === true) continue;
      before.projects++;
      before.files += await filesOf(name);
    }
  }
  if (isDue) {
    for (const name of [...removals, ...quarantined.keys()]) {
      if (hasPage(name)) removing.projects++;
      removing.files += await filesOf(name);
    }
    judged.projects = removing.projects;
    for (const [name, u] of unlinked) {
      removing.files += u.files.length;
      if (!u.isWhole) judged.files += u.files.length;
      else if (hasPage(name)) {
        judged.projects++;
        removing.projects++;
      }
    }
  }
  let history: readonly RemovalEntry[] = isReleased
    ? []
    : pruneHistory(state.removals ?? [], started, cfg.maxDeletionsWindowMs);
  const cause =
    isDue && cfg.cleanup && !isReleased
      ? judgeDeletions({
          maxPercent: cfg.maxDeletionsPercent,
          windowMs: cfg.maxDeletionsWindowMs,
          now: started,
          mirrored: before,
          removing: judged,
          gone: gone.filter(hasPage).length,
          quarantined: quarantined.size,
          history,
          discoveryHold: held,
        })
      : null;
  /** A held project's page is fetched in full and re-planned next run, whatever its ETag and serial say. */
  const replanNextRun = async (name: string): Promise<void> => {
    forgetSerial(name);
    if (isDryRun) return;
    const record = await readRecord(storage, name);
    if (record !== null)
      await writeRecord(storage, { ...record, etag: null, lastModified: null, serial: null });
  };
  /** The run's hold warnings (one per kind of hold), for status.json too. */
  const messages: string[] = [];
  const warnHold = (message: string, fields: Record<string, unknown>): void => {
    messages.push(message);
    log.warn(message, fields);
  };
  const heldCounts = { projects: 0, files: 0 };
  if (isDryRun && isDue && cfg.cleanup) await printRemovals(print, storage, removals, quarantined, unlinked);
  if (isDue && !cfg.cleanup) {
    log.info('cleanup is off; projects no longer selected or upstream are kept', {
      projects: [...removals, ...quarantined.keys()],
    });
  } else if (cause !== null) {
    warnHold(formatHold(cause, removing, before), removing);
    Object.assign(heldCounts, removing);
    for (const name of [...quarantined.keys(), ...unlinked.keys()]) await replanNextRun(name);
  } else if (isDue && !isDryRun) {
    for (const name of removals) {
      projects.delete(name);
      removed.push(name);
    }
    if (!isReleased && judged.projects + judged.files > 0) {
      history = [...history, { at: started.toISOString(), ...judged }];
    }
    // Quarantined projects lose their page and files; the others, the files their page no longer links.
    const allowedOf = (name: string): ProjectContext => ({
      ...contextOf(name),
      isDeletionAllowed: true,
      isReplan: true,
    });
    const replans: [Candidate, ProjectPage | null][] = [
      ...[...quarantined.values()].map(({ c, page }): [Candidate, ProjectPage] => [c, page]),
      ...[...unlinked.values()].map(({ c }): [Candidate, null] => [c, null]),
    ];
    for (const [c, page] of replans) {
      const record = await readRecord(storage, c.name);
      if (record === null) continue;
      const outcome = await applyPage(
        allowedOf(c.name),
        page ?? pageFromRecord(record, null),
        c.displayName,
        record,
      ).catch((err: unknown) => ({
        kind: 'failed' as const,
        reason: err instanceof Error ? err.message : String(err),
      }));
      if (outcome.kind === 'synced' || outcome.kind === 'empty') keepProject(outcome.record, c);
      if (outcome.kind === 'synced') filesRemoved += outcome.filesRemoved;
      else if (outcome.kind === 'empty') {
        emptied.set(c.name, record);
        projectsChanged++;
      } else if (outcome.kind === 'failed') {
        failures.push({ project: c.name, reason: outcome.reason });
        log.error('project failed; its previous page stays', { project: c.name, error: outcome.reason });
      }
    }
  }
  if (suspects.length > 0 && !isAborted) {
    warnHold(formatSuspectHold(suspects), { projects: suspects.length });
    for (const suspect of suspects) {
      heldCounts.files += suspect.dropped;
      await replanNextRun(suspect.project);
    }
  }
  const hold: DeletionHold | null =
    messages.length === 0
      ? null
      : {
          message: messages.join(' / '),
          since: state.deletionsHeld?.since ?? started.toISOString(),
          ...heldCounts,
          selectedProjects: before.projects,
          mirroredFiles: before.files,
        };
  const entries: RootEntry[] = [...projects.entries()]
    .filter(([, p]) => p.isEmpty !== true)
    .map(([name, p]) => ({ name, displayName: p.displayName }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const isRootChanged =
    projectsChanged > 0 || removed.length > 0 || projects.size !== mirrored.size || state.lastRun === null;
  const buildReport = (): SyncReport => {
    const finished = now();
    return {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      projectsChecked: selected.size + closureChecked,
      projectsChanged: projectsChanged + removed.length,
      projectsRemoved: removed.length,
      filesFetched,
      bytesFetched,
      filesRemoved,
      failures,
      deferred,
      deletionsHeld: hold,
      listingFailed: found.isListingFailed,
      aborted: isAborted,
      requests,
      quarantine: mergeHolds([...projects.values()].map((p) => p.quarantine)),
    };
  };
  if (isDryRun) {
    const report = buildReport();
    print(formatDryRunSummary(report, wouldFetch, cfg.cleanup && cause === null ? removing : null));
    return report;
  }
  const goneProjects = [
    ...(await Promise.all(
      removed.map(async (name) => ({
        name,
        record: await readRecord(storage, name).catch(() => null),
        isForgotten: true,
      })),
    )),
    ...[...emptied].map(([name, record]) => ({ name, record, isForgotten: false })),
  ];
  let report: SyncReport | null = null;
  await publisher.finish({
    root: isRootChanged ? entries : null,
    gone: goneProjects,
    beforeState: async (removedWithProjects) => {
      filesRemoved += removedWithProjects;
      for (const { name, isForgotten } of goneProjects) {
        if (isForgotten) log.info('project removed', { project: name });
        else
          log.info('no file of the project is selected any more; its page and files are removed', {
            project: name,
          });
      }
      if (findLinks !== null && !isAborted) {
        await findLinks.update(new Set([...touched, ...removed, ...emptied.keys()]));
      }
    },
    state: () => {
      const done = buildReport();
      report = done;
      return {
        formatVersion: 1,
        ...settleRoutes(routed, { projects, retryLater, isAborted, isDeletionHeld: cause !== null }),
        projects: Object.fromEntries([...projects.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
        lastRun: { startedAt: done.startedAt, finishedAt: done.finishedAt, ok: isReportOk(done) },
        removals: history,
        deletionsHeld: isAborted ? (state.deletionsHeld ?? null) : hold,
        ...(closure === null ? {} : { closure: closure.toState() }),
      };
    },
  });
  const done = report as unknown as SyncReport;
  (isReportOk(done) ? log.info : log.warn).call(log, formatSummary(done), { summary: true });
  return done;
}

/** Why a project claimed by an upstream section that answered 404 fails, rather than coming from elsewhere. */
function describeMissingClaim(route: Route): string {
  return (
    `${route.label} claims this project (package_matches ${route.packageMatches.join(' ')}) but does not ` +
    'have it (404); it is never taken from another upstream (dependency confusion): publish it there, or ' +
    'narrow that package_matches'
  );
}

/** `sync --dry-run`: the project's line and one line per file it would download; returns the running totals. */
function printDownloads(
  print: (line: string) => void,
  project: string,
  download: readonly UpstreamFile[],
  totals: { files: number; bytes: number },
): { files: number; bytes: number } {
  if (download.length === 0) return totals;
  print(`${project}: ${download.length} files to download`);
  let bytes = 0;
  for (const f of download) {
    print(`  + ${f.filename}${f.size === null ? '' : ` (${formatBytes(f.size)})`}`);
    bytes += f.size ?? 0;
  }
  return { files: totals.files + download.length, bytes: totals.bytes + bytes };
}

/** `sync --dry-run`: one line per project that would lose files, then one per file (from its record). */
async function printRemovals(
  print: (line: string) => void,
  storage: Storage,
  removals: ReadonlySet<string>,
  quarantined: ReadonlyMap<string, unknown>,
  unlinked: ReadonlyMap<string, { readonly files: readonly string[]; readonly isWhole: boolean }>,
): Promise<void> {
  for (const name of [...removals, ...quarantined.keys()].sort()) {
    const files = (await readRecord(storage, name).catch(() => null))?.files ?? [];
    const why = quarantined.has(name) ? 'quarantined upstream: ' : '';
    print(`${name}: ${why}project to remove (${files.length} files)`);
    for (const f of files) print(`  - ${f.filename}`);
  }
  for (const [name, u] of [...unlinked].sort(([a], [b]) => (a < b ? -1 : 1))) {
    print(
      u.isWhole
        ? `${name}: project to remove (${u.files.length} files)`
        : `${name}: ${u.files.length} files to remove`,
    );
    for (const f of u.files) print(`  - ${f}`);
  }
}
