// The verified file store (downloadVerified): what reaches the target, and that nothing does when the body,
// the digest, the size, the caller or the disk fails. A scripted Upstream feeds the bodies, so each test
// controls every chunk; the last test fills the disk for real (a file-size limit on a sync in a child).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IntegrityError, StoreError } from '../../src/errors.js';
import { LARGE_FILE_BYTES } from '../../src/storage/sink.js';
import { downloadVerified, receiveVerified } from '../../src/mirror/store.js';
import type { Upstream } from '../../src/model/upstream.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import type { SyncChildRequest, SyncChildResult } from '../helpers/sync-child.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const CHILD = fileURLToPath(new URL('../helpers/sync-child.js', import.meta.url));
const URL_ = 'https://files.example/demo-1.0.tar.gz';

/** `count` distinct chunks of `size` bytes, as a socket would deliver them. */
function chunks(count: number, size = 64 * 1024): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));
}

function sha256(parts: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest('hex');
}

/** An Upstream whose fetchFile answers `body` with Content-Length `size` (null: none announced). */
function scripted(body: () => Readable, size: number | null): Upstream {
  return {
    fetchFile: () => Promise.resolve({ body: body(), size }),
  } as unknown as Upstream;
}

async function dirEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

test('a body of many chunks lands whole, with its sha256, and no temp file is left', async (t) => {
  const dir = await makeTempDir(t);
  // 40 MiB: more than one background flush (every 32 MiB) happens while the body streams.
  const parts = chunks(640);
  const size = parts.reduce((n, p) => n + p.length, 0);
  const hex = sha256(parts);
  const target = join(dir, 'demo-1.0.tar.gz');
  const stored = await downloadVerified(
    scripted(() => Readable.from(parts), size),
    URL_,
    createLocalStorage(dirname(target)),
    basename(target),
    { hashes: { sha256: hex }, size },
    new AbortController().signal,
  );
  assert.deepEqual(stored, { sha256: hex, size, verifiedWith: 'sha256' });
  assert.equal(
    createHash('sha256')
      .update(await readFile(target))
      .digest('hex'),
    hex,
  );
  assert.deepEqual(await dirEntries(dir), ['demo-1.0.tar.gz']);
});

test('a body longer than the index says is stopped at the excess byte and publishes nothing', async (t) => {
  const dir = await makeTempDir(t);
  const parts = chunks(8);
  const size = parts.reduce((n, p) => n + p.length, 0);
  let pulled = 0;
  // No Content-Length (chunked), and the body runs on past the size: only the byte count can catch it.
  const endless = (): Readable =>
    new Readable({
      read() {
        pulled++;
        this.push(Buffer.alloc(64 * 1024, pulled % 251));
      },
    });
  await assert.rejects(
    downloadVerified(
      scripted(endless, null),
      URL_,
      createLocalStorage(dirname(join(dir, 'demo-1.0.tar.gz'))),
      basename(join(dir, 'demo-1.0.tar.gz')),
      { hashes: { sha256: sha256(parts) }, size },
      new AbortController().signal,
    ),
    (err: unknown) =>
      err instanceof IntegrityError &&
      err.code === 'INTEGRITY_SIZE' &&
      err.message.includes(`more than the expected ${size} bytes`),
  );
  assert.ok(pulled < 20, `stopped soon after the excess (pulled ${pulled} chunks for 8 expected)`);
  assert.deepEqual(await dirEntries(dir), []);
});

test('a wrong digest, a short body, a failing body and an abort each leave the directory as it was', async (t) => {
  const dir = await makeTempDir(t);
  const parts = chunks(20);
  const size = parts.reduce((n, p) => n + p.length, 0);
  const good = sha256(parts);
  const target = join(dir, 'demo-1.0.tar.gz');
  const run = (upstream: Upstream, hex: string, signal = new AbortController().signal): Promise<unknown> =>
    downloadVerified(
      upstream,
      URL_,
      createLocalStorage(dirname(target)),
      basename(target),
      { hashes: { sha256: hex }, size },
      signal,
    );

  await assert.rejects(
    run(
      scripted(() => Readable.from(parts), size),
      '0'.repeat(64),
    ),
    /sha256 is [0-9a-f]{64}, expected 0{64}/,
  );
  assert.deepEqual(await dirEntries(dir), []);

  await assert.rejects(
    run(
      scripted(() => Readable.from(parts.slice(0, 5)), null),
      good,
    ),
    /got 327680 bytes, expected 1310720/,
  );
  assert.deepEqual(await dirEntries(dir), []);

  const failing = (): Readable =>
    Readable.from(
      (async function* () {
        yield* parts.slice(0, 10);
        throw new Error('connection reset by peer');
      })(),
    );
  await assert.rejects(run(scripted(failing, size), good), /connection reset by peer/);
  assert.deepEqual(await dirEntries(dir), []);

  const controller = new AbortController();
  const stalled = (): Readable => {
    const body = new Readable({ read() {} });
    body.push(parts[0]);
    // As undici does: an abort destroys the body with the signal's reason.
    controller.signal.addEventListener('abort', () => body.destroy(controller.signal.reason as Error));
    setImmediate(() => controller.abort(new Error('stop requested')));
    return body;
  };
  await assert.rejects(run(scripted(stalled, size), good, controller.signal));
  assert.deepEqual(await dirEntries(dir), []);

  // The same target then downloads fine: nothing was left in the way.
  await run(
    scripted(() => Readable.from(parts), size),
    good,
  );
  assert.deepEqual(await dirEntries(dir), ['demo-1.0.tar.gz']);
});

test('large files (slots, hashing thread, O_DIRECT): sha512-only, wrong digest, abort, three at once', async (t) => {
  const dir = await makeTempDir(t);
  // 12 MiB and 1000 bytes: above LARGE_FILE_BYTES, so the file goes through slots.ts; its last slot is part
  // full, and written through the ordinary descriptor.
  const parts = [...chunks(192), Buffer.alloc(1000, 9)];
  const size = parts.reduce((n, p) => n + p.length, 0);
  assert.ok(size >= LARGE_FILE_BYTES);
  const signal = new AbortController().signal;
  const body = (): Readable => Readable.from(parts);
  const sha512 = parts.reduce((h, p) => h.update(p), createHash('sha512')).digest('hex');

  // Only a sha512 upstream: checked with it, and the stored sha256 is still that of the bytes.
  const viaSha512 = await downloadVerified(
    scripted(body, size),
    URL_,
    createLocalStorage(dirname(join(dir, 'a.whl'))),
    basename(join(dir, 'a.whl')),
    { hashes: { sha512 }, size },
    signal,
  );
  assert.deepEqual(viaSha512, { sha256: sha256(parts), size, verifiedWith: 'sha512' });
  assert.ok((await readFile(join(dir, 'a.whl'))).equals(Buffer.concat(parts)), 'a.whl holds the bytes');

  await assert.rejects(
    downloadVerified(
      scripted(body, size),
      URL_,
      createLocalStorage(dirname(join(dir, 'b.whl'))),
      basename(join(dir, 'b.whl')),
      { hashes: { sha512: '0'.repeat(128) }, size },
      signal,
    ),
    (err: unknown) =>
      err instanceof IntegrityError && err.code === 'INTEGRITY_HASH' && /expected 0{128}/.test(err.message),
  );

  const controller = new AbortController();
  const halfThenStop = (): Readable => {
    const stream = new Readable({ read() {} });
    for (const p of parts.slice(0, 96)) stream.push(p);
    controller.signal.addEventListener('abort', () => stream.destroy(controller.signal.reason as Error));
    setTimeout(() => controller.abort(new Error('stop requested')), 20);
    return stream;
  };
  await assert.rejects(
    downloadVerified(
      scripted(halfThenStop, size),
      URL_,
      createLocalStorage(dirname(join(dir, 'c.whl'))),
      basename(join(dir, 'c.whl')),
      { hashes: { sha512 }, size },
      controller.signal,
    ),
    /aborted/,
  );
  assert.deepEqual(await dirEntries(dir), ['a.whl']);

  // Three at once share the thread; each gets the digest of its own bytes.
  const others = [1, 2, 3].map((n) => parts.map((p) => Buffer.alloc(p.length, (p[0] as number) ^ n)));
  const stored = await Promise.all(
    others.map((own, i) =>
      downloadVerified(
        scripted(() => Readable.from(own), size),
        URL_,
        createLocalStorage(dirname(join(dir, `d${i}.whl`))),
        basename(join(dir, `d${i}.whl`)),
        { hashes: { sha256: sha256(own) }, size },
        signal,
      ),
    ),
  );
  assert.deepEqual(
    stored.map((s) => s.sha256),
    others.map((own) => sha256(own)),
  );
  assert.deepEqual(await dirEntries(dir), ['a.whl', 'd0.whl', 'd1.whl', 'd2.whl']);
  for (const [i, own] of others.entries()) {
    assert.ok(
      (await readFile(join(dir, `d${i}.whl`))).equals(Buffer.concat(own)),
      `d${i}.whl holds its bytes`,
    );
  }
});

test('receiveVerified leaves a verified temp file; publish renames it into place, discard removes it', async (t) => {
  const dir = await makeTempDir(t);
  const parts = chunks(4);
  const size = parts.reduce((n, p) => n + p.length, 0);
  const expected = { hashes: { sha256: sha256(parts) }, size };
  const upstream = scripted(() => Readable.from(parts), size);
  const signal = new AbortController().signal;

  const received = await receiveVerified(
    upstream,
    URL_,
    createLocalStorage(dir),
    'demo-1.0.tar.gz',
    expected,
    signal,
  );
  assert.equal(received.sha256, expected.hashes.sha256);
  const [temp, ...rest] = await dirEntries(dir);
  assert.deepEqual(rest, [], 'only the temp file, not the target, before publish');
  assert.match(temp ?? '', /^\.demo-1\.0\.tar\.gz\..*\.tmp$/);
  assert.deepEqual(await received.publish(), {
    sha256: expected.hashes.sha256,
    size,
    verifiedWith: 'sha256',
  });
  assert.deepEqual(await dirEntries(dir), ['demo-1.0.tar.gz']);

  const dropped = await receiveVerified(
    upstream,
    URL_,
    createLocalStorage(dir),
    'demo-2.0.tar.gz',
    expected,
    signal,
  );
  await dropped.discard();
  assert.deepEqual(await dirEntries(dir), ['demo-1.0.tar.gz']);
});

test('a failed request removes the temp file that opened while it waited', async (t) => {
  const dir = await makeTempDir(t);
  const failing = {
    fetchFile: () => new Promise((_, reject) => setTimeout(() => reject(new Error('503 after retries')), 20)),
  } as unknown as Upstream;
  await assert.rejects(
    receiveVerified(
      failing,
      URL_,
      createLocalStorage(dirname(join(dir, 'demo-1.0.tar.gz'))),
      basename(join(dir, 'demo-1.0.tar.gz')),
      { hashes: {}, size: null },
      new AbortController().signal,
    ),
    /503 after retries/,
  );
  assert.deepEqual(await dirEntries(dir), []);
});

/**
 * A sync in a child under `ulimit -f limitKiB` (no file of the process may grow past it, as on a disk that is
 * full there), with a file of `size` bytes that cannot fit: that file fails, named as the disk's failure.
 */
async function syncPastFileSizeLimit(t: TestContext, size: number, limitKiB: number): Promise<void> {
  const root = await makeTempDir(t);
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('small', [{ filename: 'small-1.0.tar.gz', bytes: Buffer.alloc(50_000, 1) }]);
  const big = await fake.addBigFile('huge', 'huge-1.0.tar.gz', size);
  fake.addFile('huge', { filename: 'huge-0.9.tar.gz', bytes: Buffer.alloc(40_000, 2) });
  const request: SyncChildRequest = { mirrorRoot: root, indexUrl: fake.url, workers: 2 };
  const child = spawn(
    'bash',
    ['-c', `ulimit -f ${limitKiB} && exec "$0" "$1" "$2"`, process.execPath, CHILD, JSON.stringify(request)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SyncChildResult;
  assert.deepEqual(
    result.report.failures.map((f) => f.project),
    ['huge'],
  );
  // Named as the local disk's failure (the temp file and errno), not as the upstream's, and not retried.
  assert.match(
    result.report.failures[0]?.reason ?? '',
    /huge-1\.0\.tar\.gz\.[0-9a-f]+\.tmp: EFBIG: file too large/,
  );
  assert.equal(fake.requests.filter((r) => r.path.endsWith('huge-1.0.tar.gz')).length, 1, 'not retried');
  const tree = await listTree(root);
  assert.ok(tree.includes('small/small-1.0.tar.gz') && tree.includes('small/index.html'), tree.join('\n'));
  assert.ok(
    !tree.some((f) => f.includes('huge-1.0')),
    `no trace of the file that did not fit:\n${tree.join('\n')}`,
  );
  assert.ok(!tree.some((f) => f.endsWith('.tmp')), 'no temp file is left');
  // huge/ has no page (one of its files is missing), or a page that does not link the missing file.
  const page = await readFile(join(root, 'huge', 'index.html'), 'utf8').catch(() => '');
  assert.ok(!page.includes('huge-1.0.tar.gz'), page);
  assert.notEqual(big.sha256, '');
}

test('a full disk (write fails with EFBIG) fails that file only: no temp file, no page links it', async (t) => {
  // 1000 KiB = 1 024 000 bytes is not a multiple of the 64 KiB chunks: the write that crosses it is cut
  // short (written in part), and writing the rest fails with EFBIG.
  await syncPastFileSizeLimit(t, 3 * 1024 * 1024, 1000);
});

test('a full disk under a large file (slots, O_DIRECT) fails the same way', async (t) => {
  // 12 MiB goes through slots.ts. 5000 KiB = 5 120 000 bytes: the direct 1 MiB write at 4 MiB is cut short
  // there (a multiple of 4096, as direct writes are), and the rest, through the ordinary descriptor, fails
  // with EFBIG.
  await syncPastFileSizeLimit(t, 12 * 1024 * 1024, 5000);
});

test('a published file is never overwritten: a download to a taken path fails with STORE_EXISTS, small or large', async (t) => {
  const dir = await makeTempDir(t);
  let cases = 0;
  for (const parts of [chunks(2), chunks(LARGE_FILE_BYTES / (64 * 1024) + 1)]) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const target = join(dir, `demo-${cases}.tar.gz`);
    await writeFile(target, 'published bytes');
    const expected = { hashes: { sha256: sha256(parts) }, size };
    const signal = new AbortController().signal;
    const upstream = scripted(() => Readable.from(parts), size);
    await assert.rejects(
      downloadVerified(
        upstream,
        URL_,
        createLocalStorage(dirname(target)),
        basename(target),
        expected,
        signal,
      ),
      (err: unknown) => {
        assert.ok(err instanceof StoreError && err.code === 'STORE_EXISTS', String(err));
        assert.match(err.message, /never overwritten/);
        return true;
      },
    );
    assert.equal(await readFile(target, 'utf8'), 'published bytes');
    assert.deepEqual(
      await dirEntries(dir),
      [...Array(cases + 1).keys()].map((i) => `demo-${i}.tar.gz`),
    );
    // What may be replaced (core metadata, advertised only once recorded) says so.
    await downloadVerified(
      upstream,
      URL_,
      createLocalStorage(dirname(target)),
      basename(target),
      { ...expected, mayReplace: true },
      signal,
    );
    assert.equal(sha256([await readFile(target)]), expected.hashes.sha256);
    cases++;
  }
  t.diagnostic(`cases: ${cases}`);
});
