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
import { ConfigError, formatConfigIssue, LockError, StateError } from './errors.js';
import type { Logger } from './log.js';
import type { RunLock } from './mirror/lock.js';
import { takeRunLock } from './mirror/run-lock.js';
import { claimRoot } from './mirror/ownership.js';
import { nextStatus, readStatus, summarizeRun, writeMetrics, writeStatus, type RunResult } from './status.js';
import { clientKey, diffConfig, isSyncTrigger } from './config-change.js';
import type { SyncReport } from './sync/report.js';
import { runSync, type SyncDeps } from './sync/run.js';
import type { Upstream } from './model/upstream.js';
import { openStorage } from './storage/open.js';
import type { Storage } from './storage/types.js';

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
  /**
   * Called once the sync is over, before the status file is written and the lock released: the one-shot
   * `sync`, which makes no request after it, closes its connections meanwhile.
   */
  readonly onSyncEnd?: () => void;
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

/** The line for a run that did not return (runSync logs the summary line when it does). */
function logUnfinishedRun(
  log: Logger,
  durationMs: number,
  isAborted: boolean,
  reason: unknown,
  error: unknown,
): void {
  const seconds = (durationMs / 1000).toFixed(1);
  if (isAborted) log.warn(`sync aborted before it finished in ${seconds} s`, { reason });
  else
    log.error(`sync failed in ${seconds} s`, {
      // A corrupt state file is the user's to fix: its message says which and how; a bug gets its stack.
      error:
        error instanceof StateError || !(error instanceof Error)
          ? describe(error)
          : (error.stack ?? error.message),
    });
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
  let storage: Storage;
  try {
    storage = await openStorage(cfg);
    await claimRoot(cfg, storage); // no lock, status file or page in a root that is not ours (a reloaded config's too)
  } catch (err) {
    log.error(describe(err));
    return { kind: 'no-lock', error: err };
  }
  try {
    lock = await takeRunLock(cfg, {
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
        storage,
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
  deps.onSyncEnd?.();
  const isAborted = runSignal.aborted;
  // Why it stopped, for the status file: the lost lock, the shutdown, or the crash.
  const reason: unknown = lostError ?? (isAborted ? (signal.reason as unknown) : error);
  const run = summarizeRun({ report, startedAt, finishedAt, error: reason ?? null, isAborted });
  if (report === null) logUnfinishedRun(log, run.durationMs, isAborted, run.error, error);
  try {
    const previous = await readStatus(storage);
    const status = nextStatus(
      previous,
      run,
      {
        command: deps.command,
        pid: process.pid,
        host: hostname(),
        version: deps.version,
        config: cfg.file,
        mirror: storage.where,
      },
      nextRunAt(finishedAt),
    );
    await writeStatus(storage, status);
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

/** The loop's state: the config in use and the one waiting for the next run boundary, the client, the timer. */
class DaemonLoop {
  private current: Config;
  private pending: Config | null = null;
  private client: UpstreamClient;
  private readonly closing: Promise<void>[] = [];
  private isRunning = false;
  private isWakeRequested = false;
  private wake: (() => void) | null = null;
  private reloadChain: Promise<void> = Promise.resolve();
  private isReloadQueued = false;
  /** Set by startDaemon once the watcher is in place: a reload adds the requirement files it names. */
  watcher: ConfigWatcher | null = null;

  constructor(
    initial: Config,
    private readonly deps: DaemonDeps,
    private readonly signal: AbortSignal,
  ) {
    this.current = initial;
    this.client = deps.createClient(initial);
  }

  /** Syncs at start, then `sync_interval` after each run ends (at once when a reload asked for it). */
  async loop(): Promise<void> {
    const { log } = this.deps;
    let isDue = true;
    while (!this.signal.aborted) {
      if (!isDue) {
        log.debug('next sync scheduled', { inMs: this.current.syncIntervalMs });
        await this.sleep(this.current.syncIntervalMs);
        if (this.signal.aborted) break;
      }
      this.applyPending();
      this.isWakeRequested = false;
      this.isRunning = true;
      let outcome: RunOutcome;
      try {
        outcome = await this.runOnce();
      } finally {
        this.isRunning = false;
      }
      if (outcome.kind === 'locked') {
        log.warn(`${outcome.error.message}; trying again at the next tick`);
      }
      this.deps.onRunEnd?.(outcome);
      this.applyPending();
      isDue = this.isWakeRequested;
    }
  }

  /** Reloads the config, one reload at a time (a second request while one waits is the same reload). */
  reload(reason: string): void {
    if (this.signal.aborted || this.isReloadQueued) return;
    this.isReloadQueued = true;
    this.reloadChain = this.reloadChain
      .then(() => {
        this.isReloadQueued = false;
        return this.reloadNow(reason);
      })
      .catch((err: unknown) => this.deps.log.error('config reload failed', { error: describe(err) }));
  }

  /** After the loop: the reload in flight ends, the watcher and every client close. */
  async close(): Promise<void> {
    await this.reloadChain;
    await this.watcher?.close();
    this.closeClient(this.client);
    await Promise.all(this.closing);
  }

  private runOnce(): Promise<RunOutcome> {
    const { deps } = this;
    const nextRunAt = (finishedAt: Date): Date | null =>
      this.isWakeRequested
        ? finishedAt
        : new Date(finishedAt.getTime() + (this.pending ?? this.current).syncIntervalMs);
    return runLockedSync(
      {
        log: deps.log,
        upstream: this.client.upstream,
        upstreams: this.client.upstreams,
        command: 'run',
        version: deps.version,
        ...(deps.lock === undefined ? {} : { lock: deps.lock }),
        ...(deps.retry === undefined ? {} : { retry: deps.retry }),
        ...(deps.now === undefined ? {} : { now: deps.now }),
      },
      this.current,
      this.signal,
      nextRunAt,
    );
  }

  private closeClient(old: UpstreamClient): void {
    this.closing.push(
      old
        .close()
        .catch((err: unknown) =>
          this.deps.log.warn('closing an upstream client failed', { error: describe(err) }),
        ),
    );
  }

  private applyPending(): void {
    if (this.pending === null) return;
    const before = this.current;
    this.current = this.pending;
    this.pending = null;
    if (clientKey(before) !== clientKey(this.current)) {
      this.closeClient(this.client);
      this.client = this.deps.createClient(this.current);
    }
    this.deps.onConfigApplied?.(this.current);
    this.deps.log.info('config applied', { changed: diffConfig(before, this.current).join(',') });
  }

  private sleep(ms: number): Promise<void> {
    const { signal } = this;
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }

  private async reloadNow(reason: string): Promise<void> {
    const { log, configPath } = this.deps;
    log.info('reloading the config', { reason, file: configPath });
    let next: Config;
    try {
      next = await this.deps.loadConfig(configPath);
    } catch (err) {
      logReloadFailure(log, configPath, err);
      return;
    }
    if (this.signal.aborted) return;
    this.watcher?.watchAlso(next.requirementFiles);
    const changed = diffConfig(this.pending ?? this.current, next);
    if (changed.length === 0) {
      log.info('config unchanged', { file: configPath });
      return;
    }
    for (const warning of next.warnings) log.warn(warning);
    this.pending = next;
    const isTrigger = isSyncTrigger(this.current, next);
    if (isTrigger) this.isWakeRequested = true;
    log.info('config change accepted', {
      changed: changed.join(','),
      applies: this.isRunning ? 'after the current sync' : 'now',
      sync: isTrigger ? (this.isRunning ? 'right after the current sync' : 'now') : 'at the next tick',
    });
    if (!this.isRunning) {
      this.applyPending();
      if (isTrigger) this.wake?.();
    }
  }
}

/** A reload that found no valid config: the current one stays, and the log says why. */
function logReloadFailure(log: Logger, file: string, err: unknown): void {
  if (err instanceof ConfigError && err.code === 'CONFIG_NOT_FOUND') {
    log.warn('config file not found; keeping the current config', { file });
  } else if (err instanceof ConfigError) {
    const n = err.issues.length;
    log.error(`config not applied: ${n} problem${n === 1 ? '' : 's'}; keeping the current config`, { file });
    for (const issue of err.issues) log.error(formatConfigIssue(issue));
  } else {
    log.error('config reload failed; keeping the current config', { error: describe(err) });
  }
}

export function startDaemon(initial: Config, deps: DaemonDeps, signal: AbortSignal): Daemon {
  const { log } = deps;
  const daemon = new DaemonLoop(initial, deps, signal);
  if (deps.isWatching !== false) {
    daemon.watcher = watchConfig({
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
          daemon.reload('config file changed');
        }
      },
    });
  }
  log.info('daemon started', {
    config: deps.configPath,
    mirror: initial.mirrorRoot,
    intervalMs: initial.syncIntervalMs,
  });
  const done = (async () => {
    try {
      await daemon.loop();
    } finally {
      await daemon.close();
      log.info('daemon stopped');
    }
  })();
  return {
    reload: (reason) => daemon.reload(reason),
    ready: daemon.watcher?.ready ?? Promise.resolve(),
    done,
  };
}
