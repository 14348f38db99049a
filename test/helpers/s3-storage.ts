// An S3 storage (src/storage/s3.ts) on a test bucket of the Ceph fixture (test/helpers/ceph-rgw.ts), and the
// config and environment that reach the same bucket through the CLI: the credentials in AWS_* variables,
// as the AWS chain reads them.
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
} from '@aws-sdk/client-s3';
import type { S3Storage } from '../../src/config/types.js';
import { createS3Storage, type S3Tree } from '../../src/storage/s3.js';
import { after, before } from 'node:test';
import { type CephRgw, cephInstalled, startCephRgw } from './ceph-rgw.js';

/** The AWS chain's environment for the fixture's user (merge into a child's env). */
export function cephEnv(ceph: CephRgw): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: ceph.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey,
    AWS_REGION: ceph.region,
  };
}

/** The `storage` a config would name for `bucket` under `prefix`. */
export function cephStorage(ceph: CephRgw, bucket: string, prefix: string): S3Storage {
  return { bucket, prefix, endpoint: new URL(ceph.endpoint), region: ceph.region };
}

/** A storage on `bucket` under `prefix`, with the fixture's client; small parts so that tests reach multipart. */
export function openCephStorage(ceph: CephRgw, bucket: string, prefix = 'simple'): S3Tree {
  return createS3Storage(cephStorage(ceph, bucket, prefix), {
    client: ceph.client(),
    partBytes: 5 << 20,
  });
}

/** The `[mirror]` lines of a config on `bucket` under `prefix`. */
export function cephConfigLines(ceph: CephRgw, bucket: string, prefix = 'simple'): Record<string, string> {
  return { storage: `s3://${bucket}/${prefix}`, s3_endpoint: ceph.endpoint, s3_region: ceph.region };
}

/**
 * samples/s3-bucket-policy.json's policy for `bucket` and `prefix`: anyone reads the tree, nobody its
 * `.pypimirror/` state.
 */
export async function allowPublicRead(ceph: CephRgw, bucket: string, prefix = 'simple'): Promise<void> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: '*',
        Action: ['s3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}/${prefix}/*`],
      },
      {
        Effect: 'Deny',
        Principal: '*',
        Action: ['s3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}/${prefix}/.pypimirror/*`],
      },
    ],
  };
  const client = ceph.client();
  try {
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
  } finally {
    client.destroy();
  }
}

/** The keys under `prefix/` in `bucket` (all of them, paginated, bounded). */
export async function listBucket(ceph: CephRgw, bucket: string, prefix = 'simple'): Promise<string[]> {
  const client = ceph.client();
  const keys: string[] = [];
  try {
    let token: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const got = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: `${prefix}/`,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      keys.push(...(got.Contents ?? []).map((o) => (o.Key ?? '').slice(prefix.length + 1)));
      token = got.IsTruncated === true ? got.NextContinuationToken : undefined;
      if (token === undefined) break;
    }
  } finally {
    client.destroy();
  }
  return keys.sort();
}

/** The unfinished multipart uploads in `bucket`, by key. */
export async function multipartUploads(ceph: CephRgw, bucket: string): Promise<string[]> {
  const client = ceph.client();
  try {
    const got = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return (got.Uploads ?? []).map((u) => u.Key ?? '');
  } finally {
    client.destroy();
  }
}

/**
 * Throws unless every link of every HTML page in the bucket (`index.html` and its `dir/` copy) names an
 * object that is there: what a reader of the bucket must be able to rely on at every instant.
 */
export async function assertBucketConsistent(
  ceph: CephRgw,
  bucket: string,
  prefix = 'simple',
  when = 'the bucket',
): Promise<void> {
  const keys = await listBucket(ceph, bucket, prefix);
  const present = new Set(keys);
  const client = ceph.client();
  try {
    for (const page of keys.filter((k) => k.endsWith('index.html') || k.endsWith('/') || k === '')) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${page}` }));
      const html = (await got.Body?.transformToString()) ?? '';
      const dir = page.endsWith('/') ? page : page.slice(0, page.lastIndexOf('/') + 1);
      for (const [, href = ''] of html.matchAll(/href="([^"#]*)/g)) {
        const target = `${dir}${href}`.replace(/[^/]+\/\.\.\//g, '');
        const isPage = target.endsWith('/');
        const ok = isPage ? present.has(`${target}index.html`) : present.has(target);
        if (!ok) throw new Error(`${when}: ${page} links ${href}, which is not in the bucket`);
      }
    }
  } finally {
    client.destroy();
  }
}

/** The test file's cluster: started before its tests where Ceph is installed, stopped after them. */
export function cephForFile(): { readonly current: CephRgw | undefined } {
  const cluster: { current: CephRgw | undefined } = { current: undefined };
  before(async () => {
    if (cephInstalled()) cluster.current = await startCephRgw();
  });
  after(async () => {
    await cluster.current?.stop();
  });
  return cluster;
}
