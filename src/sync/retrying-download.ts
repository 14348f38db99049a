// A verified download with retries: the upstream client retries the request itself; this retries the
// whole transfer when the body fails half-way (reset, timeout, truncation). A wrong digest is not retried,
// and neither is a request the client has already retried (a file answering 500 costs retries + 1
// requests, not (retries + 1)²).
import { IntegrityError } from '../errors.js';
import type { Logger } from '../log.js';
import { receiveVerified, type Expected, type StoredFile } from '../mirror/store.js';
import { isRetryableError, withRetries } from '../upstream/retry.js';
import type { Upstream } from '../model/upstream.js';
import type { Storage } from '../storage/types.js';
import type { Pool, Semaphore } from '../util/pool.js';

export interface RetryPolicy {
  readonly retries: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface DownloadContext {
  readonly upstream: Upstream;
  /** The served tree. */
  readonly storage: Storage;
  /** Upstream connections: `workers` slots shared by pages and files. */
  readonly pool: Pool;
  /** Permits for received files waiting for their commit (fdatasync and rename: each holds a temp file open). */
  readonly publishing: Semaphore;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly retry: RetryPolicy;
  countRequest(): void;
}

function isRetryableTransfer(err: unknown, requestFailures: WeakSet<object>): boolean {
  if (typeof err === 'object' && err !== null && requestFailures.has(err)) return false;
  if (err instanceof IntegrityError) return err.code === 'INTEGRITY_SIZE';
  return isRetryableError(err);
}

/**
 * Each attempt takes its own slot in the connection pool, keyed by project, so projects take turns. The slot
 * is let go as soon as the body is in: the fdatasync and rename that publish the file run outside it, so a
 * connection does not wait for the disk, unless `publishing` says too many files already wait for it (each
 * holds an open temp file).
 */
export async function downloadWithRetries(
  ctx: DownloadContext,
  project: string,
  url: string,
  key: string,
  expected: Expected,
): Promise<StoredFile> {
  // Failures of the request itself (before any body byte): the client's own retry loop has spent them.
  const requestFailures = new WeakSet<object>();
  const upstream: Pick<Upstream, 'fetchFile'> = {
    fetchFile: (...args) =>
      ctx.upstream.fetchFile(...args).catch((err: unknown) => {
        if (typeof err === 'object' && err !== null) requestFailures.add(err);
        throw err;
      }),
  };
  const received = await withRetries(
    () =>
      ctx.pool.run(project, async () => {
        ctx.countRequest();
        const file = await receiveVerified(upstream, url, ctx.storage, key, expected, ctx.signal);
        await ctx.publishing.acquire(); // the connection slot is released once the file has a permit
        return file;
      }),
    {
      ...ctx.retry,
      signal: ctx.signal,
      log: ctx.log,
      describe: `GET ${url}`,
      isRetryable: (err) => isRetryableTransfer(err, requestFailures),
    },
  );
  try {
    return await received.publish();
  } finally {
    ctx.publishing.release();
  }
}
