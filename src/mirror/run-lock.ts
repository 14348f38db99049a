// The run lock of the tree the config names: the local lock (lock.ts) beside a local tree, the lease
// object (s3-lease.ts) in the bucket of an `s3://` storage. Both refuse with LOCK_HELD naming the
// holder, and call onLost if the lock is lost while held.
import type { Config } from '../config/types.js';
import { S3_LEASE_KEY } from '../config/storage-keys.js';
import type { Logger } from '../log.js';
import type { LockError } from '../errors.js';
import { acquireRunLock, type RunLock } from './lock.js';
import { openStorage } from '../storage/open.js';

export interface RunLockOptions {
  readonly log: Logger;
  readonly onLost: (err: LockError) => void;
  /** Local: a lock not refreshed for this long is taken over. S3: the lease's time (default 60 s). */
  readonly staleMs?: number;
  /** Local: how often the lock is refreshed. S3: how often the lease is renewed (default 10 s). */
  readonly updateMs?: number;
}

/** Takes the run lock of `cfg`'s tree, or throws LockError('LOCK_HELD') naming its holder. */
export async function takeRunLock(cfg: Config, opts: RunLockOptions): Promise<RunLock> {
  const timing = {
    ...(opts.staleMs === undefined ? {} : { staleMs: opts.staleMs }),
    ...(opts.updateMs === undefined ? {} : { updateMs: opts.updateMs }),
  };
  if (cfg.s3Storage === null) {
    return acquireRunLock({ lockFile: cfg.lockFile, log: opts.log, onLost: opts.onLost, ...timing });
  }
  const [{ S3Tree }, { acquireS3Lease }] = await Promise.all([
    import('../storage/s3.js'),
    import('./s3-lease.js'),
  ]);
  const tree = await openStorage(cfg);
  if (!(tree instanceof S3Tree))
    throw new Error(`${tree.where}: expected an S3 storage for ${cfg.mirrorRoot}`);
  return acquireS3Lease({
    client: await tree.client(),
    bucket: cfg.s3Storage.bucket,
    key: tree.objectKey(S3_LEASE_KEY),
    where: tree.describe(S3_LEASE_KEY),
    log: opts.log,
    onLost: opts.onLost,
    ...(opts.staleMs === undefined ? {} : { leaseMs: opts.staleMs }),
    ...(opts.updateMs === undefined ? {} : { renewMs: opts.updateMs }),
  });
}
