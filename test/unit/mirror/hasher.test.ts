// createStreamHasher: the same digests on the event loop and on the hashing thread, whatever the chunking;
// streams sharing the thread keep apart; the source is paused while too much is in flight.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createStreamHasher, OFFLOAD_MIN_BYTES } from '../../../src/mirror/hasher.js';

const quiet = {
  onRoom() {},
  onFailure(err: Error): void {
    throw err;
  },
};

function digests(algorithms: readonly string[], parts: readonly Buffer[]): string[] {
  return algorithms.map((algo) => parts.reduce((h, p) => h.update(p), createHash(algo)).digest('hex'));
}

/** Pieces of `bytes` of irregular sizes: 1 byte, a few KiB, 64 KiB, and larger than a 1 MiB batch. */
function irregular(bytes: Buffer): Buffer[] {
  const sizes = [1, 4093, 65_536, 3 << 20, 17, 1 << 20, 999_999];
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, bytes.length - at);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

test('the hashing thread and the event loop give the digests of the bytes, in the order asked', async () => {
  const bytes = randomBytes(OFFLOAD_MIN_BYTES + 5_000_001);
  const parts = irregular(bytes);
  const algorithms = ['sha256', 'sha512'];
  const expected = digests(algorithms, [bytes]);
  for (const size of [bytes.length, null, 1000]) {
    // bytes.length: the hashing thread; null (unknown) and small: the event loop.
    const hasher = createStreamHasher(algorithms, size, quiet);
    for (const part of parts) hasher.update(part);
    assert.deepEqual(await hasher.digest(), expected, `size ${size}`);
  }
});

test('streams sharing the hashing thread keep apart, and an aborted one does not disturb the others', async () => {
  const inputs = [0, 1, 2].map(() => randomBytes(OFFLOAD_MIN_BYTES + 1_234_567));
  const hashers = inputs.map((b) => createStreamHasher(['sha256'], b.length, quiet));
  const aborted = createStreamHasher(['sha256'], OFFLOAD_MIN_BYTES, quiet);
  const pieces = inputs.map(irregular);
  // Interleaved, as concurrent downloads deliver their chunks.
  for (let i = 0; pieces.some((p) => i < p.length); i++) {
    pieces.forEach((p, n) => {
      const part = p[i];
      if (part !== undefined) hashers[n]?.update(part);
    });
    if (i === 2) aborted.abort();
    else if (i < 2) aborted.update(randomBytes(1 << 20));
  }
  assert.deepEqual(
    await Promise.all(hashers.map((h) => h.digest())),
    inputs.map((b) => digests(['sha256'], [b])),
  );
});

test('update says to pause while more than 8 MiB wait for the hashing thread, and onRoom says when to go on', async () => {
  let rooms = 0;
  const hasher = createStreamHasher(['sha256'], 64 << 20, { ...quiet, onRoom: () => rooms++ });
  const chunk = randomBytes(1 << 20);
  let accepted = 0;
  while (hasher.update(chunk)) {
    accepted++;
    assert.ok(accepted < 64, 'update never asked to pause');
  }
  assert.ok(accepted >= 7, `paused after ${accepted} MiB, before 8 MiB were in flight`);
  // A paused source sends nothing more until onRoom.
  const started = performance.now();
  while (rooms === 0) {
    assert.ok(performance.now() - started < 10_000, 'onRoom never came');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal(rooms, 1);
  const all = Array.from({ length: accepted + 1 }, () => chunk);
  assert.deepEqual(await hasher.digest(), digests(['sha256'], all));
});

test('the hashing thread starts whatever Node options the process was given (it takes none of them)', async () => {
  // --input-type is valid for `node -e` and refused by a worker thread that inherits it.
  const hasher = new URL('../../../src/mirror/hasher.js', import.meta.url).href;
  const script = `
    const { createStreamHasher } = await import(${JSON.stringify(hasher)});
    const h = createStreamHasher(['sha256'], 16 << 20, { onRoom() {}, onFailure(err) { throw err; } });
    h.update(Buffer.alloc(9 << 20, 7));
    process.stdout.write((await h.digest())[0]);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    timeout: 20_000,
  });
  assert.equal(stdout, digests(['sha256'], [Buffer.alloc(9 << 20, 7)])[0]);
});
