// The local file system as the tree's storage (src/storage/local.ts): keys under the root, uploads invisible
// until committed, a committed name never overwritten unless asked, nothing left behind by an abort, and
// the listing, removal and sweep that the sync and verify use; the same with the file-system calls made on
// libuv's thread pool and directly (util/fs-calls.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, IntegrityError, StoreError } from '../../../src/errors.js';
import { openFindLinks } from '../../../src/mirror/find-links.js';
import { silentLogger } from '../../../src/log.js';
import { LARGE_FILE_BYTES, SMALL_FILE_BYTES } from '../../../src/storage/sink.js';
import { contentTypeFor, SIMPLE_JSON_TYPE } from '../../../src/storage/content-type.js';
import { hashStored } from '../../../src/storage/hash.js';
import { fileKey, projectPageKeys, recordKey } from '../../../src/storage/keys.js';
import { createLocalStorage } from '../../../src/storage/local.js';
import type { FileUpload, Storage, UploadEvents } from '../../../src/storage/types.js';
import { makeConfig } from '../../helpers/config.js';
import { createRecordingStorage } from '../../helpers/recording-storage.js';
import { listTree, makeTempDir } from '../../helpers/tree.js';
import { directCalls, pooledCalls } from '../../../src/util/fs-calls.js';

const CALLS = [pooledCalls, directCalls];
const callsName = (calls: typeof pooledCalls): string => (calls.isDirect ? 'direct calls' : 'pooled calls');

const NO_EVENTS: UploadEvents = { onRoom: () => {}, onFailure: () => {} };

/** Streams `bytes` into a new upload of `key` and returns it finished (not committed) with its digests. */
async function upload(storage: Storage, key: string, bytes: Buffer): Promise<[FileUpload, string[]]> {
  const into = await storage.beginFile(key, {
    size: bytes.length,
    algorithms: ['sha256', 'md5'],
    events: NO_EVENTS,
  });
  const piece = bytes.length < 1 << 20 ? 4096 : 1 << 20;
  for (let at = 0; at < bytes.length; at += piece) into.push(bytes.subarray(at, at + piece));
  return [into, await into.finish()];
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

for (const calls of CALLS) {
  test(`an upload is invisible until committed, hashed while it streams, and never replaces a file (${callsName(calls)})`, async (t) => {
    const root = await makeTempDir(t);
    const storage = createLocalStorage(root, { calls });
    // One of each sink: held whole, written through the page cache as it streams, the large files' slots.
    const sizes = [
      Buffer.from('small file'),
      Buffer.alloc(SMALL_FILE_BYTES + 1, 5),
      Buffer.alloc(LARGE_FILE_BYTES + 12345, 7),
    ];
    for (const bytes of sizes) {
      const key = fileKey('demo', { filename: `demo-${bytes.length}.tar.gz` });
      const [into, digests] = await upload(storage, key, bytes);
      assert.deepEqual(digests, [sha256(bytes), createHash('md5').update(bytes).digest('hex')]);
      assert.equal(await storage.stat(key), null, 'nothing visible before the commit');
      await into.commit({ mayReplace: false, sha256: sha256(bytes) });
      assert.deepEqual(await storage.stat(key), { size: bytes.length, sha256: null });
      assert.deepEqual(await hashStored(storage, key), { sha256: sha256(bytes), size: bytes.length });
      const [again] = await upload(storage, key, Buffer.from('other bytes'));
      await assert.rejects(again.commit({ mayReplace: false, sha256: '0'.repeat(64) }), (err) => {
        assert.ok(err instanceof StoreError && err.code === 'STORE_EXISTS', String(err));
        return true;
      });
      assert.deepEqual(await readFile(join(root, key)), bytes, 'the published file is untouched');
    }
    const [aborted] = await upload(storage, 'demo/aborted-1.0.tar.gz', Buffer.from('x'));
    await aborted.abort();
    assert.deepEqual(await listTree(root), [
      'demo/demo-10.tar.gz',
      `demo/demo-${SMALL_FILE_BYTES + 1}.tar.gz`,
      `demo/demo-${LARGE_FILE_BYTES + 12345}.tar.gz`,
    ]);
    const metadataKey = 'demo/demo-10.tar.gz.metadata';
    const [first] = await upload(storage, metadataKey, Buffer.from('one'));
    await first.commit({ mayReplace: true, sha256: sha256(Buffer.from('one')) });
    const [second] = await upload(storage, metadataKey, Buffer.from('two'));
    await second.commit({ mayReplace: true, sha256: sha256(Buffer.from('two')) });
    assert.equal((await storage.get(metadataKey))?.toString(), 'two', 'mayReplace replaces');
  });

  test(`a small upload is held until it commits: no file before, and a commit that fails leaves none (${callsName(calls)})`, async (t) => {
    const root = await makeTempDir(t);
    const storage = createLocalStorage(root, { calls });
    const bytes = Buffer.alloc(SMALL_FILE_BYTES, 3);
    const [into] = await upload(storage, 'demo/demo-1.0.tar.gz', bytes);
    assert.deepEqual(await listTree(root), [], 'no temp file while the download runs nor after it');
    await into.commit({ mayReplace: false, sha256: sha256(bytes) });
    assert.deepEqual(await readFile(join(root, 'demo/demo-1.0.tar.gz')), bytes);
    // A commit whose directory cannot be made (a file is in its way) fails naming the path, leaves nothing.
    await writeFile(join(root, 'blocked'), 'a file, not a directory');
    const [blocked] = await upload(storage, 'blocked/blocked-1.0.tar.gz', bytes);
    await assert.rejects(blocked.commit({ mayReplace: false, sha256: sha256(bytes) }), (err) => {
      assert.ok(err instanceof StoreError && err.code === 'STORE_IO', String(err));
      assert.match(err.message, /blocked/);
      return true;
    });
    await blocked.abort();
    assert.deepEqual(await listTree(root), ['blocked', 'demo/demo-1.0.tar.gz']);
  });

  test(`a small upload that gets more bytes than its size fails at once and leaves nothing (${callsName(calls)})`, async (t) => {
    const root = await makeTempDir(t);
    const storage = createLocalStorage(root, { calls });
    const failures: Error[] = [];
    const into = await storage.beginFile('demo/demo-1.0.tar.gz', {
      size: 6000,
      algorithms: ['sha256'],
      events: { onRoom: () => {}, onFailure: (err) => failures.push(err) },
    });
    into.push(Buffer.alloc(4096, 1));
    assert.equal(failures.length, 0, 'no failure within the size');
    into.push(Buffer.alloc(4096, 1));
    assert.equal(failures.length, 1);
    assert.ok(
      failures[0] instanceof IntegrityError && failures[0].code === 'INTEGRITY_SIZE',
      String(failures[0]),
    );
    await assert.rejects(into.finish(), (err) => err === failures[0]);
    await into.abort();
    assert.deepEqual(await listTree(root), [], 'no temp file is left, and nothing is published');
  });

  test(`put, get, ranges, listing, kinds, removal and sweep address the tree by key (${callsName(calls)})`, async (t) => {
    const root = await makeTempDir(t);
    const storage = createLocalStorage(root, { calls });
    assert.equal(storage.localRoot(), root);
    const [html, json] = projectPageKeys('demo');
    await storage.put(html, '<html></html>\n');
    await storage.put(json, ['{"a":', '1}\n'], { durability: 'data' });
    await storage.put(recordKey('demo'), '{}\n', { durability: 'none' });
    assert.equal((await storage.get(json))?.toString(), '{"a":1}\n');
    assert.equal(await storage.get('demo/missing'), null);
    assert.equal((await storage.get(html))?.toString(), '<html></html>\n');
    // Above 64 KiB a file is read on the thread pool, whichever the calls: the same bytes.
    const record = Buffer.alloc((64 << 10) + 1, 'r');
    await storage.put(recordKey('demo'), record);
    assert.deepEqual(await storage.get(recordKey('demo')), record);
    await storage.put(recordKey('demo'), '{}\n', { durability: 'none' });
    assert.equal((await storage.readRange(html, 1, 4))?.toString(), 'html');
    assert.equal((await storage.readRange(html, 10, 100))?.toString(), 'ml>\n');
    assert.equal(await storage.open('nothing/here'), null);
    await mkdir(join(root, 'demo', '0123456789abcdef'));
    await symlink('/etc', join(root, 'demo', 'link'));
    await writeFile(join(root, 'demo', '.index.html.0123456789ab.tmp'), 'left by a kill');
    assert.deepEqual(await storage.list('demo'), {
      files: ['.index.html.0123456789ab.tmp', 'index.html', 'index.v1_json'],
      dirs: ['0123456789abcdef'],
      others: ['link'],
    });
    assert.deepEqual(await storage.list('absent'), { files: [], dirs: [], others: [] });
    assert.equal(await storage.entryAt('demo'), 'dir');
    assert.equal(await storage.entryAt('demo/link'), 'other');
    assert.equal(await storage.entryAt(html), 'file');
    assert.equal(await storage.entryAt('demo/none'), null);
    assert.equal(await storage.stat('demo/link'), null, 'a symlink is never a file of the tree');
    assert.equal(await storage.sweep('demo'), 1);
    assert.equal(await storage.removeDir('demo'), false, 'not empty: stays');
    assert.equal(await storage.remove(html), true);
    assert.equal(await storage.remove(html), false);
    await storage.settle('demo');
    assert.equal(await storage.removeDir('demo/0123456789abcdef'), true);
    assert.equal(await storage.removeDir('demo/0123456789abcdef'), true, 'gone already');
  });
}

test('every key gets its Content-Type', () => {
  assert.equal(contentTypeFor('index.html'), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('demo/'), 'text/html; charset=utf-8');
  assert.equal(contentTypeFor('demo/index.v1_json'), SIMPLE_JSON_TYPE);
  assert.equal(contentTypeFor('demo/demo-1.0-py3-none-any.whl'), 'application/zip');
  assert.equal(contentTypeFor('demo/demo-1.0-py3-none-any.whl.metadata'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeFor('demo/demo-1.0.tar.gz'), 'application/gzip');
  assert.equal(contentTypeFor('demo/0123456789abcdef/Demo-1.0.ZIP'), 'application/zip');
  assert.equal(contentTypeFor('.pypimirror/state.json'), 'application/json');
  assert.equal(contentTypeFor('demo/demo-1.0.exe'), 'application/octet-stream');
});

test('find_links_dir, local by nature, refuses a storage that is not on this machine, naming the key', async (t) => {
  const flat = join(await makeTempDir(t), 'flat');
  const cfg = makeConfig({
    mirrorRoot: '/unused',
    indexUrl: 'http://127.0.0.1:9/simple/',
    findLinksDir: flat,
  });
  const elsewhere = createRecordingStorage();
  await assert.rejects(openFindLinks(cfg, elsewhere, silentLogger, new Date()), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /find_links_dir/);
    assert.match(err.message, /on this machine's file system.*memory:/);
    return true;
  });
  const unset = makeConfig({ mirrorRoot: '/unused', indexUrl: 'http://127.0.0.1:9/simple/' });
  assert.equal(
    await openFindLinks(unset, elsewhere, silentLogger, new Date()),
    null,
    'unset: nothing to refuse',
  );
  assert.deepEqual(elsewhere.ops, [], 'nothing written');
});

test('durable writes in one directory share its fsyncs, each covered by one that started after its rename', async (t) => {
  const root = await makeTempDir(t);
  const events: string[] = [];
  const dirFds = new Map<number, string>();
  const calls: typeof pooledCalls = {
    ...pooledCalls,
    async openRead(path) {
      const fd = await pooledCalls.openRead(path);
      if (fd !== null) dirFds.set(fd, path);
      return fd;
    },
    async rename(from, to) {
      await pooledCalls.rename(from, to);
      events.push(`rename ${to}`);
    },
    async fsync(fd) {
      const dir = dirFds.get(fd);
      const id = events.length;
      if (dir !== undefined) events.push(`start ${id} ${dir}`);
      await pooledCalls.fsync(fd);
      if (dir !== undefined) events.push(`end ${id} ${dir}`);
    },
    async close(fd) {
      dirFds.delete(fd);
      await pooledCalls.close(fd);
    },
  };
  const storage = createLocalStorage(root, { calls });
  const keys = Array.from({ length: 24 }, (_, i) => recordKey(`p${i}`));
  await Promise.all(
    keys.map(async (key) => {
      await storage.put(key, `{"n":"${key}"}\n`);
      events.push(`done ${join(root, key)}`);
    }),
  );
  const dir = join(root, '.pypimirror', 'projects');
  const starts = events.filter((e) => e.startsWith('start ') && e.endsWith(` ${dir}`)).length;
  assert.ok(starts >= 1 && starts < keys.length, `${starts} fsyncs of ${dir} for ${keys.length} records`);
  for (const key of keys) {
    const path = join(root, key);
    const renamed = events.indexOf(`rename ${path}`);
    const done = events.indexOf(`done ${path}`);
    // Some fsync of the directory started after the rename and ended before the write resolved.
    const covered = events.some((e, i) => {
      const m = /^start (\d+) (.*)$/.exec(e);
      if (m === null || m[2] !== dir || i < renamed) return false;
      const end = events.indexOf(`end ${m[1]} ${dir}`);
      return end > i && end < done;
    });
    assert.ok(covered, `${key}: ${events.join('\n')}`);
  }
  t.diagnostic(`${starts} directory fsyncs for ${keys.length} records`);
});
