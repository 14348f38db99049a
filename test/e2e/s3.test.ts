// Issue #15 as a user meets it, through the built CLI against the real Ceph gateway: `check` on a config
// that names a bucket, with credentials from the AWS chain (the environment).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CephRgw } from '../helpers/ceph-rgw.js';
import { cephInstalled, requireCeph, startCephRgw } from '../helpers/ceph-rgw.js';
import { renderConfig } from '../helpers/daemon-config.js';
import { runCli } from '../helpers/run-cli.js';
import { cephConfigLines, cephEnv } from '../helpers/s3-storage.js';
import { makeTempDir } from '../helpers/tree.js';

let ceph: CephRgw | undefined;

before(async () => {
  if (cephInstalled()) ceph = await startCephRgw();
});
after(async () => {
  await ceph?.stop();
});

test('check shows the storage and proves it can list and write; bad credentials fail naming the code', async (t) => {
  if (!requireCeph(t) || ceph === undefined) return;
  const dir = await makeTempDir(t);
  const bucket = await ceph.createBucket();
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(config, renderConfig({ ...cephConfigLines(ceph, bucket), package_matches: 'demo' }));
  const ok = await runCli(['check', config], { env: cephEnv(ceph) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '', 'no warning either');
  assert.match(ok.stdout, new RegExp(`^storage = s3://${bucket}/simple$`, 'm'));
  assert.match(
    ok.stdout,
    new RegExp(
      `^# storage: s3://${bucket}/simple: listed \\(0 entries at the top\\) and wrote a test object$`,
      'm',
    ),
  );
  assert.doesNotMatch(ok.stdout + ok.stderr, new RegExp(ceph.secretAccessKey), 'the secret is never shown');
  const bad = await runCli(['check', config], {
    env: { ...cephEnv(ceph), AWS_SECRET_ACCESS_KEY: 'wrong' },
  });
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    new RegExp(`^pypimirror: s3://${bucket}/simple/: LIST failed: SignatureDoesNotMatch \\(HTTP 403\\)`, 'm'),
  );
});
