import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool, mapLimit } from '../../../src/util/pool.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('pool never runs more than its size at once', async () => {
  const pool = createPool(3);
  let running = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      pool.run(`k${i % 4}`, async () => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.equal(pool.active, 0);
});

test('pool serves keys round-robin: a big project does not starve a small one', async () => {
  const pool = createPool(1);
  const order: string[] = [];
  const big = Array.from({ length: 5 }, (_, i) => pool.run('big', async () => void order.push(`big${i}`)));
  const small = pool.run('small', async () => void order.push('small'));
  await Promise.all([...big, small]);
  // big0 starts at once; then the two keys alternate.
  assert.deepEqual(order.slice(0, 3), ['big0', 'big1', 'small']);
});

test('a failing task frees its slot and rejects only its caller', async () => {
  const pool = createPool(1);
  const failing = pool.run('a', async () => {
    throw new Error('boom');
  });
  const ok = pool.run('a', async () => 7);
  await assert.rejects(failing, /boom/);
  assert.equal(await ok, 7);
});

test('mapLimit keeps order and bounds concurrency', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await tick();
    running--;
    return n * 2;
  });
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
  assert.equal(peak, 2);
});
