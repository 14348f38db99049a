// Issue #15 as a user meets it, through the built CLI against the real Ceph gateway, credentials from the
// AWS chain (the environment): `check` on a config that names a bucket; a first, a no-op and an incremental
// sync into it; pip installing a package and its dependencies straight from the gateway; an object
// corrupted behind pypimirror's back found by `verify --deep` and healed by `--repair`; `migrate` of a local
// tree into the bucket, after which a sync fetches nothing.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { requireCeph } from '../helpers/ceph-rgw.js';
import { renderConfig } from '../helpers/daemon-config.js';
import { startNginxForBucket } from '../helpers/nginx-s3.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTool } from '../helpers/web-servers.js';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import {
  cephForFile,
  allowPublicRead,
  assertBucketConsistent,
  cephConfigLines,
  cephEnv,
  listBucket,
  multipartUploads,
} from '../helpers/s3-storage.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { makeTempDir } from '../helpers/tree.js';

const cluster = cephForFile();

test('check shows the storage and proves it can list and write; bad credentials fail naming the code', async (t) => {
  const ceph = cluster.current;
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

/** A config syncing `fake` into a new bucket under simple/; its path and the bucket. */
async function bucketConfig(
  t: TestContext,
  fake: FakeUpstream,
  extra: Record<string, string> = {},
): Promise<{ config: string; bucket: string; dir: string }> {
  const dir = await makeTempDir(t);
  const bucket = await cluster.current!.createBucket();
  const config = join(dir, 'pypimirror.cfg');
  await writeFile(
    config,
    renderConfig({ ...cephConfigLines(cluster.current!, bucket), index_url: fake.url, ...extra }),
  );
  return { config, bucket, dir };
}

async function startFake(t: TestContext): Promise<FakeUpstream> {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  seedCatalogue(fake);
  return fake;
}

const isFile = (path: string): boolean => /\.(whl|tar\.gz|zip)$/.test(path);

test('a first, a no-op and an incremental sync into the bucket; pip installs from the gateway', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  const { config, bucket, dir } = await bucketConfig(t, fake, {
    package_matches: 'demo-app demo-lib foo-bar',
  });
  const env = cephEnv(ceph);
  const first = await runCli(['sync', config], { env, timeoutMs: 120_000 });
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /3 projects checked, 3 changed, 5 files \([^)]+\) fetched/);
  const keys = await listBucket(ceph, bucket);
  for (const key of [
    '',
    'index.html',
    'index.v1_json',
    'demo-app/',
    'demo-app/index.html',
    'demo-lib/index.v1_json',
  ]) {
    assert.ok(keys.includes(key), `${key} in ${keys.join(' ')}`);
  }
  assert.ok(keys.includes('.pypimirror/state.json'), 'the state is in the bucket');
  await assertBucketConsistent(ceph, bucket);
  const client = ceph.client();
  t.after(() => client.destroy());
  const wheel = await client.send(
    new HeadObjectCommand({ Bucket: bucket, Key: 'simple/demo-lib/demo_lib-1.0-py3-none-any.whl' }),
  );
  assert.match(wheel.Metadata?.['sha256'] ?? '', /^[0-9a-f]{64}$/);
  assert.equal(wheel.ContentType, 'application/zip');

  fake.resetLog();
  const noop = await runCli(['sync', config], { env, timeoutMs: 60_000 });
  assert.equal(noop.code, 0, noop.stdout + noop.stderr);
  assert.match(noop.stdout, /0 changed, 0 files \(0 B\) fetched/);
  assert.deepEqual(
    fake.requests.filter((r) => isFile(r.path)),
    [],
    'a no-op fetches no file',
  );

  fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1', requiresDist: ['foo_bar'] }));
  const incremental = await runCli(['sync', config], { env, timeoutMs: 60_000 });
  assert.equal(incremental.code, 0, incremental.stdout + incremental.stderr);
  assert.match(incremental.stdout, /1 changed, 1 files \([^)]+\) fetched/);
  await assertBucketConsistent(ceph, bucket);
  assert.deepEqual(await multipartUploads(ceph, bucket), []);

  if (!requirePip(t)) return;
  await allowPublicRead(ceph, bucket);
  const target = join(dir, 'site');
  await mkdir(target);
  const pip = await pipInstall({
    indexUrl: `${ceph.endpoint}/${bucket}/simple/`,
    target,
    packages: ['demo-app'],
  });
  assert.equal(pip.code, 0, describePipResult(pip));
  assert.deepEqual(await installedDists(target), { 'demo-app': '2.0', 'demo-lib': '1.1', 'foo-bar': '1.0' });
});

test('an object overwritten behind pypimirror is found by verify --deep and healed by --repair', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  const { config, bucket } = await bucketConfig(t, fake, { package_matches: 'foo-bar' });
  const env = cephEnv(ceph);
  assert.equal((await runCli(['sync', config], { env, timeoutMs: 60_000 })).code, 0);
  const key = 'simple/foo-bar/foo_bar-1.0-py3-none-any.whl';
  const client = ceph.client();
  t.after(() => client.destroy());
  const original = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await original.Body!.transformToByteArray());
  const rotten = Buffer.from(bytes);
  rotten[rotten.length >> 1] = (rotten[rotten.length >> 1] ?? 0) ^ 0xff; // same size and metadata: only the bytes tell
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: rotten, Metadata: original.Metadata ?? {} }),
  );
  const shallow = await runCli(['verify', config], { env, timeoutMs: 60_000 });
  assert.equal(shallow.code, 0, `the metadata still matches: ${shallow.stdout}${shallow.stderr}`);
  const deep = await runCli(['verify', config, '--deep'], { env, timeoutMs: 60_000 });
  assert.equal(deep.code, 1, deep.stdout + deep.stderr);
  assert.match(deep.stdout + deep.stderr, /foo_bar-1\.0-py3-none-any\.whl/);
  const repair = await runCli(['verify', config, '--deep', '--repair'], { env, timeoutMs: 60_000 });
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  const again = await runCli(['verify', config, '--deep'], { env, timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const healed = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  assert.deepEqual(Buffer.from(await healed.Body!.transformToByteArray()), bytes);
});

test('migrate moves a local tree into the bucket, verifying every file, and a sync then fetches nothing', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  const {
    config: s3Config,
    bucket,
    dir,
  } = await bucketConfig(t, fake, { package_matches: 'demo-app demo-lib foo-bar' });
  const localConfig = join(dir, 'local.cfg');
  await writeFile(
    localConfig,
    renderConfig({
      mirror_file_path: join(dir, 'mirror'),
      index_url: fake.url,
      package_matches: 'demo-app demo-lib foo-bar',
    }),
  );
  const env = cephEnv(ceph);
  assert.equal((await runCli(['sync', localConfig], { env, timeoutMs: 60_000 })).code, 0);
  const moved = await runCli(['migrate', localConfig, s3Config], { env, timeoutMs: 120_000 });
  assert.equal(moved.code, 0, moved.stdout + moved.stderr);
  assert.match(
    moved.stdout,
    /migrate finished: \d+ files copied \(\d+ bytes\), 0 already in place, 0 not verified/,
  );
  await assertBucketConsistent(ceph, bucket);
  fake.resetLog();
  const resync = await runCli(['sync', s3Config], { env, timeoutMs: 60_000 });
  assert.equal(resync.code, 0, resync.stdout + resync.stderr);
  assert.match(resync.stdout, /0 files \(0 B\) fetched/);
  assert.deepEqual(
    fake.requests.filter((r) => isFile(r.path)),
    [],
    'nothing downloaded again',
  );
  const back = join(dir, 'back.cfg');
  await writeFile(back, renderConfig({ mirror_file_path: join(dir, 'back'), index_url: fake.url }));
  const returned = await runCli(['migrate', s3Config, back], { env, timeoutMs: 120_000 });
  assert.equal(returned.code, 0, returned.stdout + returned.stderr);
});

test('export, import and find_links_dir refuse a bucket (exit 2), naming it, and leave no local lock', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined) return;
  const fake = await startFake(t);
  const keys = join(await makeTempDir(t), 'keys');
  assert.equal((await runCli(['keygen', keys])).code, 0);
  const { config, bucket, dir } = await bucketConfig(t, fake, {
    package_matches: 'foo-bar',
    bundle_private_key: join(keys, 'bundle.key'),
    bundle_public_key: join(keys, 'bundle.pub'),
  });
  const env = cephEnv(ceph);
  const where = `s3://${bucket}/simple`;
  const exported = await runCli(['export', config, join(dir, 'out')], { env, cwd: dir });
  assert.equal(exported.code, 2, exported.stdout + exported.stderr);
  assert.match(
    exported.stdout + exported.stderr,
    new RegExp(`storage = "${where}": a mirror on this machine's file system: export needs one`),
  );
  await mkdir(join(dir, 'in'));
  const imported = await runCli(['import', config, join(dir, 'in')], { env, cwd: dir });
  assert.equal(imported.code, 2, imported.stdout + imported.stderr);
  assert.match(imported.stdout + imported.stderr, /import needs one/);
  await writeFile(config, `${await readFile(config, 'utf8')}find_links_dir = ${join(dir, 'flat')}\n`);
  const synced = await runCli(['sync', config], { env, cwd: dir });
  assert.equal(synced.code, 2, synced.stdout + synced.stderr);
  assert.match(
    synced.stdout + synced.stderr,
    /find_links_dir = .*: needs the mirror on this machine's file system/,
  );
  assert.match(
    synced.stdout + synced.stderr,
    new RegExp(`storage = ${where}; expected find_links_dir unset`),
  );
  const written = (await readdir(dir)).filter((name) => name.startsWith('s3'));
  assert.deepEqual(written, [], 'no s3: directory beside the config');
});

test('nginx in front of the bucket (samples/nginx-s3.conf): content negotiation, pip, the state hidden', async (t) => {
  const ceph = cluster.current;
  if (!requireCeph(t) || ceph === undefined || !requireTool(t, 'nginx') || !requirePip(t)) return;
  const fake = await startFake(t);
  const { config, bucket, dir } = await bucketConfig(t, fake, {
    package_matches: 'demo-app demo-lib foo-bar',
  });
  assert.equal((await runCli(['sync', config], { env: cephEnv(ceph), timeoutMs: 60_000 })).code, 0);
  await allowPublicRead(ceph, bucket);
  const nginx = await startNginxForBucket(ceph, bucket, await makeTempDir(t));
  t.after(() => nginx.stop());
  const json = await fetch(`${nginx.url}demo-lib/`, {
    headers: { Accept: 'application/vnd.pypi.simple.v1+json' },
  });
  assert.equal(json.status, 200, await nginx.readErrorLog());
  assert.equal(json.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json');
  assert.equal(((await json.json()) as { name: string }).name, 'demo-lib');
  const html = await fetch(`${nginx.url}demo-lib/`);
  assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(await html.text(), /demo_lib-1\.0-py3-none-any\.whl/);
  assert.equal((await fetch(`${nginx.url}.pypimirror/state.json`)).status, 404);
  const target = join(dir, 'site');
  await mkdir(target);
  const pip = await pipInstall({ indexUrl: nginx.url, target, packages: ['demo-app'] });
  assert.equal(pip.code, 0, describePipResult(pip));
  assert.deepEqual(await installedDists(target), { 'demo-app': '2.0', 'demo-lib': '1.0', 'foo-bar': '1.0' });
});
