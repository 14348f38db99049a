// The served tree in an S3 bucket (storage/types.ts; issue #15): a key is an object under the tree's prefix
// (`<prefix>/<key>`). Files stream in through s3-upload.ts (hashed, visible only at commit, multipart above
// a part); small files (pages, records, state) go up whole as one PutObject, which S3 makes visible
// atomically. Every object carries its sha256 in its metadata, its Content-Type (content-type.ts) and a
// Cache-Control: distribution files never change under their name (a year, immutable), pages and .metadata
// may (a minute), the state under `.pypimirror/` is never cached (and a bucket policy keeps it private).
//
// Served straight from the bucket: pip asks for `<index>/<project>/`, so each page written as
// `<dir>/index.html` is also written at the key `<dir>/` itself (after index.html, and removed with it).
// Listings hide those keys; a directory is a prefix some key has.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Storage } from '../config/types.js';
import { INDEX_HTML, STATE_DIR } from '../model/layout.js';
import { formatStorageUrl } from '../config/storage-keys.js';
import { contentTypeFor } from './content-type.js';
import { createS3Client, isS3NotFound, loadS3Sdk, s3Error, s3Status } from './s3-client.js';
import { beginS3Upload, SHA256_METADATA } from './s3-upload.js';
import type {
  BeginFileOptions,
  EntryKind,
  FileUpload,
  Listing,
  PutOptions,
  Storage,
  StoredObject,
} from './types.js';

/** Distribution files: a name never gets other bytes (a replaced file gets a new path). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Pages and .metadata: rewritten as upstream changes. */
const SHORT = 'public, max-age=60';
/** pypimirror's own state: never cached anywhere. */
const PRIVATE = 'no-store';

/** The Cache-Control an object at `key` is written with. */
function cacheControlFor(key: string): string {
  if (key === STATE_DIR || key.startsWith(`${STATE_DIR}/`)) return PRIVATE;
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name === '' || name === INDEX_HTML || !name.includes('.') || /\.(metadata|v1_json)$/.test(name))
    return SHORT;
  return IMMUTABLE;
}

/** The directory whose URL (`<dir>/`) serves the HTML page `key`, or null when `key` is no HTML page. */
function pageDir(key: string): string | null {
  if (key === INDEX_HTML) return '';
  return key.endsWith(`/${INDEX_HTML}`) ? key.slice(0, -INDEX_HTML.length - 1) : null;
}

export interface S3StorageOptions {
  /** A client to use instead of one built from the storage (tests). */
  readonly client?: S3Client;
  /** Multipart part size (default 8 MiB). */
  readonly partBytes?: number;
}

/** The tree in `storage`'s bucket under its prefix. The SDK loads on first use. */
export function createS3Storage(storage: S3Storage, opts: S3StorageOptions): S3Tree {
  return new S3Tree(storage, opts);
}

type Sdk = Awaited<ReturnType<typeof loadS3Sdk>>;

/** storage/types.ts Storage on a bucket; see the head comment. */
export class S3Tree implements Storage {
  readonly kind = 's3';
  readonly where: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private clientPromise: Promise<S3Client> | null;

  constructor(
    private readonly storage: S3Storage,
    private readonly opts: S3StorageOptions,
  ) {
    this.bucket = storage.bucket;
    this.prefix = storage.prefix;
    this.where = formatStorageUrl(storage);
    this.clientPromise = opts.client === undefined ? null : Promise.resolve(opts.client);
  }

  /** The SDK client, built on first use. */
  client(): Promise<S3Client> {
    return (this.clientPromise ??= createS3Client(this.storage));
  }

  localRoot(): null {
    return null;
  }

  /** The object key of a tree key; '' (the root) is the prefix itself. */
  objectKey(key: string): string {
    const { prefix } = this;
    return prefix === '' ? key : key === '' ? prefix : `${prefix}/${key}`;
  }

  /** The listing prefix of a directory: its object key and '/' ('' for the root of a bucket). */
  private dirPrefix(dir: string): string {
    const base = this.objectKey(dir);
    return base === '' ? '' : `${base}/`;
  }

  /** The object at the URL pip asks for when `key` is an HTML page (`<prefix>/<dir>/`), else null. */
  private aliasOf(key: string): string | null {
    const dir = pageDir(key);
    return dir === null || this.dirPrefix(dir) === '' ? null : this.dirPrefix(dir);
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  /** Runs one request; a failure becomes a StoreError naming `what` and the key (an object key if `isObject`). */
  private async send<T>(
    what: string,
    key: string,
    run: (c: S3Client, sdk: Sdk) => Promise<T>,
    isObject = false,
  ): Promise<T> {
    try {
      return await run(await this.client(), await loadS3Sdk());
    } catch (err) {
      throw s3Error(err, what, isObject ? `s3://${this.bucket}/${key}` : this.describe(key));
    }
  }

  async beginFile(key: string, fileOpts: BeginFileOptions): Promise<FileUpload> {
    return beginS3Upload(
      {
        client: await this.client(),
        bucket: this.bucket,
        key: this.objectKey(key),
        where: this.describe(key),
        contentType: fileOpts.contentType ?? contentTypeFor(key),
        cacheControl: cacheControlFor(key),
      },
      {
        algorithms: fileOpts.algorithms,
        events: fileOpts.events,
        ...(this.opts.partBytes === undefined ? {} : { partBytes: this.opts.partBytes }),
      },
    );
  }

  async put(
    key: string,
    body: string | Uint8Array | Iterable<string>,
    putOpts: PutOptions = {},
  ): Promise<void> {
    const bytes =
      typeof body === 'string'
        ? Buffer.from(body)
        : body instanceof Uint8Array
          ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          : Buffer.from([...body].join(''));
    const contentType = putOpts.contentType ?? contentTypeFor(key);
    await this.putObject(key, this.objectKey(key), bytes, contentType);
    const alias = this.aliasOf(key);
    if (alias !== null) await this.putObject(key, alias, bytes, contentType);
  }

  private putObject(key: string, objectName: string, body: Buffer, contentType: string): Promise<void> {
    return this.send('PUT', key, async (c, sdk) => {
      await c.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: objectName,
          Body: body,
          ContentLength: body.length,
          ContentType: contentType,
          CacheControl: cacheControlFor(key),
          Metadata: { [SHA256_METADATA]: createHash('sha256').update(body).digest('hex') },
        }),
      );
    });
  }

  get(key: string): Promise<Buffer | null> {
    return this.send('GET', key, async (c, sdk) => {
      try {
        const got = await c.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
        return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  open(key: string, signal?: AbortSignal): Promise<Readable | null> {
    return this.send('GET', key, async (c, sdk) => {
      try {
        const got = await c.send(
          new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
          signal === undefined ? {} : { abortSignal: signal },
        );
        return (got.Body as Readable | undefined) ?? null;
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  readRange(key: string, position: number, length: number): Promise<Buffer | null> {
    return this.send('GET (range)', key, async (c, sdk) => {
      if (length <= 0) return (await this.stat(key)) === null ? null : Buffer.alloc(0);
      try {
        const got = await c.send(
          new sdk.GetObjectCommand({
            Bucket: this.bucket,
            Key: this.objectKey(key),
            Range: `bytes=${position}-${position + length - 1}`,
          }),
        );
        return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      } catch (err) {
        if (isS3NotFound(err)) return null;
        if (s3Status(err) === 416) return Buffer.alloc(0); // from past the end
        throw err;
      }
    });
  }

  stat(key: string): Promise<StoredObject | null> {
    return this.send('HEAD', key, async (c, sdk) => {
      try {
        const got = await c.send(
          new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
        );
        return { size: got.ContentLength ?? 0, sha256: got.Metadata?.[SHA256_METADATA] ?? null };
      } catch (err) {
        if (isS3NotFound(err)) return null;
        throw err;
      }
    });
  }

  async entryAt(key: string): Promise<EntryKind | null> {
    if (key === '') return 'dir';
    if ((await this.stat(key)) !== null) return 'file';
    return (await this.listKeys(this.dirPrefix(key), false, 1)).keys.length > 0 ? 'dir' : null;
  }

  async list(dir: string): Promise<Listing> {
    const under = this.dirPrefix(dir);
    const { keys, prefixes } = await this.listKeys(under, true);
    const files = keys.map((k) => k.slice(under.length)).filter((name) => name !== '');
    const dirs = prefixes.map((p) => p.slice(under.length, -1)).filter((name) => name !== '');
    return { files: files.sort(), dirs: dirs.sort(), others: [] };
  }

  /** Up to `max` object keys under `listPrefix`, with the common prefixes below it when `delimited`. */
  private listKeys(
    listPrefix: string,
    delimited: boolean,
    max = Infinity,
  ): Promise<{ keys: string[]; prefixes: string[] }> {
    return this.send(
      'LIST',
      listPrefix,
      async (c, sdk) => {
        const keys: string[] = [];
        const prefixes: string[] = [];
        let token: string | undefined;
        do {
          const page = await c.send(
            new sdk.ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: listPrefix,
              ...(delimited ? { Delimiter: '/' } : {}),
              ...(token === undefined ? {} : { ContinuationToken: token }),
              ...(max < 1000 ? { MaxKeys: max } : {}),
            }),
          );
          for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
          for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) prefixes.push(p.Prefix);
          token = page.IsTruncated === true && keys.length < max ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return { keys, prefixes };
      },
      true,
    );
  }

  async remove(key: string): Promise<boolean> {
    if ((await this.stat(key)) === null) return false;
    const alias = this.aliasOf(key);
    if (alias !== null) await this.removeObject(key, alias);
    await this.removeObject(key, this.objectKey(key));
    return true;
  }

  private removeObject(key: string, objectName: string): Promise<void> {
    return this.send('DELETE', key, async (c, sdk) => {
      await c.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: objectName }));
    });
  }

  async removeDir(dir: string): Promise<boolean> {
    const under = this.dirPrefix(dir);
    const { keys } = await this.listKeys(under, false, 2);
    if (keys.some((k) => k !== under)) return false;
    if (keys.length > 0) await this.removeObject(dir, under); // a page alias left behind
    return true;
  }

  async settle(): Promise<void> {}

  /**
   * Aborts the unfinished multipart uploads killed runs left: in the root, every one under the tree (a run
   * starts there, when nothing uploads); elsewhere those of the directory's own files, as the local file
   * system sweeps one directory. Names in `keep` (and, in the root, what lies under them) are left alone.
   */
  sweep(dir: string, keep: ReadonlySet<string> = new Set()): Promise<number> {
    return this.send('aborting leftover uploads', dir, async (c, sdk) => {
      const under = this.dirPrefix(dir);
      let count = 0;
      let keyMarker: string | undefined;
      let idMarker: string | undefined;
      do {
        const page = await c.send(
          new sdk.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: under,
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(idMarker === undefined ? {} : { UploadIdMarker: idMarker }),
          }),
        );
        for (const { Key: key, UploadId: uploadId } of page.Uploads ?? []) {
          if (key === undefined || uploadId === undefined) continue;
          const rel = key.slice(under.length);
          const name = dir === '' ? (rel.split('/')[0] ?? '') : rel;
          if (keep.has(name) || (dir !== '' && rel.includes('/'))) continue;
          await c.send(
            new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
          );
          count++;
        }
        const more = page.IsTruncated === true;
        keyMarker = more ? page.NextKeyMarker : undefined;
        idMarker = more ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined);
      return count;
    });
  }
}
