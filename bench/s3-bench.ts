// `npm run bench`: issue #15's line, a first sync into an S3 bucket (the real Ceph gateway of
// test/helpers/ceph-rgw.ts, memstore OSD) against the same sync to local disk, on the same projects. Skipped,
// with a note, where the Ceph daemons are not installed. The gateway's own CPU is not in the child's figures,
// so the row shows both ratios: wall, the whole cost, and CPU, the client's alone (the SDK's signing, its
// XML, the second PUT per page). On a machine shared with other jobs both move with the load; the wall
// ratio also with the gateway's share of the cores (README "Benchmark", the S3 lines).
import type { Check } from './checks.js';
import type { MeasureChild } from './scale.js';
import type { FakeUpstream } from '../test/helpers/fake-upstream.js';
import { cephInstalled, startCephRgw } from '../test/helpers/ceph-rgw.js';
import type { SyncChildRequest } from '../test/helpers/sync-child.js';

/** The two lines' scenarios. */
export const LOCAL_LINE = "first sync to local disk (the S3 line's reference)";
export const S3_LINE = 'first sync into an S3 bucket (Ceph RGW)';

/** Runs both syncs of `request` (to `localRoot`, then into a new bucket), adding their rows through `measure`. */
export async function benchS3(
  measure: MeasureChild,
  fake: FakeUpstream,
  request: SyncChildRequest,
  log: (msg: string) => void,
): Promise<void> {
  if (!cephInstalled()) {
    log('skipping the S3 line: ceph-mon, ceph-osd and radosgw are not installed');
    return;
  }
  const ceph = await startCephRgw();
  try {
    // The child's S3 client reads its credentials from the environment (the AWS chain).
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: ceph.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey,
    });
    const bucket = await ceph.createBucket('bench');
    const local = await measure(LOCAL_LINE, fake, request, ({ wall }) => ({
      checks: [{ target: 'reference for the S3 line', result: `${wall.toFixed(2)} s`, isMet: null }],
    }));
    const s3 = { bucket, prefix: 'simple', endpoint: ceph.endpoint, region: ceph.region };
    await measure(S3_LINE, fake, { ...request, s3 }, ({ result }) => ({
      checks: [
        ratio('wall vs local disk (reference)', result.wallMs, local.wallMs),
        ratio('client CPU vs local disk (reference)', result.cpuSeconds, local.cpuSeconds),
      ],
      notes: { files: result.report.filesFetched },
    }));
  } finally {
    await ceph.stop();
  }
}

/** A figure of the bucket's sync against local disk's (reported, not judged: #15 sets no target). */
function ratio(target: string, bucket: number, localDisk: number): Check {
  return { target, result: `${(bucket / localDisk).toFixed(2)} ×`, isMet: null };
}
