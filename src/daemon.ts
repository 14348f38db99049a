// The daemon (`run`, README "Operating the daemon") and the locked run that `run` and `sync` share.
//
// Loop: sync at start, then `sync_interval` after the end of each run. Config reloads (file watcher or
// SIGHUP, through reload()) are validated first; a valid one is swapped in only between runs (at once when
// idle, else right after the current run), and one that changes the scope wakes the loop for a sync now.
// Shutdown is the caller's AbortSignal: it cancels the wait, aborts the run in flight (transfers stop, temp
// files go, the lock is released) and resolves `done`. Of process.* only process.pid (for status.json) is used
// here: app.ts and commands.ts own signals and exit codes.
import { hostname } from 'node:os';
import { watchConfig, type ConfigWatcher } from './config/watch.js';
import type { Config } from './config/types.js';
import { ConfigError, formatConfigIssue, LockError } from './errors.js';
import type { Logger } from './log.js';
import { acquireRunLock, type RunLock } from './mirror/lock.js';
import { claimRoot } from './mirror/ownership.js';
import { nextStatus, readStatus, summarizeRun, writeMetrics, writeStatus, type RunResult } from './status.js';
import type { SyncReport } from './sync/report.js';
import { computeScopeKey, runSync, type SyncDeps } from './sync/run.js';
import type { Upstream } from './model/upstream.js';

/** An upstream client built for one config (index_url, workers, timeout), closed when replaced. */
export interface UpstreamClient {
  readonly upstream: Upstream;
  /** One per `[upstream:NAME]` section, by NAME. */
  readonly upstreams?: ReadonlyMap<string, Upstream>;
  close(): Promise<void>;
}

interface LockTiming {
  readonly staleMs?: number;
  readonly updateMs?: number;
}

export interface LockedRunDeps {
  readonly log: Logger;
  readonly upstream: Upstream;
  readonly upstreams?: ReadonlyMap<string, Upstream> | undefined;
  readonly command: 'run' | 'sync';
  readonly version: string;
  readonly lock?: LockTiming;
  readonly retry?: SyncDeps['retry'];
  readonly now?: () => Date;
  readonly onProgress?: SyncDeps['onProgress'];
  /** `sync --allow-deletions` (the daemon never sets it). */
  readonly allowDeletions?: boolean;
}

export type RunOutcome =
  /** The run took the lock and ended (normally, with failures, aborted, or crashed: see `result`). */
  | {
      readonly kind: 'ran';
      readonly result: RunResult;
      readonly report: SyncReport | null;
      readonly error: unknown;
    }
  /** Another run holds the lock. */
  | { readonly kind: 'locked'; readonly error: LockError }
  /** The lock could not be taken for another reason (permissions, a missing directory, ...). */
  | { readonly kind: 'no-lock'; readonly error: unknown };

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One sync under the run lock, with the status file (and metrics) written before the lock is released.
 * `nextRunAt` says when the caller will run again, for the status file (null for `sync`).
 */
export async function runLockedSync(
  deps: LockedRunDeps,
  cfg: Config,
  signal: AbortSignal,
  nextRunAt: (finishedAt: Date) => Date | null,
): Promise<RunOutcome> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const runCtl = new AbortController();
  const runSignal = AbortSignal.any([signal, runCtl.signal]);
  let lostError: LockError | null = null;
  let lock: RunLock;
  try {
    await claimRoot(cfg); // no lock, status file or page in a root that is not ours (a reloaded config's too)
  } catch (err) {
    log.error(describe(err));
    return { kind: 'no-lock', error: err };
  }
  try {
    lock = await acquireRunLock({
      lockFile: cfg.lockFile,
      log,
      ...(deps.lock?.staleMs === undefined ? {} : { staleMs: deps.lock.staleMs }),
      ...(deps.lock?.updateMs === undefined ? {} : { updateMs: deps.lock.updateMs }),
      onLost: (err) => {
        lostError = err;
        runCtl.abort(err);
      },
    });
  } catch (err) {
    if (err instanceof LockError && err.code === 'LOCK_HELD') return { kind: 'locked', error: err };
    log.error('cannot take the run lock', { lock: cfg.lockFile, error: describe(err) });
    return { kind: 'no-lock', error: err };
  }

  const startedAt = now();
  let report: SyncReport | null = null;
  let error: unknown = null;
  try {
    report = await runSync(
      {
        upstream: deps.upstream,
        ...(deps.upstreams === undefined ? {} : { upstreams: deps.upstreams }),
        log,
        now,
        ...(deps.retry === undefined ? {} : { retry: deps.retry }),
        ...(deps.onProgress === undefined ? {} : { onProgress: deps.onProgress }),
      },
      cfg,
      runSignal,
      { allowDeletions: deps.allowDeletions === true },
    );
  } catch (err) {
    error = err;
  }
  const finishedAt = now();
  const isAborted = runSignal.aborted;
  // Why it stopped, for the status file: the lost lock, the shutdown, or the crash.
  const reason: unknown = lostError ?? (isAborted ? (signal.reason as unknown) : error);
  const run = summarizeRun({ report, startedAt, finishedAt, error: reason ?? null, isAborted });
  if (report === null) {
    // runSync logs the summary line when it returns; this is the line for a run that did not.
    const seconds = (run.durationMs / 1000).toFixed(1);
    if (isAborted) log.warn(`sync aborted before it finished in ${seconds} s`, { reason: run.error });
    else
      log.error(`sync failed in ${seconds} s`, {
        error: error instanceof Error ? (error.stack ?? error.message) : error,
      });
  }
  try {
    const previous = await readStatus(cfg.mirrorRoot);
    const status = nextStatus(
      previous,
      run,
      {
        command: deps.command,
        pid: process.pid,
        host: hostname(),
        version: deps.version,
        config: cfg.file,
        mirror: cfg.mirrorRoot,
      },
      nextRunAt(finishedAt),
    );
    await writeStatus(cfg.mirrorRoot, status);
    if (cfg.metricsFile !== null) await writeMetrics(cfg.metricsFile, status);
  } catch (err) {
    log.warn('cannot write the status file or metrics', { error: describe(err) });
  }
  try {
    await lock.release();
  } catch (err) {
    log.warn('cannot release the run lock', { lock: cfg.lockFile, error: describe(err) });
  }
  return { kind: 'ran', result: run.result, report, error };
}

export interface DaemonDeps {
  readonly log: Logger;
  readonly version: string;
  /** The config file, watched and reloaded. */
  readonly configPath: string;
  readonly loadConfig: (path: string) => Promise<Config>;
  readonly createClient: (cfg: Config) => UpstreamClient;
  /** Called whenever a new config takes effect (app.ts re-applies `verbose` and `log_filename`). */
  readonly onConfigApplied?: (cfg: Config) => void;
  /** Called after every run attempt (tests observe ticks with it). */
  readonly onRunEnd?: (outcome: RunOutcome) => void;
  /** Default true. */
  readonly isWatching?: boolean;
  readonly watchDebounceMs?: number;
  readonly lock?: LockTiming;
  readonly retry?: SyncDeps['retry'];
  readonly now?: () => Date;
}

export interface Daemon {
  /** Reloads the config (SIGHUP, or the watcher): validated, then applied at the next run boundary. */
  reload(reason: string): void;
  /** Resolves once the config watcher is in place. */
  readonly ready: Promise<void>;
  /** Resolves after the graceful stop that follows `signal`. */
  readonly done: Promise<void>;
}

/** Keys whose change makes a new upstream client. */
function clientKey(cfg: Config): string {
  return JSON.stringify([cfg.indexUrl.href, cfg.workers, cfg.timeoutMs, cfg.upstreams]);
}

/** A change to these starts a sync now rather than at the next tick. */
function isSyncTrigger(before: Config, after: Config): boolean {
  const requirements = (cfg: Config): string => JSON.stringify([cfg.requirements, cfg.requirementRoots]);
  return (
    computeScopeKey(before) !== computeScopeKey(after) ||
    before.mirrorRoot !== after.mirrorRoot ||
    before.findLinksDir !== after.findLinksDir ||
    requirements(before) !== requirements(after)
  );
}

/** Config properties whose config-file key is not their snake_case name. */
const KEY_NAMES: Readonly<Record<string, string>> = {
  mirrorRoot: 'mirror_file_path',
  lockFile: 'lock_file_name',
  logFile: 'log_filename',
};

/** `syncIntervalMs` → `sync_interval`: the name the config file uses. */
function keyName(property: string): string {
  return KEY_NAMES[property] ?? property.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The config-file keys whose values differ. */
export function diffConfig(before: Config, after: Config): string[] {
  const properties = new Set([...Object.keys(before), ...Object.keys(after)]);
  properties.delete('warnings');
  properties.delete('file');
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return [...properties]
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map(keyName)
    .sort();
}

export function startDaemon(initial: Config, deps: DaemonDeps, signal: AbortSignal): Daemon {
  const { log } = deps;
  let current = initial;
  let pending: Config | null = null;
  let client = deps.createClient(current);
  const closing: Promise<void>[] = [];
  let isRunning = false;
  let isWakeRequested = false;
  let wake: (() => void) | null = null;

  const closeClient = (old: UpstreamClient): void => {
    closing.push(
      old
        .close()
        .catch((err: unknown) => log.warn('closing an upstream client failed', { error: describe(err) })),
    );
  };

  const applyPending = (): void => {
    if (pending === null) return;
    const before = current;
    current = pending;
    pending = null;
    if (clientKey(before) !== clientKey(current)) {
      closeClient(client);
      client = deps.createClient(current);
    }
    deps.onConfigApplied?.(current);
    log.info('config applied', { changed: diffConfig(before, current).join(',') });
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        wake = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      wake = finish;
    });

  const nextRunAt = (finishedAt: Date): Date | null =>
    isWakeRequested ? finishedAt : new Date(finishedAt.getTime() + (pending ?? current).syncIntervalMs);

  const loop = async (): Promise<void> => {
    let isDue = true;
    while (!signal.aborted) {
      if (!isDue) {
        log.debug('next sync scheduled', { inMs: current.syncIntervalMs });
        await sleep(current.syncIntervalMs);
        if (signal.aborted) break;
      }
      applyPending();
      isWakeRequested = false;
      isRunning = true;
      let outcome: RunOutcome;
      try {
        outcome = await runLockedSync(
          {
            log,
            upstream: client.upstream,
            upstreams: client.upstreams,
            command: 'run',
            version: deps.version,
            ...(deps.lock === undefined ? {} : { lock: deps.lock }),
            ...(deps.retry === undefined ? {} : { retry: deps.retry }),
            ...(deps.now === undefined ? {} : { now: deps.now }),
          },
          current,
          signal,
          nextRunAt,
        );
      } finally {
        isRunning = false;
      }
      if (outcome.kind === 'locked') {
        log.warn(`${outcome.error.message}; trying again at the next tick`);
      }
      deps.onRunEnd?.(outcome);
      applyPending();
      isDue = isWakeRequested;
    }
  };

  const reloadNow = async (reason: string): Promise<void> => {
    log.info('reloading the config', { reason, file: deps.configPath });
    let next: Config;
    try {
      next = await deps.loadConfig(deps.configPath);
    } catch (err) {
      if (err instanceof ConfigError && err.code === 'CONFIG_NOT_FOUND') {
        log.warn('config file not found; keeping the current config', { file: deps.configPath });
      } else if (err instanceof ConfigError) {
        const n = err.issues.length;
        log.error(`config not applied: ${n} problem${n === 1 ? '' : 's'}; keeping the current config`, {
          file: deps.configPath,
        });
        for (const issue of err.issues) log.error(formatConfigIssue(issue));
      } else {
        log.error('config reload failed; keeping the current config', { error: describe(err) });
      }
      return;
    }
    if (signal.aborted) return;
    watcher?.watchAlso(next.requirementFiles);
    const changed = diffConfig(pending ?? current, next);
    if (changed.length === 0) {
      log.info('config unchanged', { file: deps.configPath });
      return;
    }
    for (const warning of next.warnings) log.warn(warning);
    pending = next;
    const isTrigger = isSyncTrigger(current, next);
    if (isTrigger) isWakeRequested = true;
    log.info('config change accepted', {
      changed: changed.join(','),
      applies: isRunning ? 'after the current sync' : 'now',
      sync: isTrigger ? (isRunning ? 'right after the current sync' : 'now') : 'at the next tick',
    });
    if (!isRunning) {
      applyPending();
      if (isTrigger) wake?.();
    }
  };

  let reloadChain: Promise<void> = Promise.resolve();
  let isReloadQueued = false;
  const reload = (reason: string): void => {
    if (signal.aborted || isReloadQueued) return;
    isReloadQueued = true;
    reloadChain = reloadChain
      .then(() => {
        isReloadQueued = false;
        return reloadNow(reason);
      })
      .catch((err: unknown) => log.error('config reload failed', { error: describe(err) }));
  };

  let watcher: ConfigWatcher | null = null;
  if (deps.isWatching !== false) {
    watcher = watchConfig({
      file: deps.configPath,
      log,
      alsoFiles: initial.requirementFiles,
      ...(deps.watchDebounceMs === undefined ? {} : { debounceMs: deps.watchDebounceMs }),
      onEvent: (event) => {
        if (event === 'deleted') {
          log.warn('config file deleted; keeping the current config until it is back', {
            file: deps.configPath,
          });
        } else {
          reload('config file changed');
        }
      },
    });
  }

  log.info('daemon started', {
    config: deps.configPath,
    mirror: current.mirrorRoot,
    intervalMs: current.syncIntervalMs,
  });
  const done = (async () => {
    try {
      await loop();
    } finally {
      await reloadChain;
      await watcher?.close();
      closeClient(client);
      await Promise.all(closing);
      log.info('daemon stopped');
    }
  })();
  return { reload, ready: watcher?.ready ?? Promise.resolve(), done };
}
