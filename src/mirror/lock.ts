// The run lock (docs/architecture.md "The lock"): one sync at a time per mirror, whoever runs it (`run`, `sync`,
// a cron job). proper-lockfile makes the lock a directory (atomic mkdir) whose mtime it refreshes while held.
// Who holds it is kept in a sibling file `<lock>.owner` (JSON {pid, host, since, startTime}) so a refused run
// can say who and since when, and so that whether to take a lock over is decided from its holder:
// - a holder on this host is asked directly: while its pid lives (and started when the owner file says, so a
//   reused pid does not count) the lock is never taken over, however long since its last refresh (a holder
//   whose event loop was blocked for minutes is still running its sync); once its pid is gone the lock is
//   taken over at once;
// - a holder on another host (a shared file system), or an unknown one, cannot be asked: its lock is taken
//   over once not refreshed for `staleMs`, with a warning naming it.
// proper-lockfile's own staleness rule (remove any lock older than `stale`) would bypass this, so it is
// given a `stale` that never passes, and the decision above is made here.
//
// Every acquisition, including a takeover, happens inside a short mutex (`<lock>.acquiring`, a file made with
// O_EXCL that names its holder), so two processes that both find the same dead or stale holder cannot both
// remove it and both win. The owner file is written before the lock directory is made and removed after it
// is, so that a holder killed at any instant leaves either no lock or a lock whose owner file names it.
import { chmodSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile, { type LockOptions as ProperLockOptions } from 'proper-lockfile';
import { LockError } from '../errors.js';
import type { Logger } from '../log.js';
import { directCalls } from '../util/fs-calls.js';
import { DIR_MODE, ensureDir, writeSmallFileSync } from '../util/fs.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601 UTC, whole seconds. */
  readonly since: string;
  /** The holder's start time (clock ticks after boot, /proc/<pid>/stat field 22), when it could be read. */
  readonly startTime?: number;
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
  /** Whether a holder on this host is still running (tests replace it). */
  readonly isHolderAlive?: (holder: LockHolder) => Promise<boolean>;
}

const DEFAULT_STALE_MS = 60_000;
const DEFAULT_UPDATE_MS = 10_000;
/** proper-lockfile's `stale`: never reached, so that it never removes a lock by itself (see the head). */
const NEVER_STALE_MS = Number.MAX_SAFE_INTEGER;
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

/** The start time (field 22, clock ticks after boot) in the text of /proc/<pid>/stat, or null. */
export function parseStartTime(stat: string): number | null {
  // Field 2, the command name, is in parentheses and may itself hold spaces and ')': split after the last.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  const value = fields[19]; // fields 3.. follow the name: field 22 is the 20th
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

/** When process `pid` of this host started (see parseStartTime), or null when /proc does not say. */
export function readStartTime(pid: number): number | null {
  try {
    return parseStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether a holder on this host still runs: its pid exists and, when the owner file recorded it, started at
 * the recorded time (a pid reused by another process after the holder died does not count). A start time
 * that cannot be read counts as a match: when unsure, the lock is not taken.
 */
async function isHolderRunning(holder: LockHolder): Promise<boolean> {
  if (!isProcessAlive(holder.pid)) return false;
  if (holder.startTime === undefined) return true;
  const startTime = readStartTime(holder.pid);
  return startTime === null || startTime === holder.startTime;
}

export type LockVerdict =
  /** Someone may still be using it: refuse. */
  | 'held'
  /** Its holder on this host is gone: take it over at once. */
  | 'dead'
  /** Its holder is on another host (or unknown) and has not refreshed it for staleMs: take it over, warn. */
  | 'stale';

/**
 * Whether a lock found held may be taken over (see the head comment). `isRunning`: the holder's state when
 * it is on this host (ignored otherwise); `refreshedAgoMs`: time since the lock's last refresh.
 */
export function judgeLock(facts: {
  readonly holder: LockHolder | null;
  readonly host: string;
  readonly isRunning: boolean;
  readonly refreshedAgoMs: number;
  readonly staleMs: number;
}): LockVerdict {
  if (facts.holder !== null && facts.holder.host === facts.host) return facts.isRunning ? 'held' : 'dead';
  return facts.refreshedAgoMs > facts.staleMs ? 'stale' : 'held';
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined;
}

function decodeHolder(value: unknown): LockHolder | null {
  if (typeof value !== 'object' || value === null) return null;
  const { pid, host, since, startTime } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return null;
  if (typeof host !== 'string' || typeof since !== 'string') return null;
  return Number.isSafeInteger(startTime)
    ? { pid, host, since, startTime: startTime as number }
    : { pid, host, since };
}

/** The recorded holder of `lockFile`, or null when unknown (no owner file, or an unreadable one). */
function readHolder(lockFile: string): LockHolder | null {
  try {
    return decodeHolder(JSON.parse(readFileSync(ownerPath(lockFile), 'utf8')));
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
  return `${head}: ${holder === null ? 'holder unknown' : describeHolder(holder)}${refreshed}`;
}

/** `pid 1234 on host build-3 since 2026-11-21T09:14:03Z` */
function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid} on host ${holder.host} since ${holder.since}`;
}

function sameHolder(a: LockHolder | null, b: LockHolder): boolean {
  return a !== null && a.pid === b.pid && a.host === b.host && a.since === b.since;
}

/**
 * Whether the mutex file at `path` was left by a process that no longer takes the lock: its holder on this
 * host is gone, or it is older than MUTEX_STALE_MS (a holder elsewhere, or one killed before it wrote its
 * name: the mutex is held for milliseconds).
 */
function isMutexAbandoned(path: string, host: string): boolean {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // a directory (see removeMutex), or gone meanwhile: judged by its stat
  }
  let info;
  try {
    info = statSync(path);
  } catch {
    return false; // gone meanwhile: try again
  }
  const [pid, holderHost] = text.trim().split(' ');
  const holderPid = Number(pid);
  if (holderHost === host && Number.isInteger(holderPid) && holderPid > 0 && !isProcessAlive(holderPid)) {
    return true;
  }
  return Date.now() - info.mtimeMs > MUTEX_STALE_MS;
}

/** Removes an abandoned mutex: a file, or the directory that versions before 2026-12 made. */
function removeMutex(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'EISDIR' && errnoCode(err) !== 'EPERM') return;
    try {
      rmdirSync(path);
    } catch {
      // gone meanwhile, or not ours to remove: the next attempt judges it again
    }
  }
}

/**
 * Runs `fn` inside the acquisition mutex: a file made with O_EXCL that names its holder (`<pid> <host>`), so
 * that one left by a killed process of this host is removed at once rather than after MUTEX_STALE_MS.
 */
async function withMutex<T>(lockFile: string, log: Logger, fn: () => Promise<T>): Promise<T> {
  const path = mutexPath(lockFile);
  const host = hostname();
  const deadline = Date.now() + MUTEX_WAIT_MS;
  for (;;) {
    try {
      writeSmallFileSync(path, `${process.pid} ${host}\n`, 'wx');
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    if (isMutexAbandoned(path, host)) {
      log.warn('removing a lock-acquisition mutex left by a killed process', { path });
      removeMutex(path);
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
    try {
      unlinkSync(path);
    } catch {
      // already gone: a mutex is removed by its holder only, or as abandoned
    }
  }
}

/** The one warning a takeover logs: whose lock, and why it may be taken. */
function warnTakeover(
  log: Logger,
  lockFile: string,
  verdict: 'dead' | 'stale',
  holder: LockHolder | null,
  refreshedAgoMs: number,
  staleMs: number,
): void {
  const refreshedAgoS = Math.round(refreshedAgoMs / 1000);
  const fields = {
    lock: lockFile,
    pid: holder?.pid,
    host: holder?.host,
    since: holder?.since,
    refreshedAgoS,
  };
  if (verdict === 'dead') {
    // Killed without releasing (kill -9, OOM, power cut): its pid is gone, so the lock is ours now.
    log.warn('taking over the run lock of a process that no longer exists', fields);
    return;
  }
  const whose = holder === null ? 'an unknown holder' : describeHolder(holder);
  log.warn(
    `taking over a stale run lock: held by ${whose}, last refreshed ${refreshedAgoS} s ago ` +
      `(more than ${Math.round(staleMs / 1000)} s)`,
    fields,
  );
}

/**
 * Takes the run lock or throws LockError('LOCK_HELD') naming the holder. The lock stays until release();
 * while held it is refreshed every `updateMs`, and `onLost` is called if that fails.
 */
export async function acquireRunLock(opts: LockOptions): Promise<RunLock> {
  const lockFile = resolve(opts.lockFile);
  const now = opts.now ?? (() => new Date());
  const isHolderAlive = opts.isHolderAlive ?? isHolderRunning;
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const updateMs = opts.updateMs ?? DEFAULT_UPDATE_MS;
  const host = hostname();
  let isLost = false;
  let isReleased = false;
  const lockOptions: ProperLockOptions = {
    lockfilePath: lockFile,
    realpath: false,
    // Staleness is judged here (judgeLock), never by proper-lockfile: neither when taking the lock (it would
    // remove a live holder's lock) nor when refreshing it (it would give up after a long-blocked event loop).
    stale: NEVER_STALE_MS,
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
  await ensureDir(dirname(lockFile), directCalls);

  const startTime = readStartTime(process.pid);
  const holder: LockHolder = {
    pid: process.pid,
    host,
    since: formatSince(now()),
    ...(startTime === null ? {} : { startTime }),
  };
  const unlock = await withMutex(lockFile, opts.log, async () => {
    const info = statSync(lockFile, { throwIfNoEntry: false });
    if (info !== undefined) {
      const current = readHolder(lockFile);
      const refreshedAgoMs = now().getTime() - info.mtimeMs;
      const isOnThisHost = current !== null && current.host === host;
      const isRunning = isOnThisHost && (await isHolderAlive(current));
      const verdict = judgeLock({ holder: current, host, isRunning, refreshedAgoMs, staleMs });
      if (verdict === 'held') {
        throw new LockError('LOCK_HELD', formatHeld(lockFile, current, refreshedAgoMs), { holder: current });
      }
      warnTakeover(opts.log, lockFile, verdict, current, refreshedAgoMs, staleMs);
      try {
        rmdirSync(lockFile);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
    // The owner file is written before the lock is made, and removed only after it (release): whenever
    // the lock exists, its owner file names its holder, so a holder killed at any instant is judged by its
    // pid and not left to go stale. Inside the mutex no other acquisition can come between, and only the
    // mutex's holders read it: written in place, not through a temp file that a kill would leave behind.
    writeSmallFileSync(ownerPath(lockFile), `${JSON.stringify(holder)}\n`, 'w');
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(lockFile, lockOptions);
    } catch (err) {
      // Only a process that does not take the mutex (an older pypimirror) can have made it meanwhile.
      if (errnoCode(err) !== 'ELOCKED') throw err;
      throw new LockError('LOCK_HELD', formatHeld(lockFile, null, null), { cause: err, holder: null });
    }
    try {
      chmodSync(lockFile, DIR_MODE); // proper-lockfile's mkdir leaves the mode to the umask
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
      await unlock().catch((err: unknown) => {
        if (errnoCode(err) !== 'ERELEASED' && errnoCode(err) !== 'ENOTACQUIRED') throw err;
      });
      // The owner file goes after the lock (see the acquisition), inside the mutex so that it is never a
      // newer holder's. Killed in between, or the mutex not had, it stays: an owner file without its lock
      // is nobody's, and the next acquisition writes its own.
      await withMutex(lockFile, opts.log, async () => {
        if (sameHolder(readHolder(lockFile), holder)) unlinkSync(ownerPath(lockFile));
      }).catch((err: unknown) => {
        opts.log.debug('run lock owner file left', { lock: lockFile, error: String(err) });
      });
      opts.log.debug('run lock released', { lock: lockFile });
    },
  };
}
