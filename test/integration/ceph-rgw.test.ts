// The Ceph fixture itself, and the gateway behaviours that object storage (issue #15) will rely on:
// streamed PUTs through the SDK, conditional writes for a lease, anonymous reads through a bucket policy,
// keys ending in '/', multipart uploads listed and aborted. One cluster for the file, a bucket per test.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { CephRgw } from '../helpers/ceph-rgw.js';
import { cephInstalled, requireCeph, startCephRgw } from '../helpers/ceph-rgw.js';

let ceph: CephRgw | undefined;
let s3: S3Client | undefined;

before(async () => {
  if (!cephInstalled()) return; // each test then skips, or fails under CI, saying what is missing
  ceph = await startCephRgw();
  s3 = ceph.client();
});
after(async () => {
  s3?.destroy();
  await ceph?.stop();
});

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode ?? 0;
    throw err;
  }
}

async function anonymousGet(url: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

test('a streamed PUT arrives whole, and a conditional PUT refuses to overwrite (If-None-Match: *)', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'files/a.whl',
      Body: Readable.from(chunks),
      ContentLength: 64 * 16 * 1024,
      Metadata: { sha256: 'abc' },
    }),
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'files/a.whl' }));
  assert.equal(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(chunks)), true);
  assert.equal(got.Metadata?.['sha256'], 'abc');
  const lease = (body: string, cond: { IfNoneMatch?: string; IfMatch?: string }): Promise<number> =>
    statusOf(s3!.send(new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body: body, ...cond })));
  assert.equal(await lease('one', { IfNoneMatch: '*' }), 200);
  assert.equal(await lease('two', { IfNoneMatch: '*' }), 412, 'the second taker is refused');
  const current = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'lock' }));
  assert.equal(await current.Body!.transformToString(), 'one');
  // Ceph 16.2 compares a PUT's If-Match with the bare etag: the quoted form that GET returns (and RFC 9110
  // writes) never matches. A lease must send the etag without its quotes.
  const quoted = current.ETag!;
  const bare = quoted.replaceAll('"', '');
  assert.equal(await lease('renewed', { IfMatch: quoted }), 412, 'quoted: this gateway never matches');
  assert.equal(await lease('renewed', { IfMatch: bare }), 200, 'the holder renews by its etag');
  assert.equal(await lease('stolen', { IfMatch: bare }), 412, 'a stale etag is refused');
});

test('anonymous reads: 403 until a bucket policy allows s3:GetObject; a key ending in / is a page', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const page = '<!DOCTYPE html><html><body><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a></body></html>';
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'simple/demo/', Body: page, ContentType: 'text/html' }),
  );
  const url = `${ceph.endpoint}/${bucket}/simple/demo/`;
  assert.equal((await anonymousGet(url)).status, 403);
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: '*',
        Action: ['s3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}/simple/*`],
      },
    ],
  };
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
  const served = await anonymousGet(url);
  assert.deepEqual(served, { status: 200, type: 'text/html', body: page });
  assert.equal((await anonymousGet(`${ceph.endpoint}/${bucket}/`)).status, 403, 'listing stays private');
});

test('an unfinished multipart upload is listed and can be aborted', async (t) => {
  if (!requireCeph(t) || ceph === undefined || s3 === undefined) return;
  const bucket = await ceph.createBucket();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.whl' }));
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.deepEqual(
    (listed.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
    [['big.whl', UploadId]],
  );
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'big.whl', UploadId }));
  const afterAbort = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.equal((afterAbort.Uploads ?? []).length, 0);
});
