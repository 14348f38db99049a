// The local storage's large files (src/storage/local.ts, slots.ts): each storage has a slot pool and a hashing
// thread of its own, nothing shared by the module, and the thread ends once the storage has had no large file
// for a while, so that a daemon opening a storage per run does not gather threads.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { LARGE_FILE_BYTES } from '../../../src/storage/sink.js';
import { POOL_SLOTS } from '../../../src/storage/slot-pool.js';
import { createLocalStorage } from '../../../src/storage/local.js';
import type { FileUpload, Storage } from '../../../src/storage/types.js';
import { listTree, makeTempDir } from '../../helpers/tree.js';
import { waitFor } from '../../helpers/wait-for.js';

const BOUNDED = { timeout: 60_000 };

function beginLarge(storage: Storage, key: string): Promise<FileUpload> {
  return storage.beginFile(key, {
    size: LARGE_FILE_BYTES,
    algorithms: ['sha256'],
    events: { onRoom: () => {}, onFailure: () => {} },
  });
}

/** This process's threads (Linux): the hashing thread is one of them while it runs. */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

test(
  "two local storages have slot pools of their own: one's taken pool never holds the other's files back",
  BOUNDED,
  async (t) => {
    const root = await makeTempDir(t);
    const [first, second] = [createLocalStorage(root), createLocalStorage(root)];
    const uploads: FileUpload[] = [];
    /** Begins a large file and pushes its first byte: true when it took a slot, false when it waits for one. */
    const takesSlot = async (storage: Storage, key: string): Promise<boolean> => {
      const upload = await beginLarge(storage, key);
      uploads.push(upload);
      return upload.push(Buffer.from('x'));
    };
    try {
      // A large file holds the slot it is filling: a byte each, and the first storage's pool is all taken.
      for (let n = 0; n < POOL_SLOTS; n++) {
        assert.equal(await takesSlot(first, `demo/held-${n}.whl`), true, `file ${n} took a slot`);
      }
      const isWaiting = !(await takesSlot(first, 'demo/waiting.whl'));
      assert.ok(isWaiting, "the first storage's next large file waits for a slot");
      const isApart = await takesSlot(second, 'demo/apart.whl');
      assert.ok(isApart, "the second storage's file takes a slot of its own pool");
    } finally {
      for (const upload of uploads) await upload.abort();
    }
    assert.deepEqual(await listTree(root), [], 'aborted: nothing left');
  },
);

test(
  "a storage's hashing thread ends once it has had no large file for a while, and the next one starts another",
  BOUNDED,
  async (t) => {
    const root = await makeTempDir(t);
    // On one core large files are hashed on the event loop by default; the thread is asked for here.
    const storage = createLocalStorage(root, { threadIdleMs: 50, hashOnThread: true });
    const bytes = Buffer.alloc(LARGE_FILE_BYTES + 12_345, 3);
    const before = threadCount();
    for (const round of [1, 2]) {
      const upload = await beginLarge(storage, `demo/big-${round}.whl`);
      upload.push(bytes);
      const [sha256 = ''] = await upload.finish();
      assert.equal(threadCount(), before + 1, `round ${round}: the hashing thread runs`);
      await upload.commit({ mayReplace: false, sha256 });
      await waitFor(`round ${round}: the hashing thread to end`, () => threadCount() === before, {
        timeoutMs: 15_000,
      });
    }
    assert.deepEqual(await listTree(root), ['demo/big-1.whl', 'demo/big-2.whl']);
  },
);
