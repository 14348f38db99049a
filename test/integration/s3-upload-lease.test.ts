// Against the real Ceph gateway (test/helpers/ceph-rgw.ts): the verified upload of one object (invisible
// until committed, a single PutObject below a part, multipart above, aborted without a trace, never
// overwriting), and the run lease (taken once, refused naming its holder, released, taken over once
// expired, lost by the holder it was taken from). One cluster for the file, a bucket per test.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { LockError, StoreError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { acquireS3Lease, type LeaseOptions } from '../../src/mirror/s3-lease.js';
import { createS3Client } from '../../src/storage/s3-client.js';
import { beginS3Upload, SHA256_METADATA, type S3Target } from '../../src/storage/s3-upload.js';
import type { CephRgw } from '../helpers/ceph-rgw.js';
import { cephInstalled, requireCeph, startCephRgw } from '../helpers/ceph-rgw.js';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import { waitFor } from '../helpers/wait-for.js';

let ceph: CephRgw | undefined;
let s3: S3Client | undefined;

before(async () => {
  if (!cephInstalled()) return;
  ceph = await startCephRgw();
  // The client a config builds, its credentials from the AWS chain (here the environment).
  const env = { AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey };
  Object.assign(process.env, env);
  s3 = await createS3Client({ bucket: 'unused', prefix: '', endpoint: new URL(ceph.endpoint), region: null });
});
after(async () => {
  s3?.destroy();
  await ceph?.stop();
});

const PART = 5 << 20; // S3's smallest part

function target(client: S3Client, bucket: string, key: string): S3Target {
  return {
    client,
    bucket,
    key,
    where: `s3://${bucket}/${key}`,
    contentType: 'application/zip',
    cacheControl: 'public, max-age=31536000, immutable',
  };
}

const noEvents = { onRoom: () => {}, onFailure: () => {} };

async function head(client: S3Client, bucket: string, key: string) {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => null);
}

async function uploadsIn(client: S3Client, bucket: string): Promise<string[]> {
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (listed.Uploads ?? []).map((u) => u.Key ?? '');
}

/** Pushes `data` in 64 KiB chunks (bounded), waiting for room when asked. */
async function pushAll(upload: { push(c: Buffer): boolean }, data: Buffer, room: { wait(): Promise<void> }) {
  for (let at = 0; at < data.length; at += 64 * 1024) {
    if (!upload.push(data.subarray(at, at + 64 * 1024))) await room.wait();
  }
}

function roomSignal() {
  let wake: (() => void) | null = null;
  return {
    events: { onRoom: () => wake?.(), onFailure: () => wake?.() },
    wait: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

test('a small file goes up as one PutObject only at commit, with its sha256, type and cache control', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const data = randomBytes(300_000);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const room = roomSignal();
  const upload = await beginS3Upload(target(s3, bucket, 'simple/demo/demo-1.0.whl'), {
    algorithms: ['sha256', 'md5'],
    events: room.events,
    partBytes: PART,
  });
  await pushAll(upload, data, room);
  const digests = await upload.finish();
  assert.deepEqual(digests, [sha256, createHash('md5').update(data).digest('hex')]);
  assert.equal(await head(s3, bucket, 'simple/demo/demo-1.0.whl'), null, 'invisible before commit');
  await upload.commit({ mayReplace: false, sha256 });
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'simple/demo/demo-1.0.whl' }));
  assert.equal(Buffer.from(await got.Body!.transformToByteArray()).equals(data), true);
  assert.equal(got.Metadata?.[SHA256_METADATA], sha256);
  assert.equal(got.ContentType, 'application/zip');
  assert.equal(got.CacheControl, 'public, max-age=31536000, immutable');
});

test('a large file goes up in parts, completed at commit, then carries its sha256', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const data = randomBytes(2 * PART + 12345);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const room = roomSignal();
  const upload = await beginS3Upload(target(s3, bucket, 'big.whl'), {
    algorithms: ['sha256'],
    events: room.events,
    partBytes: PART,
  });
  await pushAll(upload, data, room);
  assert.deepEqual(await upload.finish(), [sha256]);
  await waitFor('the multipart upload to start', async () => (await uploadsIn(s3!, bucket)).length === 1);
  assert.equal(await head(s3, bucket, 'big.whl'), null, 'invisible before commit');
  await upload.commit({ mayReplace: false, sha256 });
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.whl' }));
  assert.equal(Buffer.from(await got.Body!.transformToByteArray()).equals(data), true);
  assert.equal(got.Metadata?.[SHA256_METADATA], sha256);
  assert.equal(got.ContentType, 'application/zip');
  assert.equal(got.CacheControl, 'public, max-age=31536000, immutable');
  assert.deepEqual(await uploadsIn(s3, bucket), []);
});

test('an aborted upload leaves no object and no multipart upload', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const room = roomSignal();
  const upload = await beginS3Upload(target(s3, bucket, 'bad.whl'), {
    algorithms: ['sha256'],
    events: room.events,
    partBytes: PART,
  });
  await pushAll(upload, randomBytes(2 * PART + 1), room);
  await upload.finish(); // the caller finds the digest wrong, and aborts
  await waitFor('the multipart upload to start', async () => (await uploadsIn(s3!, bucket)).length === 1);
  await upload.abort();
  assert.equal(await head(s3, bucket, 'bad.whl'), null);
  assert.deepEqual(await uploadsIn(s3, bucket), []);
});

test('a commit never overwrites an object without mayReplace (STORE_EXISTS), and may with it', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const put = async (data: Buffer, mayReplace: boolean) => {
    const upload = await beginS3Upload(target(s3!, bucket, 'a.whl'), {
      algorithms: ['sha256'],
      events: noEvents,
    });
    upload.push(data);
    const [sha256 = ''] = await upload.finish();
    await upload.commit({ mayReplace, sha256 });
  };
  await put(Buffer.from('first'), false);
  await assert.rejects(put(Buffer.from('second'), false), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'STORE_EXISTS');
    assert.match(err.message, new RegExp(`s3://${bucket}/a\\.whl: an object is already there`));
    return true;
  });
  const kept = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.whl' }));
  assert.equal(await kept.Body!.transformToString(), 'first');
  await put(Buffer.from('third'), true);
  const replaced = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.whl' }));
  assert.equal(await replaced.Body!.transformToString(), 'third');
});

function leaseOptions(bucket: string, over: Partial<LeaseOptions> = {}): LeaseOptions {
  return {
    client: s3!,
    bucket,
    key: 'simple/.pypimirror/lease',
    where: `s3://${bucket}/simple/.pypimirror/lease`,
    log: silentLogger,
    onLost: () => {},
    ...over,
  };
}

test('the lease: one holder; a second is refused naming pid, host and age; free again once released', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const first = await acquireS3Lease(leaseOptions(bucket));
  await assert.rejects(acquireS3Lease(leaseOptions(bucket)), (err: unknown) => {
    assert.ok(err instanceof LockError);
    assert.equal(err.code, 'LOCK_HELD');
    const where = `s3://${bucket}/simple/.pypimirror/lease`;
    assert.match(
      err.message,
      new RegExp(
        `^another pypimirror run holds the lock ${where}: pid ${process.pid} on host ${hostname()} ` +
          `since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(last refreshed \\d+ s ago\\)$`,
      ),
    );
    return true;
  });
  await first.release();
  const second = await acquireS3Lease(leaseOptions(bucket));
  await second.release();
});

test('an expired lease is taken over with a warning, and its old holder loses it at its next renewal', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const lost: LockError[] = [];
  const old = await acquireS3Lease(
    leaseOptions(bucket, { renewMs: 100, onLost: (err) => lost.push(err), leaseMs: 60_000 }),
  );
  t.after(() => old.release());
  // The standby's clock runs two minutes ahead: to it, the lease was last renewed long ago.
  const log = createCaptureLogger();
  const later = () => new Date(Date.now() + 120_000);
  const standby = await acquireS3Lease(leaseOptions(bucket, { now: later, log }));
  t.after(() => standby.release());
  assert.equal(log.find('taking over an expired run lease', 'warn').length, 1);
  assert.match(
    log.find('taking over')[0]!.msg,
    new RegExp(`held by pid ${process.pid} on host ${hostname()}`),
  );
  const err = await waitFor('the old holder to lose its lease', () => lost[0]);
  assert.equal(err.code, 'LOCK_LOST');
  assert.match(
    err.message,
    /the run lease s3:\/\/.*\/simple\/\.pypimirror\/lease was lost: another run wrote it/,
  );
});
