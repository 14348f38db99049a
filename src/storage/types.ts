// The one interface through which the served tree is written, read, listed and removed (docs/architecture.md
// "Storage"). Everything is addressed by keys: '/'-separated paths relative to the tree's root
// (`index.html`, `fakepkg/index.html`, `fakepkg/fakepkg-1.0-py3-none-any.whl`, `.pypimirror/state.json`),
// never absolute paths. It is implementable on an object store: no rename, no hard link, no directory that
// exists on its own, no fsync; a file becomes visible whole under its key, or not at all. The local file
// system (local.ts) implements it with temp files, fdatasync, link-no-replace and directory fsyncs.
import type { Readable } from 'node:stream';

/** Which implementation: the local file system, or an S3 bucket. */
type StorageKind = 'local' | 's3';

/** What is at a key: a file, a directory (on an object store: a prefix some key has), or something else. */
export type EntryKind = 'file' | 'dir' | 'other';

/** What a file's upload tells its source while the bytes stream (FileSink's events, storage/sink.ts). */
export interface UploadEvents {
  /** A paused source may go on. */
  onRoom(): void;
  /** Writing or hashing failed: the download fails with `err`. */
  onFailure(err: Error): void;
}

export interface BeginFileOptions {
  /** The size the file will have, when known (declared or announced): large files take the fast path. */
  readonly size: number | null;
  /** Digests computed while the bytes stream (hashlib names), sha256 first: `finish` returns them in order. */
  readonly algorithms: readonly string[];
  readonly events: UploadEvents;
  /** Default: contentTypeFor(key). */
  readonly contentType?: string;
}

/**
 * A write of one file that is invisible until committed. The bytes are pushed (and hashed while they stream),
 * then `finish` says they are all written and what they hash to; the caller checks them and commits, or
 * aborts. Commit or abort must be called once the upload has begun, whatever happens.
 */
export interface FileUpload {
  /** Takes the next bytes of the file. false: pause the source until `events.onRoom`. */
  push(chunk: Buffer): boolean;
  /**
   * After the source ended: resolves, once every byte is written (not yet durable nor visible; a small file
   * of the local file system is held in memory until `commit` writes it), with the hex digests in the order
   * of `algorithms`; rejects with the first failure.
   */
  finish(): Promise<string[]>;
  /**
   * Makes the file visible under its key, durable: the local file system fdatasyncs and renames (link, which
   * refuses a name that is taken, unless `mayReplace`). `sha256` is the verified digest, kept beside the bytes
   * where the storage can (object metadata). Without `mayReplace`, a key that holds a file already fails
   * with StoreError STORE_EXISTS and nothing changes. On any failure the upload is gone and the key untouched.
   */
  commit(opts: { readonly mayReplace: boolean; readonly sha256: string }): Promise<void>;
  /** Drops the upload: nothing becomes visible, nothing is left behind. Safe to call after a failure. */
  abort(): Promise<void>;
}

/**
 * How durable a `put` must be before it resolves. full: survives a power loss (local: fsync of the file and
 * its directory). data: the bytes survive, the name may wait for a later full write in the same directory
 * (a page after its files). none: a crash of the process leaves the old file or the new one, a power loss may
 * lose the write. An object store is always full.
 */
type Durability = 'full' | 'data' | 'none';

export interface PutOptions {
  /** Default: contentTypeFor(key). */
  readonly contentType?: string;
  /** Default: 'full'. */
  readonly durability?: Durability;
}

/** A file at a key. */
export interface StoredObject {
  readonly size: number;
  /** The sha256 the storage keeps beside the bytes (object metadata), or null (the local file system). */
  readonly sha256: string | null;
}

/** The entries directly in a directory (keys relative to it). */
export interface Listing {
  readonly files: readonly string[];
  readonly dirs: readonly string[];
  /** Neither: a symlink, a device, a socket (the local file system only). Never followed nor written. */
  readonly others: readonly string[];
}

/** The served tree. Keys are checked by the caller (storage/keys.ts builds them); a storage never follows `..`. */
export interface Storage {
  readonly kind: StorageKind;
  /** For messages: the root directory, or s3://bucket/prefix. */
  readonly where: string;
  /**
   * The tree's root directory when it is on this machine's file system, else null. Features that are local
   * by nature (find_links_dir's hard links, a bundle's staged files linked into place) need it and refuse
   * a storage without one, naming it.
   */
  localRoot(): string | null;
  /** How to name `key` in a message: its path, or its s3:// URL. */
  describe(key: string): string;
  /** Starts an invisible write of the file `key` (see FileUpload). */
  beginFile(key: string, opts: BeginFileOptions): Promise<FileUpload>;
  /**
   * Writes a whole small file (a page, a record, state): readers see the old file or the new one, never a
   * part. An iterable is written piece by piece (a large record need not be one string).
   */
  put(key: string, body: string | Uint8Array | Iterable<string>, opts?: PutOptions): Promise<void>;
  /** The file's bytes, or null when there is no file at `key`. */
  get(key: string): Promise<Buffer | null>;
  /** A stream of the file's bytes, or null when there is no file at `key`. */
  open(key: string, signal?: AbortSignal): Promise<Readable | null>;
  /**
   * Up to `length` bytes of the file from `position` (fewer at its end), or null when there is no file at
   * `key` (a wheel's METADATA is read from its end: mirror/archive.ts).
   */
  readRange(key: string, position: number, length: number): Promise<Buffer | null>;
  /** Size (and the sha256 kept beside it) of the file at `key`; null when no file is there (never a link). */
  stat(key: string): Promise<StoredObject | null>;
  /** What is at `key`, without following a link; null when nothing is. '' is the root. */
  entryAt(key: string): Promise<EntryKind | null>;
  /** The entries directly in `dir` ('' = the root), each kind sorted; empty when it does not exist. */
  list(dir: string): Promise<Listing>;
  /** Removes the file at `key`; false when there was none. */
  remove(key: string): Promise<boolean>;
  /** Removes the directory `dir` if it is empty (true, or it was gone); false when entries are left in it. */
  removeDir(dir: string): Promise<boolean>;
  /** Makes the removals and renames in `dir` durable (local: fsync of the directory; else nothing). */
  settle(dir: string): Promise<void>;
  /**
   * Removes what killed runs left in `dir` ('' = the root): temp files, or on an object store unfinished
   * uploads and temporary objects under it. Names in `keep` are never touched. Returns how many went.
   */
  sweep(dir: string, keep?: ReadonlySet<string>): Promise<number>;
  /**
   * True when the root's sweep removes only what killed runs left in the root directory itself (temp files),
   * never what a write under way makes elsewhere: a run may start it, go on, and wait for it only before it
   * writes into the root. (An object store's root sweep aborts every unfinished upload under the tree.)
   */
  readonly isRootSweepConfined?: boolean;
}
