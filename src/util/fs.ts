// Atomic, durable writes: temp file beside the target → fsync → rename → fsync the directory. Every directory
// and file pypimirror creates gets an explicit mode (0755 / 0644), whatever the umask.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { isTempName, TEMP_SUFFIX } from '../model/layout.js';
import { pooledCalls, type FsCalls } from './fs-calls.js';

/** Mode of every directory pypimirror creates: the web server's user must read and enter it. */
export const DIR_MODE = 0o755;
/** Mode of every file pypimirror creates. */
export const FILE_MODE = 0o644;

/** Random bytes for temp names, drawn 6 at a time; one call to the generator per 256 names. */
const nameEntropy = Buffer.alloc(6 * 256);
let nameEntropyAt = nameEntropy.length;

/** A hidden temp path in the same directory as `target`: `.<name>.<12 random hex>.tmp`. */
export function tempPathFor(target: string): string {
  if (nameEntropyAt === nameEntropy.length) {
    // node:crypto loads with the first temp name: `check` writes none (issue #14 part 3).
    process.getBuiltinModule('node:crypto').randomFillSync(nameEntropy);
    nameEntropyAt = 0;
  }
  const random = nameEntropy.toString('hex', nameEntropyAt, (nameEntropyAt += 6));
  return join(dirname(target), `.${basename(target)}.${random}${TEMP_SUFFIX}`);
}

/**
 * `mkdir -p` with every directory it creates set to DIR_MODE: mkdir's mode is cut by the umask, so a chmod
 * follows each new directory unless the umask takes none of DIR_MODE's bits (the usual 022 or 002).
 */
export async function ensureDir(dir: string, calls: FsCalls = pooledCalls): Promise<void> {
  const first = await calls.mkdirs(dir, DIR_MODE);
  if (first === undefined || isKeptByUmask(DIR_MODE)) return;
  let path = first;
  await chmod(path, DIR_MODE);
  const rest = relative(first, dir);
  for (const part of rest === '' ? [] : rest.split(sep)) {
    path = join(path, part);
    await chmod(path, DIR_MODE);
  }
}

let processUmask: number | null | undefined;

/**
 * The process's umask as Linux reports it (`Umask:` in /proc/self/status, read once: pypimirror never changes
 * its umask), or null when it cannot be told (another system, an older kernel).
 */
export function readUmask(): number | null {
  if (processUmask === undefined) {
    try {
      const octal = /^Umask:\s*([0-7]{1,4})$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      processUmask = octal === undefined ? null : parseInt(octal, 8);
    } catch {
      processUmask = null;
    }
  }
  return processUmask;
}

/**
 * Creates `path` (a new temp name: it must not exist, and is never a symlink followed) for writing, with
 * FILE_MODE whatever the umask. Creating it, open() gives it FILE_MODE less the umask; an fchmod follows only
 * when the umask takes bits of FILE_MODE away or cannot be read (one system call per file saved under the
 * usual 022 or 002, which leave 0644 as it is).
 */
export async function openNewFile(path: string): Promise<FileHandle> {
  const handle = await open(path, 'wx', FILE_MODE);
  if (isModeKept()) return handle;
  try {
    await handle.chmod(FILE_MODE);
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
  return handle;
}

/**
 * Writes a few bytes to `path` in place (`w`) or as a new file (`wx`, failing with EEXIST), with FILE_MODE
 * whatever the umask: not atomic, for files that only their writer's mutex reads (the lock's files). On the
 * calling thread: a few small files at the start and end of a run, where a round trip to the thread pool
 * per call cost more than the calls themselves.
 */
export function writeSmallFileSync(path: string, data: string, flag: 'w' | 'wx'): void {
  writeFileSync(path, data, { flag, mode: FILE_MODE });
  if (!isModeKept()) chmodSync(path, FILE_MODE);
}

/** Whether open() leaves FILE_MODE as it is: the umask takes none of its bits. */
function isModeKept(): boolean {
  return isKeptByUmask(FILE_MODE);
}

/** Whether the umask takes none of `mode`'s bits (false when it cannot be read). */
function isKeptByUmask(mode: number): boolean {
  const umask = readUmask();
  return umask !== null && (umask & mode) === 0;
}

/** openNewFile's descriptor, made through `calls` (fs-calls.ts). */
export async function createNewFile(path: string, calls: FsCalls): Promise<number> {
  const fd = await calls.openNew(path, FILE_MODE);
  if (isModeKept()) return fd;
  try {
    await calls.fchmod(fd, FILE_MODE);
  } catch (err) {
    await calls.close(fd).catch(() => {});
    await calls.unlink(path).catch(() => {});
    throw err;
  }
  return fd;
}

/** fsync a directory so that a rename in it survives a power loss. */
export async function syncDir(dir: string, calls: FsCalls = pooledCalls): Promise<void> {
  const fd = await calls.openRead(dir);
  if (fd === null) {
    const err = new Error(`ENOENT: no such file or directory, open '${dir}'`);
    throw Object.assign(err, { errno: -2, code: 'ENOENT', syscall: 'open', path: dir });
  }
  try {
    await calls.fsync(fd);
  } finally {
    await calls.close(fd);
  }
}

/**
 * Writes `data` to `target` atomically: readers see the old file or the new one, never a part. Durable
 * (fsync of the file and its directory) unless `isDurable` is false: then a crash of the process still
 * leaves the old file or the new one, and only a power loss may lose the write. `isDirectorySynced: false`
 * fsyncs the file but leaves the directory to a later durable write in it (a page after its files). An
 * iterable is written piece by piece (a large JSON record need not be one string). `calls`: how the
 * file-system calls are made (fs-calls.ts). `ensureParent` makes the target's directory (default ensureDir;
 * a storage that knows which directories it made passes its own).
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array | Iterable<string>,
  {
    isDurable = true,
    isDirectorySynced = isDurable,
    calls = pooledCalls,
    ensureParent = (dir: string) => ensureDir(dir, calls),
  }: {
    isDurable?: boolean;
    isDirectorySynced?: boolean;
    calls?: FsCalls;
    ensureParent?: (dir: string) => Promise<void>;
  } = {},
): Promise<void> {
  await ensureParent(dirname(target));
  const temp = tempPathFor(target);
  const fd = await createNewFile(temp, calls);
  try {
    if (typeof data === 'string') await calls.write(fd, Buffer.from(data));
    else if (data instanceof Uint8Array) await calls.write(fd, data);
    else await writePieces(fd, data, calls);
    if (isDurable) await calls.fsync(fd);
  } catch (err) {
    await calls.close(fd).catch(() => {});
    await calls.unlink(temp).catch(() => {});
    throw err;
  }
  await calls.close(fd);
  try {
    await calls.rename(temp, target);
  } catch (err) {
    await calls.unlink(temp).catch(() => {});
    throw err;
  }
  if (isDirectorySynced) await syncDir(dirname(target), calls);
}

/** Pieces of an iterable are written this much at a time (a small record: one write, not one per piece). */
const WRITE_BATCH_CHARS = 1 << 20;

async function writePieces(fd: number, pieces: Iterable<string>, calls: FsCalls): Promise<void> {
  let batch: string[] = [];
  let chars = 0;
  for (const piece of pieces) {
    batch.push(piece);
    chars += piece.length;
    if (chars >= WRITE_BATCH_CHARS) {
      await calls.write(fd, Buffer.from(batch.join('')));
      batch = [];
      chars = 0;
    }
  }
  if (batch.length > 0) await calls.write(fd, Buffer.from(batch.join('')));
}

/**
 * Removes leftover hidden temp files (from a crash or a kill) in `dir`; returns how many. Names in `keep`
 * (entries an adopted root held before pypimirror) are never touched. `calls`: how the directory is listed
 * and the files removed (fs-calls.ts). Never rejects: a directory that cannot be listed, or a file that
 * cannot be removed, is left for the next sweep.
 */
export async function removeTempFiles(
  dir: string,
  keep: ReadonlySet<string> = new Set(),
  calls: FsCalls = pooledCalls,
): Promise<number> {
  let names: string[] | null;
  try {
    names = await calls.readdir(dir);
  } catch {
    return 0;
  }
  if (names === null) return 0;
  const temps = names.filter((n) => isTempName(n) && !keep.has(n));
  await Promise.all(temps.map((n) => calls.unlink(join(dir, n)).catch(() => {})));
  return temps.length;
}

/** Size of the regular file at `path` (never through a symlink), or null when there is none. */
export async function regularFileSize(path: string, calls: FsCalls = pooledCalls): Promise<number | null> {
  const info = await calls.lstat(path);
  return info?.isFile() === true ? info.size : null;
}

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}
