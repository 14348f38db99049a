// Issue #15's guarantees under failure, through the built CLI against the real Ceph gateway: a sync killed
// with SIGKILL at several instants (mid multipart upload, after the first pages, at once) leaves no page
// linking a missing object, and the next run leaves no multipart upload behind; two daemons on one bucket
// never sync at once, and when the writer is killed the other takes the lease over and syncs.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireCeph } from '../helpers/ceph-rgw.js';
import { startCli } from '../helpers/cli-process.js';
import { renderConfig } from '../helpers/daemon-config.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { runCli } from '../helpers/run-cli.js';
import {
  cephForFile,
  assertBucketConsistent,
  cephConfigLines,
  cephEnv,
  listBucket,
  multipartUploads,
} from '../helpers/s3-storage.js';
import { makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const cluster = cephForFile();

const BIG = 'big_pkg-1.0-py3-none-any.whl';

async function startFake(t: TestContext): Promise<FakeUpstream> {
  const fake = await startFakeUpstream({ latencyMs: 20 });
  t.after(() => fake.close());
  for (const name of ['alpha', 'beta', 'gamma', 'delta']) {
    fake.addProject(name, [buildWheel({ name, version: '1.0' }), buildWheel({ name, version: '2.0' })]);
  }
  fake.addProject('big-pkg', []);
  await fake.addBigFile('big-pkg', BIG, 20 << 20); // three 8 MiB parts: a multipart upload
  return fake;
}

test('a sync killed at several instants leaves a consistent bucket; the next run leaves no upload behind', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  const dir = await makeTempDir(t);
  const bucket = await ceph.createBucket();
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    renderConfig({ ...cephConfigLines(ceph, bucket), index_url: fake.url, workers: '2' }),
  );
  const env = cephEnv(ceph);
  const bigPath = new URL(fake.fileUrl('big-pkg', BIG)).pathname;
  const keysNow = () => listBucket(cluster.current!, bucket);
  const instants: [string, () => Promise<boolean>][] = [
    ['mid multipart upload', async () => (await multipartUploads(cluster.current!, bucket)).length > 0],
    [
      'after the first project pages',
      async () => (await keysNow()).some((k) => /^[a-z]+\/index\.html$/.test(k)),
    ],
    ['at once', async () => true],
  ];
  for (const [when, reached] of instants) {
    // The big file stalls half-way (after its first part went up) until the kill.
    fake.delay(bigPath, 60_000, { phase: 'body', times: 1 });
    const run = startCli(t, ['sync', config], { env });
    await waitFor(when, reached, { timeoutMs: 60_000, intervalMs: 50 });
    run.kill('SIGKILL');
    await run.waitForExit();
    await assertBucketConsistent(ceph, bucket, 'simple', `killed ${when}`);
    fake.clearFaults();
  }
  const last = await runCli(['sync', config], { env, timeoutMs: 120_000 });
  assert.equal(last.code, 0, last.stdout + last.stderr);
  await assertBucketConsistent(ceph, bucket, 'simple', 'after the next run');
  assert.deepEqual(await multipartUploads(ceph, bucket), [], 'no multipart upload left behind');
  assert.ok((await keysNow()).includes(`big-pkg/${BIG}`));
});

interface SyncSpan {
  readonly daemon: string;
  readonly start: number;
  readonly end: number;
}

/** The [sync started, summary] spans of a daemon's log file, by their timestamps. */
async function syncSpans(daemon: string, logFile: string): Promise<SyncSpan[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const spans: SyncSpan[] = [];
  let start: number | null = null;
  for (const line of text.split('\n')) {
    const at = Date.parse(line.split(' ')[0] ?? '');
    if (line.includes('sync started')) start = at;
    else if (/projects checked/.test(line) && start !== null) {
      spans.push({ daemon, start, end: at });
      start = null;
    }
  }
  return spans;
}

test('two daemons on one bucket never sync at once; when the writer is killed, the other takes over', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  fake.latencyMs = 60; // syncs long enough to overlap if nothing kept them apart
  const dir = await makeTempDir(t);
  const bucket = await ceph.createBucket();
  const env = cephEnv(ceph);
  const daemons = ['a', 'b'].map((name) => ({
    name,
    config: join(dir, `${name}.cfg`),
    log: join(dir, `${name}.log`),
  }));
  for (const d of daemons) {
    await writeFile(
      d.config,
      renderConfig({
        ...cephConfigLines(ceph, bucket),
        index_url: fake.url,
        sync_interval: '200ms',
        log_filename: d.log,
      }),
    );
  }
  const procs = daemons.map((d) => startCli(t, ['run', d.config], { env }));
  const allSpans = async () => (await Promise.all(daemons.map((d) => syncSpans(d.name, d.log)))).flat();
  await waitFor('six syncs between the two daemons', async () => (await allSpans()).length >= 6, {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  const spans = (await allSpans()).sort((x, y) => x.start - y.start);
  for (let i = 1; i < spans.length; i++) {
    const [before, next] = [spans[i - 1]!, spans[i]!];
    assert.ok(next.start >= before.end, `overlap: ${JSON.stringify(before)} and ${JSON.stringify(next)}`);
  }
  const refused = procs.map((p) => p.output()).join('\n');
  assert.match(
    refused,
    /another pypimirror run holds the lock s3:\/\/[^ ]+\/simple\/\.pypimirror\/lease: pid \d+ on host /,
  );

  // Kill the writer mid-sync: the other takes over at once (its holder's pid is gone on this host).
  const writer = await waitFor('a daemon in the middle of a sync', async () => {
    for (const [i, d] of daemons.entries()) {
      const text = await readFile(d.log, 'utf8').catch(() => '');
      if (text.lastIndexOf('sync started') > text.lastIndexOf('projects checked')) return { i, d };
    }
    return null;
  });
  procs[writer.i]!.kill('SIGKILL');
  await procs[writer.i]!.waitForExit();
  const survivor = daemons[1 - writer.i]!;
  const survivorProc = procs[1 - writer.i]!;
  await survivorProc.waitForOutput(/taking over the run lease of a process that no longer exists/, 60_000);
  fake.addFile('alpha', buildWheel({ name: 'alpha', version: '3.0' }));
  await waitFor(
    'the survivor to sync the new release',
    async () => (await listBucket(cluster.current!, bucket)).includes('alpha/alpha-3.0-py3-none-any.whl'),
    {
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );
  await assertBucketConsistent(ceph, bucket);
  survivorProc.kill('SIGTERM');
  const exit = await survivorProc.waitForExit(30_000);
  assert.equal(exit.code, 0, survivorProc.output());
  assert.ok((await syncSpans(survivor.name, survivor.log)).length > 0);
});
