// Claiming the mirror root while another process claims it too (src/mirror/ownership.ts claimRoot): `run` and
// `sync` claim before they take the run lock, while the lock's holder claims, sweeps the temp files of
// .pypimirror/ and writes into the root. The two processes' steps are driven here one after the other, in the
// order that once failed a daemon in the full suite, rather than raced.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { claimRoot } from '../../src/mirror/ownership.js';
import { STATE_DIR } from '../../src/model/layout.js';
import { ROOT_MARKER_KEY } from '../../src/storage/keys.js';
import { createLocalStorage } from '../../src/storage/local.js';
import type { Storage } from '../../src/storage/types.js';
import { tempPathFor } from '../../src/util/fs.js';
import { makeConfig } from '../helpers/config.js';
import { makeTempDir } from '../helpers/tree.js';

const BOUNDED = { timeout: 20_000 };

/**
 * The local storage of `root`, whose write of the root marker takes the steps of the local one (a hidden temp
 * file beside it, then a rename) with `meanwhile` run between them: the window another process's steps fell in.
 */
function markerWriteWithWindow(root: string, meanwhile: () => Promise<void>): Storage {
  const local = createLocalStorage(root);
  return {
    ...local,
    async put(key, body, opts) {
      if (key !== ROOT_MARKER_KEY) return local.put(key, body, opts);
      const target = local.describe(key);
      const temp = tempPathFor(target);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(temp, body as string, { flag: 'wx' });
      await meanwhile();
      await rename(temp, target);
    },
  };
}

async function readMarkerFile(root: string): Promise<unknown> {
  return JSON.parse(await readFile(join(root, STATE_DIR, 'root.json'), 'utf8')) as unknown;
}

test(
  "a claim whose marker the run lock's holder sweeps away accepts the marker that holder wrote",
  BOUNDED,
  async (t) => {
    const root = join(await makeTempDir(t), 'mirror');
    const cfg = makeConfig({ mirrorRoot: root, indexUrl: 'http://127.0.0.1:9/simple/' });
    const holder = createLocalStorage(root);
    let swept = -1;
    const claimer = markerWriteWithWindow(root, async () => {
      // What the holder does first under the lock (sync/run.ts): claim the root, then sweep .pypimirror/.
      await claimRoot(cfg, holder);
      swept = await holder.sweep(STATE_DIR);
    });
    const marker = await claimRoot(cfg, claimer);
    assert.equal(swept, 1, "the holder's sweep took the claimer's temp file");
    assert.deepEqual(marker, await readMarkerFile(root), "the holder's marker, accepted");
    assert.deepEqual(await readdir(join(root, STATE_DIR)), ['root.json']);
  },
);

test(
  'a root another process claims and writes into while it is looked at is ours, not foreign',
  BOUNDED,
  async (t) => {
    const root = await makeTempDir(t); // empty: listed to find out
    const cfg = makeConfig({ mirrorRoot: root, indexUrl: 'http://127.0.0.1:9/simple/' });
    const holder = createLocalStorage(root);
    const local = createLocalStorage(root);
    let isListed = false;
    const claimer: Storage = {
      ...local,
      async list(dir) {
        if (dir === '' && !isListed) {
          isListed = true;
          // After the claimer found no marker, before it lists the root: the holder claims and publishes.
          await claimRoot(cfg, holder);
          await holder.put('demo/index.html', '<!DOCTYPE html>\n');
        }
        return local.list(dir);
      },
    };
    const marker = await claimRoot(cfg, claimer);
    assert.ok(isListed, 'the root was listed');
    assert.deepEqual(marker, await readMarkerFile(root));
    assert.deepEqual(marker.foreign, []);
  },
);
