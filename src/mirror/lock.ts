// The run lock (DESIGN.md "One sync" step 1): one sync at a time per mirror, whoever runs it (`run`, `sync`,
// a cron job). proper-lockfile makes the lock a directory (atomic mkdir) whose mtime it refreshes while held;
// a lock not refreshed for `staleMs` is taken over. Who holds it is kept in a sibling file
// `<lock>.owner` (JSON {pid, host, since}) so a refused run can say who and since when, and so a lock left by
// a dead process on this host (kill -9) is taken over at once instead of after `staleMs`.
//
// Every acquisition, including a takeover, happens inside a short mutex (`<lock>.acquiring`, also a mkdir),
// so two processes that both find the same dead or stale holder cannot both remove it and both win.
import { chmod, mkdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile, { type LockOptions as ProperLockOptions } from 'proper-lockfile';
import { LockError } from '../errors.js';
import type { Logger } from '../log.js';
import { DIR_MODE, ensureDir, isNotFound, writeFileAtomic } from '../util/fs.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601 UTC, whole seconds. */
  readonly since: string;
}

export interface RunLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Releases the lock (idempotent; a no-op once the lock was lost). */
  release(): Promise<void>;
}

export interface LockOptions {
  /** Absolute path of the lock (a directory while held). */
  readonly lockFile: string;
  /** Called once if the lock is lost while held (refresh failed, or another process took it over). */
  readonly onLost: (err: LockError) => void;
  readonly log: Logger;
  /** A lock not refreshed for this long is taken over (proper-lockfile minimum: 2000). Default 60 s. */
  readonly staleMs?: number;
  /** How often the held lock is refreshed (minimum 1000, at most staleMs / 2). Default 10 s. */
  readonly updateMs?: number;
  readonly now?: () => Date;
  /** Whether a process of this host is alive (tests replace it). */
  readonly isAlive?: (pid: number) => boolean;
}

export const DEFAULT_STALE_MS = 60_000;
export const DEFAULT_UPDATE_MS = 10_000;
/** The acquisition mutex is held for milliseconds; one older than this was left by a killed process. */
const MUTEX_STALE_MS = 10_000;
const MUTEX_WAIT_MS = 15_000;
const MUTEX_POLL_MS = 25;

export function ownerPath(lockFile: string): string {
  return `${lockFile}.owner`;
}

function mutexPath(lockFile: string): string {
  return `${lockFile}.acquiring`;
}

/** `2026-11-21T09:14:03Z` */
export function formatSince(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Whether `pid` is a live process on this host: signal 0 probes without sending anything. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

function decodeHolder(value: unknown): LockHolder | null {
  if (typeof value !== 'object' || value === null) return null;
  const { pid, host, since } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
  if (typeof host !== 'string' || typeof since !== 'string') return null;
  return { pid, host, since };
}

/** The recorded holder of `lockFile`, or null when unknown (no owner file, or an unreadable one). */
export async function readHolder(lockFile: string): Promise<LockHolder | null> {
  try {
    return decodeHolder(JSON.parse(await readFile(ownerPath(lockFile), 'utf8')));
  } catch {
    return null;
  }
}

/** `another pypimirror run holds the lock /srv/mirror/.pypimirror.lock: pid 1234 on host build-3 since ...` */
export function formatHeld(
  lockFile: string,
  holder: LockHolder | null,
  refreshedAgoMs: number | null,
): string {
  const head = `another pypimirror run holds the lock ${lockFile}`;
  const refreshed =
    refreshedAgoMs === null
      ? ''
      : ` (last refreshed ${Math.max(0, Math.round(refreshedAgoMs / 1000))} s ago)`;
  if (holder === null) return `${head}: holder unknown${refreshed}`;
  return `${head}: pid ${holder.pid} on host ${holder.host} since ${holder.since}${refreshed}`;
}

function sameHolder(a: LockHolder | null, b: LockHolder): boolean {
  return a !== null && a.pid === b.pid && a.host === b.host && a.since === b.since;
}

/** Runs `fn` inside the acquisition mutex. */
async function withMutex<T>(lockFile: string, log: Logger, fn: () => Promise<T>): Promise<T> {
  const path = mutexPath(lockFile);
  const deadline = Date.now() + MUTEX_WAIT_MS;
  for (;;) {
    try {
      await mkdir(path);
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const info = await stat(path).catch(() => null);
    if (info !== null && Date.now() - info.mtimeMs > MUTEX_STALE_MS) {
      log.warn('removing a lock-acquisition mutex left by a killed process', { path });
      await rmdir(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new LockError('LOCK_HELD', `${path} is held by another process that is taking the run lock`);
    }
    await sleep(MUTEX_POLL_MS);
  }
  try {
    return await fn();
  } finally {
    await rmdir(path).catch(() => {});
  }
}

/**
 * Takes the run lock or throws LockError('LOCK_HELD') naming the holder. The lock stays until release();
 * while held it is refreshed every `updateMs`, and `onLost` is called if that fails.
 */
export async function acquireRunLock(opts: LockOptions): Promise<RunLock> {
  const lockFile = resolve(opts.lockFile);
  const now = opts.now ?? (() => new Date());
  const isAlive = opts.isAlive ?? isProcessAlive;
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const updateMs = opts.updateMs ?? DEFAULT_UPDATE_MS;
  const host = hostname();
  let isLost = false;
  let isReleased = false;
  const lockOptions: ProperLockOptions = {
    lockfilePath: lockFile,
    realpath: false,
    stale: staleMs,
    update: updateMs,
    retries: 0,
    onCompromised: (err) => {
      if (isReleased) return;
      isLost = true;
      const lost = new LockError('LOCK_LOST', `the run lock ${lockFile} was lost: ${err.message}`, {
        cause: err,
      });
      opts.log.error('run lock lost; aborting the run', { lock: lockFile, error: err.message });
      opts.onLost(lost);
    },
  };
  await ensureDir(dirname(lockFile));

  const holder: LockHolder = { pid: process.pid, host, since: formatSince(now()) };
  const unlock = await withMutex(lockFile, opts.log, async () => {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(lockFile, lockOptions);
    } catch (err) {
      if (errnoCode(err) !== 'ELOCKED') throw err;
      const current = await readHolder(lockFile);
      if (current !== null && current.host === host && current.pid !== process.pid && !isAlive(current.pid)) {
        // Killed without releasing (kill -9, OOM, power cut): its pid is gone, so the lock is ours now.
        opts.log.warn('taking over the run lock of a process that no longer exists', {
          lock: lockFile,
          pid: current.pid,
          since: current.since,
        });
        await rmdir(lockFile).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        release = await lockfile.lock(lockFile, lockOptions);
      } else {
        const info = await stat(lockFile).catch(() => null);
        const refreshedAgoMs = info === null ? null : now().getTime() - info.mtimeMs;
        throw new LockError('LOCK_HELD', formatHeld(lockFile, current, refreshedAgoMs), {
          cause: err,
          holder: current,
        });
      }
    }
    try {
      await chmod(lockFile, DIR_MODE); // proper-lockfile's mkdir leaves the mode to the umask
      await writeFileAtomic(ownerPath(lockFile), `${JSON.stringify(holder)}\n`);
    } catch (err) {
      await release().catch(() => {});
      throw err;
    }
    return release;
  });
  opts.log.debug('run lock taken', { lock: lockFile });

  return {
    path: lockFile,
    holder,
    release: async () => {
      if (isReleased) return;
      isReleased = true;
      if (isLost) return;
      // The owner file goes first: whoever finds the lock directory without it waits for staleness.
      if (sameHolder(await readHolder(lockFile), holder)) {
        await unlink(ownerPath(lockFile)).catch(() => {});
      }
      await unlock().catch((err: unknown) => {
        if (errnoCode(err) !== 'ERELEASED' && errnoCode(err) !== 'ENOTACQUIRED') throw err;
      });
      opts.log.debug('run lock released', { lock: lockFile });
    },
  };
}
