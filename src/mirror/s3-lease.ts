// The run lock of a mirror in a bucket (issue #15 part 5): a lease object under the tree's private state
// prefix (`<prefix>/.pypimirror/lease`), JSON {pid, host, since, renewed, released}. Several machines may
// run the daemon against one bucket; the lease lets one write at a time and the others stand by.
// - Taken with `PutObject If-None-Match: *`: of two takers, the gateway lets one create it.
// - Renewed every `renewMs` with `If-Match: <etag>` of the holder's last write: a renewal fails with 412
//   once anyone else wrote the lease, and the holder then knows it lost it (onLost aborts the run, as losing
//   the local lock does).
// - Expired when its object was last written (the server's Last-Modified) more than `leaseMs` ago: a standby
//   takes it over with `If-Match: <etag it read>`, so of two standbys only one wins. A holder on this host
//   whose process is gone is taken over at once, as the local lock does.
// - Released by writing it `released` (again If-Match), which the next taker takes over at once; it is never
//   deleted, since an unconditional delete could remove a lease someone else just took.
// Ceph 16.2 compares a PUT's If-Match with the bare etag only: the quotes that S3 returns are stripped
// (test/integration/ceph-rgw.test.ts). Machines are assumed to keep their clocks in step (NTP): the age is
// the local time minus the server's Last-Modified.
import { hostname } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import { LockError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatHeld, formatSince, isProcessAlive, type LockHolder, type RunLock } from './lock.js';
import { isS3NotFound, loadS3Sdk, s3Error, s3Status } from '../storage/s3-client.js';

/** A lease not renewed for this long is taken over by a standby. */
const DEFAULT_LEASE_MS = 60_000;
/** How often the holder renews it. */
const DEFAULT_RENEW_MS = 10_000;
/** Takers that lose a race (another taker wrote between our read and our write) try again this often. */
const TAKE_ATTEMPTS = 3;

export interface LeaseOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** The lease's full object key. */
  readonly key: string;
  /** For messages: `s3://bucket/prefix/.pypimirror/lease`. */
  readonly where: string;
  /** Called once if the lease is lost while held (a renewal refused or failing for `leaseMs`). */
  readonly onLost: (err: LockError) => void;
  readonly log: Logger;
  /** A lease not renewed for this long is taken over (default 60 s). */
  readonly leaseMs?: number;
  /** How often it is renewed (default 10 s, at most leaseMs / 3). */
  readonly renewMs?: number;
  readonly now?: () => Date;
}

interface LeaseBody extends LockHolder {
  /** ISO 8601 UTC: the holder's last renewal (for people reading it; the age comes from Last-Modified). */
  readonly renewed: string;
  readonly released: boolean;
}

interface CurrentLease {
  readonly body: LeaseBody | null;
  /** Bare, without quotes. */
  readonly etag: string;
  readonly ageMs: number;
}

/** An etag as Ceph 16.2 compares it in If-Match: without its quotes. */
function bareEtag(etag: string | undefined): string {
  return (etag ?? '').replaceAll('"', '');
}

function decodeBody(text: string): LeaseBody | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const { pid, host, since, renewed, released } = v;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof since !== 'string') return null;
    return {
      pid,
      host,
      since,
      renewed: typeof renewed === 'string' ? renewed : since,
      released: released === true,
    };
  } catch {
    return null;
  }
}

/** Takes the lease or throws LockError('LOCK_HELD') naming its holder, its host and its age. */
export async function acquireS3Lease(opts: LeaseOptions): Promise<RunLock> {
  const sdk = await loadS3Sdk();
  const now = opts.now ?? (() => new Date());
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const renewMs = Math.min(opts.renewMs ?? DEFAULT_RENEW_MS, Math.floor(leaseMs / 3));
  const host = hostname();
  const holder: LockHolder = { pid: process.pid, host, since: formatSince(now()) };
  const bodyOf = (released: boolean): string =>
    `${JSON.stringify({ ...holder, renewed: formatSince(now()), released })}\n`;
  const { client, bucket, key, where } = opts;

  /** Writes the lease on a condition: its new bare etag, or null when the condition failed (412). */
  const write = async (released: boolean, cond: { IfNoneMatch: '*' } | { IfMatch: string }) => {
    try {
      const put = new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bodyOf(released),
        ContentType: 'application/json',
        CacheControl: 'no-store',
        ...cond,
      });
      return bareEtag((await client.send(put)).ETag);
    } catch (err) {
      // 412: the condition failed. 409 (ConditionalRequestConflict): another conditional write was in flight.
      if (s3Status(err) === 412 || s3Status(err) === 409) return null;
      throw s3Error(err, 'writing the lease', where);
    }
  };
  const read = async (): Promise<CurrentLease | null> => {
    try {
      const got = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = (await got.Body?.transformToString()) ?? '';
      const modified = got.LastModified?.getTime() ?? now().getTime();
      return { body: decodeBody(text), etag: bareEtag(got.ETag), ageMs: now().getTime() - modified };
    } catch (err) {
      if (isS3NotFound(err)) return null;
      throw s3Error(err, 'reading the lease', where);
    }
  };

  let etag: string | null = null;
  for (let attempt = 1; etag === null && attempt <= TAKE_ATTEMPTS; attempt++) {
    etag = await write(false, { IfNoneMatch: '*' });
    if (etag !== null) break;
    const current = await read();
    if (current === null) continue; // released and gone meanwhile: take it
    const verdict = judgeLease(current, host, leaseMs);
    if (verdict === 'held') {
      throw new LockError('LOCK_HELD', formatHeld(where, current.body, current.ageMs), {
        holder: current.body,
      });
    }
    etag = await write(false, { IfMatch: current.etag });
    // Said once, by the taker that won: a lease renewed between our read and our write refuses the write.
    if (etag !== null && verdict !== 'released') warnTakeover(opts.log, where, verdict, current, leaseMs);
  }
  if (etag === null) {
    const current = await read();
    throw new LockError('LOCK_HELD', formatHeld(where, current?.body ?? null, current?.ageMs ?? null));
  }
  opts.log.debug('run lease taken', { lock: where });
  return holdLease({ ...opts, leaseMs, renewMs, holder, etag, write });
}

type LeaseVerdict = 'held' | 'released' | 'expired' | 'dead';

/** Whether a lease found in place may be taken: released, expired, or its holder here is gone. */
function judgeLease(current: CurrentLease, host: string, leaseMs: number): LeaseVerdict {
  if (current.body?.released === true) return 'released';
  if (current.ageMs > leaseMs) return 'expired';
  const holder = current.body;
  if (holder !== null && holder.host === host && !isProcessAlive(holder.pid)) return 'dead';
  return 'held';
}

function warnTakeover(
  log: Logger,
  where: string,
  verdict: 'expired' | 'dead',
  current: CurrentLease,
  leaseMs: number,
): void {
  const holder = current.body;
  const ageS = Math.round(current.ageMs / 1000);
  const fields = {
    lock: where,
    pid: holder?.pid,
    host: holder?.host,
    since: holder?.since,
    refreshedAgoS: ageS,
  };
  if (verdict === 'dead') {
    log.warn('taking over the run lease of a process that no longer exists', fields);
    return;
  }
  const whose =
    holder === null ? 'an unknown holder' : `pid ${holder.pid} on host ${holder.host} since ${holder.since}`;
  log.warn(
    `taking over an expired run lease: held by ${whose}, last renewed ${ageS} s ago ` +
      `(more than ${Math.round(leaseMs / 1000)} s)`,
    fields,
  );
}

/** Renews a taken lease until released or lost. */
function holdLease(
  opts: LeaseOptions & {
    readonly leaseMs: number;
    readonly renewMs: number;
    readonly holder: LockHolder;
    readonly etag: string;
    readonly write: (released: boolean, cond: { IfMatch: string }) => Promise<string | null>;
  },
): RunLock {
  let etag = opts.etag;
  let renewedAt = Date.now();
  let isReleased = false;
  let isLost = false;
  let renewing: Promise<void> | null = null;
  const lose = (why: string, cause?: unknown): void => {
    if (isLost || isReleased) return;
    isLost = true;
    clearInterval(timer);
    const err = new LockError('LOCK_LOST', `the run lease ${opts.where} was lost: ${why}`, { cause });
    opts.log.error('run lease lost; aborting the run', { lock: opts.where, error: why });
    opts.onLost(err);
  };
  const renew = async (): Promise<void> => {
    try {
      const next = await opts.write(false, { IfMatch: etag });
      if (next === null) return lose('another run wrote it (taken over after it expired?)');
      etag = next; // also when released meanwhile: the release writes on this etag
      renewedAt = Date.now();
    } catch (err) {
      // A failing gateway: keep trying until the lease would have expired for the others.
      if (Date.now() - renewedAt >= opts.leaseMs) lose(`not renewed for ${opts.leaseMs} ms`, err);
      else
        opts.log.warn('renewing the run lease failed; trying again', {
          lock: opts.where,
          error: String(err),
        });
    }
  };
  const timer = setInterval(() => {
    renewing ??= renew().finally(() => (renewing = null));
  }, opts.renewMs);
  timer.unref();
  return {
    path: opts.where,
    holder: opts.holder,
    release: async () => {
      if (isReleased) return;
      isReleased = true;
      clearInterval(timer);
      await renewing;
      if (isLost) return;
      await opts.write(true, { IfMatch: etag }).catch(() => null); // refused: someone took it already
      opts.log.debug('run lease released', { lock: opts.where });
    },
  };
}
