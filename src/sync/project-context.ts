// What syncing one project works with (project.ts, fetch-file.ts): the run's context for it, and the small
// helpers both halves share.
import type { Config } from '../config/types.js';
import { PypimirrorError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Publisher } from '../mirror/publish.js';
import type { Filters } from '../plan/filters.js';
import type { Storage } from '../storage/types.js';
import type { Upstream } from '../model/upstream.js';
import type { KeyedPermits, Pool, Semaphore } from '../util/pool.js';
import type { ReleaseTimes } from './release-times.js';
import type { RetryPolicy } from './retrying-download.js';

export interface ProjectContext {
  readonly cfg: Config;
  readonly filters: Filters;
  readonly upstream: Upstream;
  /** The served tree, and its one publisher (mirror/publish.ts). */
  readonly storage: Storage;
  readonly publisher: Publisher;
  /** Upstream connections: `workers` slots shared by pages and files. */
  readonly pool: Pool;
  /** Permits for received files waiting for their fdatasync and rename (each holds a temp file open). */
  readonly publishing: Semaphore;
  /**
   * Permits for the files of the whole run that are on their way in, keyed by project (settleAdmitted): a
   * file holds one from its target's check to its publication, so that the files waiting for a connection
   * are a few per worker, not every file of every page already read.
   */
  readonly downloads: KeyedPermits;
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

/** A failure as a project's outcome or a log line tells it: the error code first, when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof PypimirrorError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Files stat'ed, fetched or downloaded at once by one project: a bound on its promises and open files. */
const FILES_IN_FLIGHT = 64;

/** Runs `fn` over `items` with at most FILES_IN_FLIGHT at once; results in item order. */
export async function settleWindowed<T, R>(
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

/**
 * Like settleWindowed, for the downloads of project `key`: `fn` runs for each item while it holds one of
 * `permits` (the run's, ProjectContext.downloads). A project asks for one permit at a time, and a permit
 * given back goes to the project that holds the fewest, so a big project does not hold back a small one;
 * an item not yet admitted costs no promise, closure or frame, only its place in `items`.
 */
export async function settleAdmitted<T, R>(
  items: readonly T[],
  permits: KeyedPermits,
  key: string,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let left = items.length;
  let wake = (): void => {};
  const finished = new Promise<void>((resolve) => (wake = resolve));
  for (let i = 0; i < items.length; i++) {
    await permits.acquire(key);
    new Promise<R>((resolve) => resolve(fn(items[i] as T)))
      .then(
        (value) => void (results[i] = { status: 'fulfilled', value }),
        (reason: unknown) => void (results[i] = { status: 'rejected', reason }),
      )
      .finally(() => {
        permits.release(key);
        if (--left === 0) wake();
      });
  }
  if (items.length > 0) await finished;
  return results;
}

/** Size of the file at `key`, or null when there is none. */
export async function sizeAt(storage: Storage, key: string): Promise<number | null> {
  return (await storage.stat(key))?.size ?? null;
}
