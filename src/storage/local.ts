// The served tree on the local file system (storage/types.ts): a key is a path under the root directory. A
// file streams into a hidden temp file beside its target (the buffered sink for small files, the slot sink
// with O_DIRECT and the hashing thread for large ones, of this storage's own), is fdatasynced and renamed
// into place (a hard link, which refuses a name that is taken); small files go through writeFileAtomic
// (temp, fsync, rename, fsync of the directory). Nothing here follows a symlink inside the tree where it
// decides what a key is. The quick calls of a file's way into the tree are made directly where the root's
// file system allows it (util/fs-calls.ts).
import { open, readdir, readFile, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { StoreError } from '../errors.js';
import {
  createBufferedSink,
  createHeldSink,
  diskError,
  LARGE_FILE_BYTES,
  SMALL_FILE_BYTES,
  type FileSink,
} from './sink.js';
import { createSlotSink, SlotResources } from './slots.js';
import { fsCallsFor, pooledCalls, type FsCalls } from '../util/fs-calls.js';
import {
  createNewFile,
  ensureDir,
  isNotFound,
  regularFileSize,
  removeTempFiles,
  syncDir,
  tempPathFor,
  writeFileAtomic,
} from '../util/fs.js';
import { HASH_READ_BYTES } from './hash.js';
import type {
  BeginFileOptions,
  EntryKind,
  FileUpload,
  Listing,
  PutOptions,
  Storage,
  StoredObject,
} from './types.js';

interface LocalStorageOptions {
  /** How long the hashing thread of large files outlives the last one (default: a few seconds). */
  readonly threadIdleMs?: number;
  /** Hash large files on the hashing thread (default: when the machine has more than one core). */
  readonly hashOnThread?: boolean;
  /** How the file-system calls are made (default: as the root's file system allows, fs-calls.ts). */
  readonly calls?: FsCalls;
}

/**
 * The tree under `root` on this machine's file system. Its large files use a slot pool and a hashing thread
 * of its own, made when the first comes and let go when idle: a storage opened per run leaves none behind.
 */
export function createLocalStorage(root: string, options: LocalStorageOptions = {}): Storage {
  const pathOf = (key: string): string => (key === '' ? root : join(root, ...key.split('/')));
  const slots = new SlotResources(options.threadIdleMs);
  const calls = options.calls ?? fsCallsFor(root);
  const dirs = new KnownDirs(calls);
  const dirSyncs = new DirSyncs(calls);
  return {
    kind: 'local',
    where: root,
    localRoot: () => root,
    describe: pathOf,
    beginFile: (key, opts) => beginLocalFile(pathOf(key), opts, { ...options, slots, calls, dirs }),
    async put(key, body, opts: PutOptions = {}) {
      const durability = opts.durability ?? 'full';
      const path = pathOf(key);
      const write = (): Promise<void> =>
        writeFileAtomic(path, body, {
          isDurable: durability !== 'none',
          isDirectorySynced: false, // below, shared with the writes in the same directory
          calls,
          ensureParent: (dir) => dirs.ensure(dir),
        });
      try {
        await write();
      } catch (err) {
        // A directory known to exist was removed behind this storage's back: made again, once.
        if (!isNotFound(err) || !dirs.forget(dirname(path))) throw err;
        await write();
      }
      if (durability === 'full') await dirSyncs.sync(dirname(path));
    },
    get: (key) => readLocalFile(pathOf(key), calls),
    async open(key, signal) {
      const handle = await open(pathOf(key), 'r').catch(nullIfMissing);
      if (handle === null) return null;
      return handle.createReadStream({
        highWaterMark: HASH_READ_BYTES,
        ...(signal === undefined ? {} : { signal }),
      }) as unknown as Readable;
    },
    readRange: (key, position, length) => readLocalRange(pathOf(key), position, length, calls),
    async stat(key): Promise<StoredObject | null> {
      const size = await regularFileSize(pathOf(key), calls);
      return size === null ? null : { size, sha256: null };
    },
    async entryAt(key): Promise<EntryKind | null> {
      const info = await calls.lstat(pathOf(key));
      if (info === null) return null;
      return info.isFile() ? 'file' : info.isDirectory() ? 'dir' : 'other';
    },
    list: (dir) => listLocal(pathOf(dir)),
    async remove(key) {
      return calls.unlink(pathOf(key)).then(() => true, falseIfMissing);
    },
    async removeDir(dir) {
      try {
        await rmdir(pathOf(dir));
        dirs.forget(pathOf(dir));
        return true;
      } catch (err) {
        if (isNotFound(err)) return true;
        const code = (err as { code?: unknown }).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
        throw err;
      }
    },
    settle: (dir) => dirSyncs.sync(pathOf(dir)),
    // The root holds one entry per project: listed directly, 100 000 names held the event loop for 170 ms
    // of a no-op. It is listed on the thread pool, while the run goes on (isRootSweepConfined).
    sweep: (dir, keep) => removeTempFiles(pathOf(dir), keep, dir === '' ? pooledCalls : calls),
    isRootSweepConfined: true,
  };
}

function nullIfMissing(err: unknown): null {
  if (isNotFound(err)) return null;
  throw err;
}

function falseIfMissing(err: unknown): false {
  if (isNotFound(err)) return false;
  throw err;
}

async function listLocal(path: string): Promise<Listing> {
  const entries = await readdir(path, { withFileTypes: true }).catch(nullIfMissing);
  const listing = { files: [] as string[], dirs: [] as string[], others: [] as string[] };
  for (const entry of entries ?? []) {
    const into = entry.isFile() ? listing.files : entry.isDirectory() ? listing.dirs : listing.others;
    into.push(entry.name);
  }
  for (const names of Object.values(listing)) names.sort();
  return listing;
}

/** A file at most this large is read through `calls`; a larger one by readFile, on libuv's thread pool. */
const QUICK_READ_BYTES = 64 << 10;

/**
 * The bytes of the file at `path`, or null when there is none. Through `calls` (fs-calls.ts: directly where
 * the root's file system allows it, so that a missing file, as a new project's record is, costs no hand-off
 * to the thread pool), unless it is larger than QUICK_READ_BYTES.
 */
async function readLocalFile(path: string, calls: FsCalls): Promise<Buffer | null> {
  const fd = await calls.openRead(path);
  if (fd === null) return null;
  let buffer: Buffer | null = null;
  let done = 0;
  try {
    const size = await calls.size(fd);
    if (size <= QUICK_READ_BYTES) {
      buffer = Buffer.allocUnsafe(size);
      for (let got = -1; got !== 0 && done < size; done += got) {
        got = await calls.read(fd, buffer, done, size - done, done);
      }
    }
  } finally {
    await calls.close(fd);
  }
  if (buffer === null) return readFile(path).catch(nullIfMissing);
  return done === buffer.length ? buffer : buffer.subarray(0, done);
}

async function readLocalRange(
  path: string,
  position: number,
  length: number,
  calls: FsCalls,
): Promise<Buffer | null> {
  const fd = await calls.openRead(path);
  if (fd === null) return null;
  try {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const bytesRead = await calls.read(fd, buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? buffer : buffer.subarray(0, done);
  } finally {
    await calls.close(fd);
  }
}

/**
 * The directories a storage made or found during its life (a run), so that each is made (or found there)
 * once, not once per file written into it: a project's new directory is made before its first file is
 * created in it, not after a create that fails, and its pages and later files make no mkdir call. A hint
 * only: a directory removed behind the storage's back is forgotten when a create in it fails, and made again.
 */
class KnownDirs {
  private readonly dirs = new Set<string>();

  constructor(private readonly calls: FsCalls) {}

  /** `mkdir -p` of `dir` unless it is known to exist. */
  async ensure(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await ensureDir(dir, this.calls);
    this.dirs.add(dir);
  }

  /** `dir` is no longer known to exist; true when it was. */
  forget(dir: string): boolean {
    return this.dirs.delete(dir);
  }
}

/**
 * The fsyncs that make renames in a directory durable, shared by the writes that wait for one at the same
 * time (a group commit): a write whose rename is done waits for an fsync of its directory that starts after
 * it asked; while one runs, the writes that ask wait together for the next. The records of the projects
 * published during one fsync of `.pypimirror/projects` then cost one more fsync between them, not one each.
 */
class DirSyncs {
  /** The fsync running now, per directory. */
  private readonly running = new Map<string, Promise<void>>();
  /** The fsync that starts once the running one ends, per directory. */
  private readonly queued = new Map<string, Promise<void>>();

  constructor(private readonly calls: FsCalls) {}

  /** Resolves once an fsync of `dir` that started after this call has ended; rejects with its failure. */
  sync(dir: string): Promise<void> {
    const queued = this.queued.get(dir);
    if (queued !== undefined) return queued;
    const running = this.running.get(dir);
    if (running === undefined) return this.start(dir);
    const next = running.then(noop, noop).then(() => {
      this.queued.delete(dir);
      return this.start(dir);
    });
    this.queued.set(dir, next);
    return next;
  }

  private start(dir: string): Promise<void> {
    const done: Promise<void> = syncDir(dir, this.calls).finally(() => {
      if (this.running.get(dir) === done) this.running.delete(dir);
    });
    this.running.set(dir, done);
    return done;
  }
}

function noop(): void {}

/** Creates the temp file beside `target` (and the directories above it when they are missing). */
async function openTemp(temp: string, calls: FsCalls, dirs: KnownDirs): Promise<number> {
  const dir = dirname(temp);
  await dirs.ensure(dir);
  try {
    return await createNewFile(temp, calls); // 0644 whatever the umask
  } catch (err) {
    if (!isNotFound(err) || !dirs.forget(dir)) throw err;
    await dirs.ensure(dir);
    return createNewFile(temp, calls);
  }
}

/**
 * Makes the temp file durable and visible at `target`, after writing `bytes` to it when given (a held small
 * file): fdatasync (the data and the file size, all that a reader of the renamed file needs), close, then a
 * rename (`mayReplace`) or a link that refuses a name that is taken. On failure the temp file is gone and
 * `target` untouched.
 */
async function commitTemp(
  fd: number,
  temp: string,
  target: string,
  mayReplace: boolean,
  calls: FsCalls,
  bytes?: Uint8Array,
): Promise<void> {
  let isOpen = true;
  try {
    if (bytes !== undefined) await calls.write(fd, bytes);
    await calls.fdatasync(fd);
    isOpen = false;
    await calls.close(fd);
    if (mayReplace) await calls.rename(temp, target);
    else await renameNoReplace(temp, target, calls);
  } catch (err) {
    if (isOpen) await calls.close(fd).catch(() => {});
    await calls.unlink(temp).catch(() => {});
    throw diskError(err, target);
  }
}

/**
 * A small file's upload (a known size of at most SMALL_FILE_BYTES): held in memory while it streams and
 * hashes, and given a temp file only when it commits, where it is written in one call, fdatasynced and
 * linked into place. The download's connection slot is let go when the body is in (retrying-download.ts),
 * before the commit: it never waits for the thread pool to create a file, which other projects' fsyncs
 * keep busy, and a download that fails leaves no file to remove.
 */
function beginHeldLocalFile(
  target: string,
  size: number,
  opts: BeginFileOptions,
  { calls, dirs }: { calls: FsCalls; dirs: KnownDirs },
): FileUpload {
  const sink = createHeldSink(target, size, opts.algorithms, opts.events);
  return {
    push: (chunk) => sink.push(chunk),
    finish: () => sink.finish(),
    async commit({ mayReplace }) {
      const bytes = sink.take();
      const temp = tempPathFor(target);
      const fd = await openTemp(temp, calls, dirs).catch((err: unknown) => {
        throw diskError(err, temp);
      });
      await commitTemp(fd, temp, target, mayReplace, calls, bytes);
    },
    abort: () => sink.abort(),
  };
}

/** A file's upload into its hidden temp file; committed by fdatasync and a rename (or link) into place. */
async function beginLocalFile(
  target: string,
  opts: BeginFileOptions,
  {
    slots,
    calls,
    dirs,
    hashOnThread,
  }: { slots: SlotResources; calls: FsCalls; dirs: KnownDirs; hashOnThread?: boolean },
): Promise<FileUpload> {
  if (opts.size !== null && opts.size <= SMALL_FILE_BYTES) {
    return beginHeldLocalFile(target, opts.size, opts, { calls, dirs });
  }
  const temp = tempPathFor(target);
  const fd = await openTemp(temp, calls, dirs).catch((err: unknown) => {
    throw diskError(err, temp);
  });
  let sink: FileSink;
  try {
    sink =
      opts.size !== null && opts.size >= LARGE_FILE_BYTES
        ? await createSlotSink(fd, temp, opts.algorithms, opts.events, slots, {
            ...(hashOnThread === undefined ? {} : { hashOnThread }),
          })
        : createBufferedSink(fd, temp, opts.algorithms, opts.events);
  } catch (err) {
    await calls.close(fd).catch(() => {});
    await calls.unlink(temp).catch(() => {});
    throw diskError(err, temp);
  }
  let isOpen = true;
  const removeTemp = async (): Promise<void> => {
    if (!isOpen) return;
    isOpen = false;
    await calls.close(fd).catch(() => {});
    await calls.unlink(temp).catch(() => {});
  };
  return {
    push: (chunk) => sink.push(chunk),
    finish: () => sink.finish(),
    async commit({ mayReplace }) {
      isOpen = false;
      await commitTemp(fd, temp, target, mayReplace, calls);
    },
    async abort() {
      // No write may still use the descriptor when it is closed (the number could be reused).
      await sink.abort();
      await removeTemp();
    },
  };
}

/**
 * Moves `temp` to `target` only if nothing is there: link() fails with EEXIST rather than replace, so no
 * instant sees a published file change. Where the file system has no hard links, a stat guards the rename.
 */
export async function renameNoReplace(
  temp: string,
  target: string,
  calls: FsCalls = pooledCalls,
): Promise<void> {
  const refuse = (): StoreError =>
    new StoreError(
      'STORE_EXISTS',
      `${target}: a file is already there; a published file is never overwritten with other bytes`,
    );
  try {
    await calls.link(temp, target);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EEXIST') throw refuse();
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if ((await regularFileSize(target, calls)) !== null) throw refuse();
    await calls.rename(temp, target);
    return;
  }
  await calls.unlink(temp).catch(() => {}); // published; a leftover hidden temp name is removed next run
}
