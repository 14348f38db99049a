// How the local tree's file-system calls are made: each on libuv's thread pool, or the quick ones directly.
// Every call of node:fs/promises is handed to a pool thread, which the event loop then waits to hear back
// from: two thread wake-ups per call, and on a virtual machine each wake-up of an idle CPU is an interrupt
// between CPUs. A small file's way into the tree was seven such calls (open, write, fdatasync, close, link,
// unlink, and an lstat before), and a page's or record's eight. Where the file system answers metadata from
// memory (a local disk's file system, tmpfs, overlayfs), the calls that neither create a file nor wait for
// the device (close, link, unlink, rename, lstat, mkdir: a new directory at most once per project,
// opening and reading an existing file, listing a directory, a write of a few KiB into the page cache) take microseconds, and
// are made directly: on the peer bench's first sync (685 files), 3.10 → 2.64 CPU s and 2.77 → 2.49 s wall,
// medians of 8 interleaved runs. Creating a file (the kernel allocates an inode, and ext4 without a
// journal scans past recently deleted ones for it), fsync and fdatasync (which wait for the device) and
// large writes stay on the pool, whatever the file system. On a network or FUSE file system (NFS, CIFS,
// sshfs), where any call may be a round trip, every call stays on the pool.
import {
  closeSync,
  existsSync,
  fchmodSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statfsSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import * as fsp from 'node:fs/promises';
import { close, fchmod, fdatasync, fstat, fsync, open, read, write } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

/** A write at most this large is a copy into the page cache: made directly where calls may be. */
const QUICK_WRITE_BYTES = 64 << 10;

/** The file-system calls of the local tree, all promise-returning, each with node:fs's errors (code, path). */
export interface FsCalls {
  /** true: the quick calls are made directly on the event loop (see the file's header). */
  readonly isDirect: boolean;
  /** Creates a new file (`wx`: never an existing name, never through a symlink) with `mode`; its descriptor. */
  openNew(path: string, mode: number): Promise<number>;
  /** Opens an existing file (or directory) for reading; its descriptor, or null when there is none (ENOENT). */
  openRead(path: string): Promise<number | null>;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `data` at the descriptor's position. */
  write(fd: number, data: Uint8Array): Promise<void>;
  fchmod(fd: number, mode: number): Promise<void>;
  /** The size of the open file. */
  size(fd: number): Promise<number>;
  fsync(fd: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** What is at `path` (never through a symlink), or null when nothing is (ENOENT). */
  lstat(path: string): Promise<Stats | null>;
  /** The names in a directory, or null when there is none (ENOENT). */
  readdir(path: string): Promise<string[] | null>;
  /** `mkdir -p` with `mode`: the first directory it created, or undefined when all were there. */
  mkdirs(path: string, mode: number): Promise<string | undefined>;
}

const openAsync = promisify(open);
const readAsync = promisify(read);
const writeAsync = promisify(write);
const closeAsync = promisify(close);
const fchmodAsync = promisify(fchmod);
const fstatAsync = promisify(fstat);
const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/** null for an error saying nothing is at the path (ENOENT); any other is thrown. */
function nullIfNoEntry(err: unknown): null {
  if ((err as { code?: unknown } | null)?.code === 'ENOENT') return null;
  throw err;
}

async function writeAllPooled(fd: number, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await writeAsync(fd, data, done, data.length - done);
    done += bytesWritten;
  }
}

/** Every call on libuv's thread pool. */
export const pooledCalls: FsCalls = {
  isDirect: false,
  openNew: (path, mode) => openAsync(path, 'wx', mode),
  openRead: (path) => openAsync(path, 'r').catch(nullIfNoEntry),
  read: async (fd, buffer, offset, length, position) =>
    (await readAsync(fd, buffer, offset, length, position)).bytesRead,
  write: writeAllPooled,
  fchmod: fchmodAsync,
  size: async (fd) => (await fstatAsync(fd)).size,
  fsync: fsyncAsync,
  fdatasync: fdatasyncAsync,
  close: closeAsync,
  link: fsp.link,
  unlink: fsp.unlink,
  rename: fsp.rename,
  lstat: (path) => fsp.lstat(path).catch(nullIfNoEntry),
  readdir: (path) => fsp.readdir(path).catch(nullIfNoEntry),
  mkdirs: (path, mode) => fsp.mkdir(path, { recursive: true, mode }),
};

/**
 * `call()`, or null when nothing is at `path`. A missing path is told by existsSync and lstatSync without
 * throwing: a thrown ENOENT costs the event loop an exception with its stack trace (tens of microseconds,
 * 3 % of a first sync's main thread when a new project's record, directory and files were each looked for
 * so). A path that exists, or an error other than a missing entry, goes to `call` as before.
 */
function unlessMissing<T>(path: string, call: () => T): T | null {
  if (!existsSync(path) && lstatSync(path, { throwIfNoEntry: false }) === undefined) return null;
  try {
    return call();
  } catch (err) {
    return nullIfNoEntry(err); // removed in between
  }
}

/** The quick calls made directly (a thrown error becomes the promise's rejection); the rest pooled. */
export const directCalls: FsCalls = {
  ...pooledCalls,
  isDirect: true,
  openRead: async (path) => unlessMissing(path, () => openSync(path, 'r')),
  read: async (fd, buffer, offset, length, position) => readSync(fd, buffer, offset, length, position),
  async write(fd, data) {
    if (data.length > QUICK_WRITE_BYTES) return writeAllPooled(fd, data);
    for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done);
  },
  fchmod: async (fd, mode) => fchmodSync(fd, mode),
  size: async (fd) => fstatSync(fd).size,
  close: async (fd) => closeSync(fd),
  link: async (existing, path) => linkSync(existing, path),
  unlink: async (path) => unlinkSync(path),
  rename: async (from, to) => renameSync(from, to),
  lstat: async (path) => lstatSync(path, { throwIfNoEntry: false }) ?? null,
  readdir: async (path) => unlessMissing(path, () => readdirSync(path)),
  mkdirs: async (path, mode) => mkdirSync(path, { recursive: true, mode }),
};

/**
 * statfs(2) magic numbers of the file systems that answer metadata from memory: ext2/3/4, XFS, Btrfs, tmpfs,
 * ramfs, F2FS, ZFS, bcachefs, overlayfs (a container's root, over a local disk), JFS, ReiserFS.
 */
const LOCAL_FILE_SYSTEMS: ReadonlySet<number> = new Set([
  0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0xf2f52010, 0x2fc12fc1, 0xca451a4e, 0x794c7630,
  0x3153464a, 0x52654973,
]);

/** Whether a file system of statfs type `type` takes the quick calls directly. */
export function isLocalFileSystemType(type: number): boolean {
  return LOCAL_FILE_SYSTEMS.has(type);
}

/**
 * The calls for a tree at `path`: direct on a local file system, pooled on any other or when it cannot be
 * told. A root not made yet is judged by the nearest directory above it that exists.
 */
export function fsCallsFor(path: string): FsCalls {
  for (let at = path; ; at = dirname(at)) {
    try {
      return isLocalFileSystemType(statfsSync(at).type) ? directCalls : pooledCalls;
    } catch {
      if (dirname(at) === at) return pooledCalls;
    }
  }
}
