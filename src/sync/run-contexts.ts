// The context each project of a run is synced in (run.ts): the one pool of upstream connections and the
// publication permits every project shares, and per upstream route its client, filters, release-time keys
// and trust in stored validators.
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Publisher } from '../mirror/publish.js';
import type { Filters } from '../plan/filters.js';
import type { Storage } from '../storage/types.js';
import { DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS, DEFAULT_RETRIES } from '../upstream/retry.js';
import type { Upstream } from '../model/upstream.js';
import { createKeyedPermits, createPool, createSemaphore } from '../util/pool.js';
import type { ProjectContext } from './project-context.js';
import { createReleaseTimes } from './release-times.js';
import type { SyncProgress } from './report.js';
import type { RetryPolicy } from './retrying-download.js';
import type { Route, RoutedDiscovery, Routing } from './upstreams.js';

/** Received files waiting for their fdatasync and rename, per worker, before a connection waits for the disk. */
const PUBLISHING_PER_WORKER = 4;

/**
 * Files on their way in at once, per worker (ProjectContext.downloads): enough for every connection to be
 * busy while the files before publish; without a bound, every file of every page read waited for a
 * connection with its promises and frames (README "Where a run's memory goes").
 */
const DOWNLOADS_PER_WORKER = 8;

export interface RunContextInput {
  readonly cfg: Config;
  readonly upstream: Upstream;
  readonly storage: Storage;
  readonly publisher: Publisher;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly started: Date;
  readonly routing: Routing;
  readonly routed: RoutedDiscovery;
  readonly retry: RetryPolicy | undefined;
  readonly foreign: ReadonlySet<string>;
  /** `sync --allow-deletions` */
  readonly isReleased: boolean;
  readonly isDryRun: boolean;
  /** The run's progress, counted here as files come in. */
  readonly progress: { -readonly [K in keyof SyncProgress]: SyncProgress[K] };
  readonly onProgress: ((progress: SyncProgress) => void) | undefined;
  countRequest(): void;
}

/** Gives the context of a project, its route's, with `closureFilters` selecting for [mirror]'s route. */
export type ContextOf = (name: string, closureFilters: Filters | null) => ProjectContext;

/** The run's contexts (see the module comment). */
export function createRunContexts(input: RunContextInput): ContextOf {
  const { cfg, routed, progress } = input;
  // A download holds its connection slot until the body is in, then publishes (fdatasync, rename) outside
  // it; these permits bound the files waiting for publication, so a slow disk cannot pile up open files.
  const base: ProjectContext = {
    cfg,
    filters: input.routing.routes[input.routing.routes.length - 1]?.filters as ProjectContext['filters'],
    upstream: input.upstream,
    storage: input.storage,
    publisher: input.publisher,
    pool: createPool(cfg.workers),
    publishing: createSemaphore(cfg.workers * PUBLISHING_PER_WORKER),
    downloads: createKeyedPermits(cfg.workers * DOWNLOADS_PER_WORKER),
    log: input.log,
    signal: input.signal,
    // Nothing is removed while the projects sync: the guards decide once every page is in.
    isDeletionAllowed: false,
    isPageTrusted: input.isReleased,
    isDryRun: input.isDryRun,
    isUpstreamChanged: false,
    foreign: input.foreign,
    retry: input.retry ?? {
      retries: DEFAULT_RETRIES,
      minMs: DEFAULT_MIN_DELAY_MS,
      maxMs: DEFAULT_MAX_DELAY_MS,
    },
    countRequest: input.countRequest,
    onFileFetched: (bytes) => {
      progress.filesFetched++;
      progress.bytesFetched += bytes;
      input.onProgress?.({ ...progress });
    },
  };
  const contexts = new Map<Route, ProjectContext>();
  for (const { route, isUpstreamChanged } of routed.byRoute) {
    const releaseTimes = createReleaseTimes(
      route.label,
      route.minReleaseAgeMs,
      cfg.quarantineExempt,
      cfg.excludeNewer,
      input.started,
    );
    contexts.set(route, {
      ...base,
      upstream: route.upstream,
      filters: route.filters,
      isUpstreamChanged,
      releaseTimes,
    });
  }
  // A project that moved to another upstream takes that upstream's bytes under a name it already has, the
  // safe way (a new path, then the page, then the old file goes): the old upstream's bytes never stay.
  // [mirror]'s route selects with the closure as it grows, round by round.
  return (name, closureFilters) => {
    const owner = routed.of(name).route;
    const routeCtx = contexts.get(owner) ?? base;
    const selecting =
      closureFilters !== null && owner.section === null ? { ...routeCtx, filters: closureFilters } : routeCtx;
    return routed.moved.has(name) ? { ...selecting, cfg: { ...cfg, allowReplacedFiles: true } } : selecting;
  };
}
