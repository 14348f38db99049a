// An S3 storage (src/storage/s3.ts) on a test bucket of the Ceph fixture (test/helpers/ceph-rgw.ts), and the
// config and environment that reach the same bucket through the CLI: the credentials in AWS_* variables,
// as the AWS chain reads them.
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import type { S3Storage } from '../../src/config/types.js';
import { createS3Storage, type S3Tree } from '../../src/storage/s3.js';
import type { CephRgw } from './ceph-rgw.js';

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
    env: cephEnv(ceph),
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
