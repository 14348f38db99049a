// The fake upstream's faults on demand, redirects of files, ranges, throttling, and the request log.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import type { FakeUpstream, FakeUpstreamOptions } from '../helpers/fake-upstream.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';

const FILE = 'foo_bar-1.0.tar.gz';
const HEX64 = /^[0-9a-f]{64}$/;

async function start(t: { after(fn: () => Promise<void>): void }, options: FakeUpstreamOptions = {}) {
  const fake = await startFakeUpstream(options);
  t.after(() => fake.close());
  fake.addProject('foo_bar', [
    buildSdist({ name: 'foo_bar', version: '1.0' }),
    buildWheel({ name: 'foo_bar', version: '1.0' }),
  ]);
  return fake;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The whole body, or the error that reading it raised. */
/** GET as sent (fetch would ask for gzip and decode it): the bytes the faults act on. */
async function download(
  url: string,
  init: RequestInit = {},
): Promise<{ res: Response; body: Buffer | Error }> {
  const res = await fetch(url, { ...init, headers: { 'accept-encoding': 'identity', ...init.headers } });
  try {
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  } catch (error) {
    return { res, body: error as Error };
  }
}

const lastEntry = (fake: FakeUpstream) => fake.requests.at(-1);

test('fail: 5xx/429 with Retry-After for `times` requests, then normal service', async (t) => {
  const fake = await start(t);
  const url = fake.fileUrl('foo_bar', FILE);
  fake.fail(url, { status: 503, times: 2, retryAfter: 7 });
  fake.fail('/simple/foo-bar/', { status: 429, times: 1 });
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    await res.arrayBuffer();
  }
  const ok = await download(url);
  assert.equal(ok.res.status, 200);
  assert.equal(sha256(ok.body as Buffer), fake.sha256('foo_bar', FILE));
  assert.deepEqual(
    fake.requests.map((r) => r.status),
    [503, 503, 200],
  );
  assert.equal((await fetch(fake.projectUrl('foo_bar'))).status, 429);
  assert.equal((await fetch(fake.projectUrl('foo_bar'))).status, 200);
});

test('reset: the socket dies mid-headers (fetch rejects) or mid-body (the body read fails)', async (t) => {
  const fake = await start(t);
  const url = fake.fileUrl('foo_bar', FILE);
  fake.reset(url, { times: 1 });
  await assert.rejects(fetch(url), TypeError);
  assert.equal(lastEntry(fake)?.status, 0);
  assert.equal(lastEntry(fake)?.fault, 'reset');

  fake.reset(url, { times: 1, phase: 'body' });
  const cut = await download(url);
  assert.equal(cut.res.status, 200);
  assert.ok(cut.body instanceof Error, 'body read must fail');
  assert.equal(lastEntry(fake)?.bytesSent, Math.floor(fake.file('foo_bar', FILE).size / 2));
  assert.equal(lastEntry(fake)?.aborted, true);
  assert.equal((await download(url)).res.status, 200);
});

test('truncate: full Content-Length, part of the body, then the connection ends', async (t) => {
  const fake = await start(t);
  const url = fake.fileUrl('foo_bar', FILE);
  const size = fake.file('foo_bar', FILE).size;
  fake.truncate(url, { times: 1 });
  fake.truncate(/\.whl$/, { bytes: 10 });
  const cut = await download(url);
  assert.equal(Number(cut.res.headers.get('content-length')), size);
  assert.ok(cut.body instanceof Error);
  assert.equal(lastEntry(fake)?.bytesSent, Math.floor(size / 2));
  const wheel = await download(fake.fileUrl('foo_bar', 'foo_bar-1.0-py3-none-any.whl'));
  assert.ok(wheel.body instanceof Error);
  assert.equal(lastEntry(fake)?.bytesSent, 10);
  assert.equal(sha256((await download(url)).body as Buffer), fake.sha256('foo_bar', FILE));
});

test('corrupt: right length, wrong bytes (files and pages)', async (t) => {
  const fake = await start(t);
  const url = fake.fileUrl('foo_bar', FILE);
  fake.corrupt((path) => path.endsWith('.tar.gz'), { times: 1 });
  const bad = await download(url);
  assert.ok(Buffer.isBuffer(bad.body));
  assert.equal(bad.body.length, fake.file('foo_bar', FILE).size);
  assert.notEqual(sha256(bad.body), fake.sha256('foo_bar', FILE));
  assert.equal(sha256((await download(url)).body as Buffer), fake.sha256('foo_bar', FILE));

  const pageUrl = fake.projectUrl('foo_bar');
  fake.corrupt('/simple/foo-bar/', { times: 1 });
  const corrupted = (await download(pageUrl)).body as Buffer;
  const good = (await download(pageUrl)).body as Buffer;
  assert.equal(corrupted.length, good.length);
  assert.equal(corrupted.filter((byte, i) => byte !== good[i]).length, 1, 'exactly one byte differs');
});

test('delay before headers or mid-body, latencyMs on every response, throttling', async (t) => {
  const fake = await start(t, { latencyMs: 30 });
  const url = fake.fileUrl('foo_bar', FILE);
  let t0 = performance.now();
  await download(fake.url);
  assert.ok(performance.now() - t0 >= 25, 'latency applies');

  fake.delay(url, 200, { times: 1 });
  t0 = performance.now();
  const res = await fetch(url);
  assert.ok(performance.now() - t0 >= 190, 'headers delayed');
  await res.arrayBuffer();

  fake.delay(url, 200, { times: 1, phase: 'body' });
  t0 = performance.now();
  const slow = await fetch(url);
  const headersAfter = performance.now() - t0;
  assert.equal(sha256(Buffer.from(await slow.arrayBuffer())), fake.sha256('foo_bar', FILE));
  assert.ok(headersAfter < 150 && performance.now() - t0 >= 220, 'body paused, headers not');

  fake.latencyMs = 0;
  fake.throttle(url, 4000, { times: 1 }); // ~1.3 KB at 4 KB/s ≈ 330 ms
  t0 = performance.now();
  await download(url);
  assert.ok(performance.now() - t0 >= 250);
  fake.delay(url, 5000);
  fake.clearFaults();
  t0 = performance.now();
  await download(url);
  assert.ok(performance.now() - t0 < 1000, 'clearFaults removes faults');
});

test('a throttled big download stays in flight and the log shows when the client gives up', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  const file = await fake.addBigFile('big', 'big-1.0.tar.gz', 64 * 1024 * 1024, {
    throttleBytesPerSec: 1024 * 1024,
  });
  const controller = new AbortController();
  const res = await fetch(fake.fileUrl('big', file.filename), { signal: controller.signal });
  const reading = res.arrayBuffer().catch((error: unknown) => error);
  const entry = await fake.waitForRequest(
    (r) => r.path.endsWith(file.filename) && r.bytesSent >= 200_000,
    5000,
  );
  assert.equal(fake.inFlight(), 1);
  controller.abort();
  assert.ok((await reading) instanceof Error);
  for (let i = 0; i < 200 && entry.endedAt === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(entry.aborted, true);
  assert.ok(entry.bytesSent < 4 * 1024 * 1024, `sent ${entry.bytesSent}`);
  assert.equal(fake.inFlight(), 0);
});

test('maxConcurrent: overlapping requests are counted, sequential ones are not', async (t) => {
  const fake = await start(t);
  fake.delay('/simple/foo-bar/', 100);
  await Promise.all([1, 2, 3].map(() => download(fake.projectUrl('foo_bar'))));
  assert.equal(fake.maxConcurrent(), 3);
  fake.resetLog();
  for (let i = 0; i < 3; i++) await download(fake.projectUrl('foo_bar'));
  assert.equal(fake.maxConcurrent(), 1);
  assert.equal(
    fake.maxConcurrent((r) => r.path === '/nothing'),
    0,
  );
  assert.equal(fake.requests.length, 3);
  const entry = fake.requests[0];
  assert.ok(entry !== undefined && entry.endedAt !== undefined && entry.endedAt - entry.startedAt >= 95);
  assert.equal(entry.headers['accept'], '*/*');
  assert.equal(
    fake.bytesSent(),
    fake.bytesSent((r) => r.path === '/simple/foo-bar/'),
  );
});

test('redirectFiles: pages link /files/…, which 302s to /packages/…; ranges on files', async (t) => {
  const fake = await start(t, { redirectFiles: true });
  const url = fake.fileUrl('foo_bar', FILE);
  assert.match(url, /\/files\/foo-bar\/foo_bar-1\.0\.tar\.gz$/);
  const hop = await fetch(url, { redirect: 'manual' });
  assert.equal(hop.status, 302);
  assert.equal(hop.headers.get('location'), fake.packagesPath('foo_bar', FILE));
  const followed = await download(url);
  assert.equal(sha256(followed.body as Buffer), fake.sha256('foo_bar', FILE));
  const meta = await fetch(fake.fileUrl('foo_bar', 'foo_bar-1.0-py3-none-any.whl') + '.metadata', {
    redirect: 'manual',
  });
  assert.match(meta.headers.get('location') ?? '', /^\/packages\/.+\.whl\.metadata$/);

  const size = fake.file('foo_bar', FILE).size;
  const whole = followed.body as Buffer;
  const tail = await download(url, { headers: { range: 'bytes=100-' } });
  assert.equal(tail.res.status, 206);
  assert.deepEqual(tail.body, whole.subarray(100));
  const suffix = await download(url, { headers: { range: 'bytes=-10' } });
  assert.deepEqual(suffix.body, whole.subarray(size - 10));
  const beyond = await fetch(url, { headers: { range: `bytes=${size}-` } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), `bytes */${size}`);

  const noRanges = await start(t, { ranges: false });
  const full = await fetch(noRanges.fileUrl('foo_bar', FILE), { headers: { range: 'bytes=100-' } });
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('accept-ranges'), null);
});

test('freezePage: a lagging CDN keeps serving the old page and serial until the freeze runs out', async (t) => {
  const fake = await start(t);
  const accept = { accept: 'application/vnd.pypi.simple.v1+json' };
  const read = async (url: string): Promise<[string | null, string]> => {
    const res = await fetch(url, { headers: accept });
    return [res.headers.get('x-pypi-last-serial'), await res.text()];
  };
  const before = await read(fake.projectUrl('foo_bar'));
  const rootBefore = await read(fake.url);
  fake.freezePage('foo_bar', { times: 2 });
  fake.freezePage(null);
  fake.addFile('foo_bar', buildWheel({ name: 'foo_bar', version: '1.1' }));
  assert.deepEqual(await read(fake.projectUrl('foo_bar')), before);
  assert.deepEqual(await read(fake.projectUrl('foo_bar')), before);
  const after = await read(fake.projectUrl('foo_bar'));
  assert.equal(after[0], String(fake.serial));
  assert.match(after[1], /foo_bar-1\.1-py3-none-any\.whl/);
  assert.deepEqual(await read(fake.url), rootBefore);
  fake.clearFaults();
  assert.equal((await read(fake.url))[0], String(fake.serial));
});

test('a 256 MiB generated file streams without being buffered', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  const size = 256 * 1024 * 1024;
  const file = await fake.addBigFile('big', 'big-1.0.tar.gz', size);
  assert.match(file.sha256, HEX64);
  const again = await startFakeUpstream();
  t.after(() => again.close());
  assert.equal((await again.addBigFile('big', 'big-1.0.tar.gz', size)).sha256, file.sha256, 'deterministic');

  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  t.after(() => clearInterval(sampler));
  const res = await fetch(fake.fileUrl('big', 'big-1.0.tar.gz'));
  assert.equal(Number(res.headers.get('content-length')), size);
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    received += chunk.length;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  clearInterval(sampler);
  assert.equal(received, size);
  assert.equal(hash.digest('hex'), file.sha256);
  assert.equal(fake.bytesSent(), size);
  const growthMiB = (peak - baseline) / 1024 / 1024;
  assert.ok(growthMiB < 100, `RSS grew ${growthMiB.toFixed(1)} MiB while streaming 256 MiB`);

  const range = await fetch(fake.fileUrl('big', 'big-1.0.tar.gz'), {
    headers: { range: 'bytes=65536-65551' },
  });
  assert.equal(range.status, 206);
  assert.equal(range.headers.get('content-range'), `bytes 65536-65551/${size}`);
  const slice = Buffer.from(await range.arrayBuffer());
  assert.equal(slice.readBigUInt64BE(0), 1n, 'each 64 KiB block starts with its index');
});
