// A Storage held in memory that records every operation that changes the tree, in order ("put index.html",
// "commit demo/demo-1.0.tar.gz", "remove ..."), and fails the operation a test names. For tests of the
// order in which things are written (test/unit/mirror/publish.test.ts): no disk, no server.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StoreError } from '../../src/errors.js';
import type { FileUpload, Listing, Storage } from '../../src/storage/types.js';

export interface RecordingStorage extends Storage {
  /** The operations that changed the tree, in order, as "<op> <key>". */
  readonly ops: string[];
  /** The files, by key. */
  readonly files: Map<string, Buffer>;
  /** Makes the next "<op> <key>" fail with a StoreError STORE_IO (op: put, commit, remove, removeDir). */
  failOn(op: string, key: string): void;
}

/** A fresh recording storage holding `files` (key → text). */
export function createRecordingStorage(files: Record<string, string> = {}): RecordingStorage {
  const tree = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));
  const ops: string[] = [];
  const failing = new Set<string>();
  const record = (op: string, key: string): void => {
    const what = `${op} ${key}`;
    if (failing.delete(what)) throw new StoreError('STORE_IO', `${key}: ${op} failed (as the test asked)`);
    ops.push(what);
  };
  const isDir = (dir: string): boolean => dir === '' || [...tree.keys()].some((k) => k.startsWith(`${dir}/`));
  const list = (dir: string): Listing => {
    const prefix = dir === '' ? '' : `${dir}/`;
    const files = new Set<string>();
    const dirs = new Set<string>();
    for (const key of tree.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) files.add(rest);
      else dirs.add(rest.slice(0, slash));
    }
    return { files: [...files].sort(), dirs: [...dirs].sort(), others: [] };
  };
  return {
    kind: 'local',
    where: 'memory:',
    ops,
    files: tree,
    failOn: (op, key) => void failing.add(`${op} ${key}`),
    localRoot: () => null,
    describe: (key) => `memory:${key}`,
    beginFile(key) {
      const chunks: Buffer[] = [];
      const upload: FileUpload = {
        push: (chunk) => chunks.push(chunk) > 0,
        finish: () => Promise.resolve([createHash('sha256').update(Buffer.concat(chunks)).digest('hex')]),
        commit({ mayReplace }) {
          record('commit', key);
          if (!mayReplace && tree.has(key)) throw new StoreError('STORE_EXISTS', `${key}: already there`);
          tree.set(key, Buffer.concat(chunks));
          return Promise.resolve();
        },
        abort: () => Promise.resolve(),
      };
      return Promise.resolve(upload);
    },
    put(key, body) {
      record('put', key);
      const bytes =
        typeof body === 'string' || body instanceof Uint8Array
          ? Buffer.from(body)
          : Buffer.from([...body].join(''));
      tree.set(key, bytes);
      return Promise.resolve();
    },
    get: (key) => Promise.resolve(tree.get(key) ?? null),
    open: (key) => {
      const bytes = tree.get(key);
      return Promise.resolve(bytes === undefined ? null : Readable.from([bytes]));
    },
    readRange: (key, position, length) =>
      Promise.resolve(tree.get(key)?.subarray(position, position + length) ?? null),
    stat: (key) => {
      const bytes = tree.get(key);
      return Promise.resolve(bytes === undefined ? null : { size: bytes.length, sha256: null });
    },
    entryAt: (key) => Promise.resolve(tree.has(key) ? 'file' : isDir(key) ? 'dir' : null),
    list: (dir) => Promise.resolve(list(dir)),
    remove(key) {
      record('remove', key);
      return Promise.resolve(tree.delete(key));
    },
    removeDir(dir) {
      record('removeDir', dir);
      return Promise.resolve(!isDir(dir));
    },
    settle(dir) {
      ops.push(`settle ${dir}`);
      return Promise.resolve();
    },
    sweep: () => Promise.resolve(0),
  };
}
