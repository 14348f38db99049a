// The tree in a bucket (src/storage/s3.ts) against the real Ceph gateway: uploads invisible until committed
// and never overwriting, the sha256 in each object's metadata, pages also at the URL pip asks for (`dir/`),
// served anonymously through the sample bucket policy while the state stays private, listing, kinds,
// removals and the sweep of leftover multipart uploads.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { StoreError } from '../../../src/errors.js';
import { hashStored } from '../../../src/storage/hash.js';
import { fileKey, projectPageKeys, recordKey } from '../../../src/storage/keys.js';
import type { FileUpload, Storage, UploadEvents } from '../../../src/storage/types.js';
import { requireCeph } from '../../helpers/ceph-rgw.js';
import { cephForFile, allowPublicRead, openCephStorage } from '../../helpers/s3-storage.js';

const cluster = cephForFile();

const NO_EVENTS: UploadEvents = { onRoom: () => {}, onFailure: () => {} };
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function upload(storage: Storage, key: string, bytes: Buffer): Promise<[FileUpload, string[]]> {
  const into = await storage.beginFile(key, {
    size: bytes.length,
    algorithms: ['sha256'],
    events: NO_EVENTS,
  });
  for (let at = 0; at < bytes.length; at += 1 << 20) into.push(bytes.subarray(at, at + (1 << 20)));
  return [into, await into.finish()];
}

test('files: invisible until committed, their sha256 kept beside them, never replaced', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const storage = openCephStorage(ceph, await ceph.createBucket());
  assert.equal(storage.localRoot(), null);
  for (const bytes of [Buffer.from('small file'), randomBytes((5 << 20) * 2 + 99)]) {
    const key = fileKey('demo', { filename: `demo-${bytes.length}.tar.gz` });
    const [into, digests] = await upload(storage, key, bytes);
    assert.deepEqual(digests, [sha256(bytes)]);
    assert.equal(await storage.stat(key), null, 'nothing visible before the commit');
    await into.commit({ mayReplace: false, sha256: sha256(bytes) });
    assert.deepEqual(await storage.stat(key), { size: bytes.length, sha256: sha256(bytes) });
    assert.deepEqual(await hashStored(storage, key), { sha256: sha256(bytes), size: bytes.length });
    assert.equal(storage.describe(key), `s3://${storage.where.slice(5)}/${key}`);
    const [again] = await upload(storage, key, Buffer.from('other bytes'));
    await assert.rejects(again.commit({ mayReplace: false, sha256: '0'.repeat(64) }), (err) => {
      assert.ok(err instanceof StoreError && err.code === 'STORE_EXISTS', String(err));
      return true;
    });
    assert.deepEqual(await hashStored(storage, key), { sha256: sha256(bytes), size: bytes.length });
  }
});

test('pages are also at dir/, served to anyone with the sample policy; the state is not', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const bucket = await ceph.createBucket();
  const storage = openCephStorage(ceph, bucket);
  const [html, json] = projectPageKeys('demo');
  await storage.put(html, '<html>demo</html>\n');
  await storage.put(json, ['{"a":', '1}\n'], { durability: 'data' });
  await storage.put('index.html', '<html>root</html>\n');
  await storage.put('.pypimirror/state.json', '{}\n');
  await allowPublicRead(ceph, bucket);
  const base = `${ceph.endpoint}/${bucket}/simple/`;
  const fetched = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    const body = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      cache: res.headers.get('cache-control'),
      body,
    };
  };
  assert.deepEqual(await fetched('demo/'), {
    status: 200,
    type: 'text/html; charset=utf-8',
    cache: 'public, max-age=60',
    body: '<html>demo</html>\n',
  });
  assert.equal((await fetched('')).body, '<html>root</html>\n');
  assert.equal((await fetched('demo/index.v1_json')).type, 'application/vnd.pypi.simple.v1+json');
  assert.equal((await fetched('.pypimirror/state.json')).status, 403, 'the state stays private');
  assert.deepEqual(await storage.list('demo'), {
    files: ['index.html', 'index.v1_json'],
    dirs: [],
    others: [],
  });
  assert.deepEqual(await storage.list(''), {
    files: ['index.html'],
    dirs: ['.pypimirror', 'demo'],
    others: [],
  });
  assert.equal(await storage.remove(html), true);
  assert.equal(
    (await fetched('demo/')).status,
    403,
    'the page at dir/ went with index.html (403: no listing)',
  );
});

test('get, ranges, kinds, removals, directories and the sweep of leftover uploads', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const bucket = await ceph.createBucket();
  const storage = openCephStorage(ceph, bucket);
  const [html] = projectPageKeys('demo');
  await storage.put(html, '<html></html>\n');
  await storage.put(recordKey('demo'), '{}\n', { durability: 'none' });
  await storage.put('demo/0123456789abcdef/demo-1.0.tar.gz', 'replaced');
  assert.equal((await storage.get(recordKey('demo')))?.toString(), '{}\n');
  assert.equal(await storage.get('demo/missing'), null);
  assert.equal((await storage.readRange(html, 1, 4))?.toString(), 'html');
  assert.equal((await storage.readRange(html, 10, 100))?.toString(), 'ml>\n');
  assert.equal((await storage.readRange(html, 100, 10))?.length, 0);
  assert.equal(await storage.readRange('demo/none', 0, 10), null);
  assert.equal(await storage.open('nothing/here'), null);
  assert.equal(await storage.entryAt('demo'), 'dir');
  assert.equal(await storage.entryAt(html), 'file');
  assert.equal(await storage.entryAt('demo/none'), null);
  assert.equal(await storage.entryAt(''), 'dir');
  const client = await storage.client();
  const started = async (key: string) =>
    client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `simple/${key}` }));
  await started('demo/demo-2.0.tar.gz');
  await started('demo/0123456789abcdef/demo-3.0.tar.gz');
  await started('other/other-1.0.tar.gz');
  await started('kept/kept-1.0.tar.gz');
  assert.equal(await storage.sweep('demo'), 1, "the directory's own files only");
  assert.equal(await storage.sweep('', new Set(['kept'])), 2, 'the root: everything under the tree but kept');
  const left = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.deepEqual(
    (left.Uploads ?? []).map((u) => u.Key),
    ['simple/kept/kept-1.0.tar.gz'],
  );
  assert.equal(await storage.removeDir('demo'), false, 'not empty: stays');
  assert.equal(await storage.remove(html), true);
  assert.equal(await storage.remove(html), false);
  assert.equal(await storage.remove('demo/0123456789abcdef/demo-1.0.tar.gz'), true);
  assert.equal(await storage.removeDir('demo'), true);
  assert.equal(await storage.entryAt('demo'), null);
  assert.equal(await storage.removeDir('demo'), true, 'gone already');
});
