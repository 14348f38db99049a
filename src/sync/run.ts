// One sync run (docs/architecture.md "One sync"): discover → sync changed projects through one fair pool →
// the deletion guards → root page → state. The caller holds the run lock.
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { type FindLinks, openFindLinks } from '../mirror/find-links.js';
import { STATE_DIR } from '../model/layout.js';
import { claimRoot, foreignOfRoot } from '../mirror/ownership.js';
import { createPublisher, type Publisher } from '../mirror/publish.js';
import type { ProjectRecord } from '../model/record.js';
import { type MirrorState, readRecord, readState } from '../mirror/state.js';
import type { Filters } from '../plan/filters.js';
import { mergeHolds } from '../plan/quarantine.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';
import type { Upstream } from '../model/upstream.js';
import { forEachWindowed } from '../util/pool.js';
import { type ClosureTask, DependencyClosure, MAX_CLOSURE_ROUNDS } from './closure.js';
import { type ProjectOutcome, replanFromRecord, syncProject } from './project.js';
import {
  formatDryRunSummary,
  formatSummary,
  isReportOk,
  type SyncProgress,
  type SyncReport,
} from './report.js';
import type { RetryPolicy } from './retrying-download.js';
import { type ContextOf, createRunContexts } from './run-contexts.js';
import { type DeletionOutcome, settleDeletions } from './run-deletions.js';
import { type ReplanReads, startReplanReads } from './replan-reads.js';
import { RunTally } from './run-tally.js';
import {
  isStateUnchanged,
  quarantineHolds,
  rootEntries,
  sortedProjects,
  StoredProjects,
} from './state-projects.js';
import {
  buildRouting,
  discoverRoutes,
  type RoutedDiscovery,
  settleRoutes,
  wholeScopeKey,
} from './upstreams.js';

/**
 * Projects past their page fetch whose files are still downloading, at most: each holds only its plan,
 * and they all take turns in the one pool. Bounds memory on a first sync of a very large selection.
 */
const MAX_PROJECTS_IN_FLIGHT = 1000;

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

/** What a run works with once the root is claimed and discovery is done. */
interface RunScope {
  readonly cfg: Config;
  readonly deps: SyncDeps;
  readonly log: Logger;
  readonly storage: Storage;
  readonly publisher: Publisher;
  readonly signal: AbortSignal;
  readonly started: Date;
  readonly now: () => Date;
  readonly isDryRun: boolean;
  readonly state: MirrorState;
  readonly closure: DependencyClosure | null;
  readonly routed: RoutedDiscovery;
  readonly findLinks: FindLinks | null;
  readonly tally: RunTally;
  readonly contextOf: ContextOf;
  readonly progress: {
    projectsDone: number;
    projectsToCheck: number;
    filesFetched: number;
    bytesFetched: number;
  };
  /** Upstream requests so far; `isAborted`: the run was stopped; `closureChecked`: projects the closure added. */
  readonly counts: { requests: number; closureChecked: number; isAborted: boolean };
  closureFilters: Filters | null;
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
  // Refuses a root that is not ours (a system directory, a file, foreign entries: ConfigError, exit 2).
  const foreign = new Set(
    isDryRun ? await foreignOfRoot(cfg, storage) : (await claimRoot(cfg, storage, started)).foreign,
  );
  // What killed runs left. A local root's sweep (temp files in the root alone, never one of this run's
  // before its root pages) goes on beside the run, which waits for it before writing them (isRootSweepConfined).
  let rootSwept: Promise<unknown> = Promise.resolve();
  if (!isDryRun) {
    if (storage.isRootSweepConfined === true) rootSwept = storage.sweep('', foreign);
    else await storage.sweep('', foreign);
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

  // 1. Discovery, upstream by upstream (upstreams.ts): each project from the one upstream that claims it.
  const routing = buildRouting(cfg, deps.upstream, deps.upstreams, closure?.filters() ?? null);
  const routed = await discoverRoutes({ routing, log, cfg, state, signal, now: started });
  const { found } = routed;
  const counts = { requests: found.requests, closureChecked: 0, isAborted: false };
  if (found.toSync.length + found.toRemove.length > 0) await findLinks?.markDirty();
  log.info('sync started', {
    discovery: found.mode,
    selected: found.selected.size,
    toCheck: found.toSync.length,
    isRescoped: routed.byRoute.some((r) => r.isRescoped),
  });
  const print = deps.print ?? (() => {});
  const tally = new RunTally(new StoredProjects(state.projects), (name) => routed.of(name).route, log, print);
  const progress = {
    projectsDone: 0,
    projectsToCheck: found.toSync.length,
    filesFetched: 0,
    bytesFetched: 0,
  };
  const contextOf = createRunContexts({
    ...{ cfg, upstream: deps.upstream, storage, publisher, log, signal, started, routing, routed, foreign },
    ...{ retry: deps.retry, isReleased, isDryRun, progress, onProgress: deps.onProgress },
    countRequest: () => counts.requests++,
  });
  const run: RunScope = {
    ...{ cfg, deps, log, storage, publisher, signal, started, now, isDryRun, state, closure, routed },
    ...{ findLinks, tally, contextOf, progress, counts, closureFilters: closure?.filters() ?? null },
  };

  // 2. Projects, all through one fair pool of `workers` upstream requests, round by round for the closure.
  await syncRounds(run);
  noteClosureRemovals(run);
  // Literal mode: when every project answered 404 at once, the upstream must show it is healthy first.
  let held = found.deletionsHeld;
  if (held === null && !counts.isAborted) {
    const check = await found.checkGone(tally.gone, signal);
    counts.requests += check.requests;
    held = check.held;
  }
  // 3. The deletion guards (guards.ts) decide over the whole selection (run-deletions.ts).
  const deletions = await settleDeletions({
    ...{ cfg, storage, log, print, tally, state, started, isDryRun, isReleased },
    isAborted: counts.isAborted,
    discoveryHold: held,
    contextOf: (name) => contextOf(name, run.closureFilters),
  });
  // 4. Root page, removal of the directories it no longer links, state (mirror/publish.ts).
  await rootSwept;
  return finishRun(run, deletions);
}

/**
 * Projects are synced through the pool (forEachWindowed), pages fetched or, for a closure re-plan, the
 * record's page planned again; with `requirements`, round after round while the closure grows.
 */
async function syncRounds(run: RunScope): Promise<void> {
  const { cfg, closure, routed, signal, tally, progress, counts } = run;
  const { found } = routed;
  /** One round: pages fetched (or, for a closure re-plan, the record's page planned again) and synced. */
  const syncRound = async (round: readonly ClosureTask[]): Promise<void> => {
    const reads = startReplanReads(
      run.storage,
      round.filter((c) => c.isReplan === true).map((c) => c.name),
    );
    try {
      await syncProjects(round, reads);
    } finally {
      await reads?.close();
    }
  };
  const syncProjects = (round: readonly ClosureTask[], reads: ReplanReads | null): Promise<void> =>
    forEachWindowed(round, cfg.workers * 4, MAX_PROJECTS_IN_FLIGHT, async (c, started) => {
      if (signal.aborted) return;
      let record: ProjectRecord | null = null;
      let outcome: ProjectOutcome;
      try {
        const ahead = c.isReplan === true ? ((await reads?.take(c.name)) ?? null) : null;
        record = ahead === null ? await readRecord(run.storage, c.name) : ahead.record;
        // Another upstream's validators say nothing about this one's page; held files coming of age
        // re-plan the project even if its page is unchanged.
        const asked =
          record !== null && routed.moved.has(c.name)
            ? { ...record, etag: null, lastModified: null }
            : record;
        const isReplanned = routed.of(c.name).isRescoped || routed.due.has(c.name);
        const projectCtx = run.contextOf(c.name, run.closureFilters);
        outcome =
          c.isReplan === true && record !== null
            ? await replanFromRecord(projectCtx, record, c.displayName, started, ahead?.files)
            : await syncProject(projectCtx, c.name, c.displayName, c.serial, asked, isReplanned, started);
      } catch (err) {
        if (signal.aborted) throw err;
        outcome = { kind: 'failed', reason: err instanceof Error ? err.message : String(err) };
      }
      closure?.noteOutcome(c.name, outcome, record !== null);
      progress.projectsDone++;
      run.deps.onProgress?.({ ...progress });
      tally.note(c, outcome, record);
    });
  try {
    let round: ClosureTask[] = [
      ...found.toSync,
      ...(closure?.tasks(found.toRemove, found.selected, found.toSync) ?? []),
    ];
    for (let rounds = 1; round.length > 0; rounds++) {
      closure?.noteRound(round);
      progress.projectsToCheck += rounds === 1 ? round.length - found.toSync.length : round.length;
      counts.closureChecked += round.filter((c) => c.isReplan !== true && !found.selected.has(c.name)).length;
      await syncRound(round);
      if (closure === null || rounds >= MAX_CLOSURE_ROUNDS) break;
      if (signal.aborted) {
        counts.isAborted = true;
        break;
      }
      await closure.resolve(true);
      run.closureFilters = closure.filters();
      round = closure.tasks(found.toRemove, found.selected);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
    counts.isAborted = true;
  }
}

/**
 * A project the closure still pulls in stays, though discovery (which selected with the closure as it was)
 * would remove it; one that left the closure goes like a deselected one, unless something could not be read
 * this run (then the closure may only seem smaller).
 */
function noteClosureRemovals(run: RunScope): void {
  const { closure, tally, routed } = run;
  for (const name of routed.found.toRemove) if (closure?.mayRemove(name) !== false) tally.removals.add(name);
  if (closure === null || run.counts.isAborted) return;
  closure.warnUnknown();
  for (const name of tally.projects.keys()) {
    const isClaimedBySection = routed.of(name).route.section !== null;
    if (isClaimedBySection || run.closureFilters?.matchNormalizedProject(name) === true) continue;
    if (closure.mayRemove(name)) tally.removals.add(name);
  }
  if (!closure.isSettledWhole)
    run.log.info('the dependency closure is incomplete this run: no project leaves it');
}

/** The report, then (unless a dry run) the root page, the directories that go and the state, in that order. */
async function finishRun(run: RunScope, deletions: DeletionOutcome): Promise<SyncReport> {
  const { cfg, log, tally, counts, state, started, routed } = run;
  const { removed, hold, cause } = deletions;
  const buildReport = (): SyncReport => {
    const finished = run.now();
    return {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      projectsChecked: routed.found.selected.size + counts.closureChecked,
      projectsChanged: tally.projectsChanged + removed.length,
      projectsRemoved: removed.length,
      filesFetched: tally.filesFetched,
      bytesFetched: tally.bytesFetched,
      filesRemoved: tally.filesRemoved,
      failures: tally.failures,
      deferred: tally.deferred,
      deletionsHeld: hold,
      listingFailed: routed.found.isListingFailed,
      aborted: counts.isAborted,
      requests: counts.requests,
      quarantine: mergeHolds(quarantineHolds(tally.projects)),
    };
  };
  if (run.isDryRun) {
    const report = buildReport();
    const removing = cfg.cleanup && cause === null ? deletions.removing : null;
    (run.deps.print ?? (() => {}))(formatDryRunSummary(report, tally.wouldFetch, removing));
    return report;
  }
  const { projects, mirrored } = tally;
  const isRootChanged =
    tally.projectsChanged > 0 ||
    removed.length > 0 ||
    projects.size !== mirrored.size ||
    state.lastRun === null;
  const gone = [
    ...(await Promise.all(
      removed.map(async (name) => ({
        name,
        record: await readRecord(run.storage, name).catch(() => null),
        isForgotten: true,
      })),
    )),
    ...[...tally.emptied].map(([name, record]) => ({ name, record, isForgotten: false })),
  ];
  let report = buildReport();
  /** The state to write, but for its project entries. */
  const settledState = (): Omit<MirrorState, 'projects'> => {
    report = buildReport();
    return {
      formatVersion: 1,
      ...settleRoutes(routed, {
        projects,
        retryLater: tally.retryLater,
        isAborted: counts.isAborted,
        isDeletionHeld: cause !== null,
      }),
      lastRun: { startedAt: report.startedAt, finishedAt: report.finishedAt, ok: isReportOk(report) },
      removals: deletions.history,
      deletionsHeld: counts.isAborted ? (state.deletionsHeld ?? null) : hold,
      ...(run.closure === null ? {} : { closure: run.closure.toState() }),
    };
  };
  const isStateKept =
    gone.length === 0 && !isRootChanged && isStateUnchanged(state, projects, settledState());
  await run.publisher.finish({
    root: isRootChanged ? rootEntries(projects) : null,
    gone,
    beforeState: async (removedWithProjects) => {
      tally.filesRemoved += removedWithProjects;
      for (const { name, isForgotten } of gone) {
        if (isForgotten) log.info('project removed', { project: name });
        else
          log.info('no file of the project is selected any more; its page and files are removed', {
            project: name,
          });
      }
      if (run.findLinks !== null && !counts.isAborted) {
        await run.findLinks.update(new Set([...tally.touched, ...removed, ...tally.emptied.keys()]));
      }
    },
    state: isStateKept ? null : () => ({ ...settledState(), projects: sortedProjects(projects) }),
  });
  if (isStateKept) report = buildReport();
  (isReportOk(report) ? log.info : log.warn).call(log, formatSummary(report), { summary: true });
  return report;
}
