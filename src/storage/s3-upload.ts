// A verified write of one file into a bucket (issue #15 part 3): the bytes are hashed as they stream
// through, into @aws-sdk/lib-storage's Upload, which sends a file smaller than one part as a single
// PutObject and a larger one as a multipart upload, part by part, never holding the whole file. Nothing
// becomes visible before `commit`: the stream is ended only then, so the PutObject or the
// CompleteMultipartUpload happens after the caller has checked the digests. `abort` fails the stream,
// so a multipart upload is aborted (lib-storage's own clean-up, awaited here) and nothing is left behind.
//
// Each object carries its sha256 in its metadata (`x-amz-meta-sha256`): a single PutObject gets it with the
// bytes; a multipart upload's metadata is fixed when it starts, before the digest is known, so the
// completed object is copied onto itself with the digest (a server-side copy, no bytes through us).
import { createHash, type Hash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { StoreError } from '../errors.js';
import { isS3NotFound, loadS3Sdk, s3Error } from './s3-client.js';

/** The metadata key of an object's sha256 (served as `x-amz-meta-sha256`). */
export const SHA256_METADATA = 'sha256';

/** A part of a multipart upload, and the size below which a file goes up as one PutObject. */
const DEFAULT_PART_BYTES = 8 << 20;
/** Parts of one file in flight at once. */
const PARTS_IN_FLIGHT = 2;
/** Bytes waiting for lib-storage above which the source is paused. */
const STREAM_BUFFER_BYTES = 1 << 20;
/** The largest object CopyObject copies in one request (5 GiB): above it the digest is not set afterwards. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** Where an upload goes and how the object is served. */
export interface S3Target {
  readonly client: S3Client;
  readonly bucket: string;
  /** The full object key (prefix included). */
  readonly key: string;
  /** For messages: `s3://bucket/key`. */
  readonly where: string;
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface S3UploadOptions {
  /** Digests computed while the bytes stream (hashlib names), sha256 first: `finish` returns them in order. */
  readonly algorithms: readonly string[];
  readonly events: { onRoom(): void; onFailure(err: Error): void };
  /** Part size, and the size from which a file goes up in parts (default 8 MiB; S3's minimum is 5 MiB). */
  readonly partBytes?: number;
}

/** An invisible write of one object (storage/types.ts FileUpload). */
export interface S3Upload {
  push(chunk: Buffer): boolean;
  finish(): Promise<string[]>;
  commit(opts: { readonly mayReplace: boolean; readonly sha256: string }): Promise<void>;
  abort(): Promise<void>;
}

/** Starts the write of `target.key`; see the head comment. */
export async function beginS3Upload(target: S3Target, opts: S3UploadOptions): Promise<S3Upload> {
  const { Upload } = await import('@aws-sdk/lib-storage');
  const hashes: Hash[] = opts.algorithms.map((algo) => createHash(algo));
  const body = new PassThrough({ highWaterMark: STREAM_BUFFER_BYTES });
  body.on('drain', () => opts.events.onRoom());
  const metadata: Record<string, string> = {};
  const params: PutObjectCommandInput = {
    Bucket: target.bucket,
    Key: target.key,
    Body: body,
    ContentType: target.contentType,
    CacheControl: target.cacheControl,
    Metadata: metadata, // the digest is added (in place) at commit, before the single PutObject
  };
  const upload = new Upload({
    client: target.client,
    params,
    partSize: opts.partBytes ?? DEFAULT_PART_BYTES,
    queueSize: PARTS_IN_FLIGHT,
    leavePartsOnError: false,
  });
  let size = 0;
  let state: 'open' | 'committing' | 'done' = 'open';
  const done = upload.done();
  const settled = done.then(
    () => null,
    (err: unknown) => err,
  );
  void settled.then((err) => {
    // A part failed while the source still streams: the download fails now rather than at commit.
    if (err !== null && state === 'open') opts.events.onFailure(s3Error(err, 'upload', target.where));
  });
  const abort = async (): Promise<void> => {
    if (state === 'done') return;
    state = 'done';
    // Failing the stream ends lib-storage's part readers with an error; it then aborts the multipart
    // upload (if one started) before `done` settles.
    body.destroy(new StoreError('STORE_IO', `${target.where}: upload abandoned`));
    await settled;
  };
  return {
    push(chunk) {
      for (const hash of hashes) hash.update(chunk);
      size += chunk.length;
      return body.write(chunk);
    },
    async finish() {
      const err = await Promise.race([settled, Promise.resolve(null)]);
      if (err !== null) throw s3Error(err, 'upload', target.where);
      return hashes.map((hash) => hash.digest('hex'));
    },
    async commit({ mayReplace, sha256 }) {
      if (state !== 'open') throw new Error(`${target.where}: commit after abort or commit`);
      if (!mayReplace && (await headSize(target)) !== null) {
        await abort();
        throw new StoreError(
          'STORE_EXISTS',
          `${target.where}: an object is already there; a published file is never overwritten with other bytes`,
        );
      }
      state = 'committing';
      metadata[SHA256_METADATA] = sha256;
      body.end();
      const err = await settled;
      state = 'done';
      if (err !== null) throw s3Error(err, 'upload', target.where);
      if (upload.uploadId !== undefined && size <= MAX_COPY_BYTES) await setDigest(target, sha256);
    },
    abort,
  };
}

/** The size of the object at `target.key`, or null when there is none. */
async function headSize(target: S3Target): Promise<number | null> {
  const { HeadObjectCommand } = await loadS3Sdk();
  try {
    const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key }));
    return head.ContentLength ?? 0;
  } catch (err) {
    if (isS3NotFound(err)) return null;
    throw s3Error(err, 'HEAD', target.where);
  }
}

/** Copies a completed multipart object onto itself with `sha256` in its metadata (server side). */
async function setDigest(target: S3Target, sha256: string): Promise<void> {
  const { CopyObjectCommand } = await loadS3Sdk();
  try {
    await target.client.send(
      new CopyObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        CopySource: `${target.bucket}/${encodeURIComponent(target.key).replaceAll('%2F', '/')}`,
        MetadataDirective: 'REPLACE',
        Metadata: { [SHA256_METADATA]: sha256 },
        ContentType: target.contentType,
        CacheControl: target.cacheControl,
      }),
    );
  } catch (err) {
    throw s3Error(err, 'setting the sha256 metadata (CopyObject)', target.where);
  }
}
