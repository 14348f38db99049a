// A verified download with retries: the upstream client retries the request itself; this retries the
// whole transfer when the body fails half-way (reset, timeout, truncation). A wrong digest is not retried.
import { IntegrityError } from '../errors.js';
import type { Logger } from '../log.js';
import { downloadVerified, type Expected, type StoredFile } from '../mirror/store.js';
import { isRetryableError, withRetries } from '../upstream/retry.js';
import type { Upstream } from '../upstream/types.js';
import type { Pool } from '../util/pool.js';

export interface RetryPolicy {
  readonly retries: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface DownloadContext {
  readonly upstream: Upstream;
  readonly pool: Pool;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly retry: RetryPolicy;
  countRequest(): void;
}

function isRetryableTransfer(err: unknown): boolean {
  if (err instanceof IntegrityError) return err.code === 'INTEGRITY_SIZE';
  return isRetryableError(err);
}

/** Each attempt takes its own slot in the pool, keyed by project, so projects take turns. */
export function downloadWithRetries(
  ctx: DownloadContext,
  project: string,
  url: string,
  target: string,
  expected: Expected,
): Promise<StoredFile> {
  return withRetries(
    () =>
      ctx.pool.run(project, () => {
        ctx.countRequest();
        return downloadVerified(ctx.upstream, url, target, expected, ctx.signal);
      }),
    {
      ...ctx.retry,
      signal: ctx.signal,
      log: ctx.log,
      describe: `GET ${url}`,
      isRetryable: isRetryableTransfer,
    },
  );
}
