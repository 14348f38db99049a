// The S3 client of an `s3://` storage (issue #15), and how its failures read. The SDK is loaded with
// `await import()` on first use, so commands on a local tree never load it (test/e2e/startup.test.ts).
// Credentials come from the SDK's default chain (environment, shared credentials file, AWS_PROFILE, an
// instance role) and are never read, logged nor shown here.
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Storage } from '../config/types.js';
import { StoreError } from '../errors.js';

/** The SDK modules, loaded once. */
export type S3Sdk = typeof import('@aws-sdk/client-s3');

let sdk: Promise<S3Sdk> | null = null;

/** The SDK, loaded on first call. */
export function loadS3Sdk(): Promise<S3Sdk> {
  sdk ??= import('@aws-sdk/client-s3');
  return sdk;
}

/**
 * The region when the config names none: `s3_region`, else AWS_REGION of the command's environment
 * (config/load.ts fills it in), else AWS's own default.
 */
const FALLBACK_REGION = 'us-east-1';

/**
 * A client for `storage`: path-style requests (a Ceph gateway or MinIO has no per-bucket host names), and
 * checksums only where an operation requires them (a Ceph 16 gateway refuses the SDK's default aws-chunked
 * upload with a trailing checksum: 411). Our own integrity check is the sha256 kept in each object's metadata.
 */
export async function createS3Client(storage: S3Storage): Promise<S3Client> {
  const { S3Client: Client } = await loadS3Sdk();
  return new Client({
    region: storage.region ?? FALLBACK_REGION,
    ...(storage.endpoint === null ? {} : { endpoint: storage.endpoint.href.replace(/\/$/, '') }),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 5,
  });
}

/** The HTTP status of an S3 failure, or null when it is not one (a network error). */
export function s3Status(err: unknown): number | null {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : null;
}

/** Whether `err` says the key (or upload) is not there. */
export function isS3NotFound(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return s3Status(err) === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload';
}

/**
 * An S3 failure as a StoreError naming what was done, where, and the service's error code (a Ceph gateway
 * sends an empty message: the code is what it says).
 */
export function s3Error(err: unknown, what: string, where: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { name?: string; Code?: string; message?: string } | null;
  const status = s3Status(err);
  const code = e?.Code ?? e?.name ?? 'Error';
  // The SDK says UnknownError where the service sent an empty message (a Ceph gateway always does).
  const said = e?.message ?? '';
  const message = said !== '' && said !== code && said !== 'UnknownError' ? `: ${said}` : '';
  const http = status === null ? '' : ` (HTTP ${status})`;
  return new StoreError('STORE_IO', `${where}: ${what} failed: ${code}${http}${message}`, { cause: err });
}
