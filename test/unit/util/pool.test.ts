import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool, createSemaphore, forEachWindowed } from '../../../src/util/pool.js';

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

test('forEachWindowed bounds the first phase and the total separately', async () => {
  let starting = 0;
  let inFlight = 0;
  let peakStarting = 0;
  let peakInFlight = 0;
  const seen: number[] = [];
  await forEachWindowed([1, 2, 3, 4, 5, 6, 7, 8], 2, 5, async (n, started) => {
    starting++;
    inFlight++;
    peakStarting = Math.max(peakStarting, starting);
    peakInFlight = Math.max(peakInFlight, inFlight);
    await tick();
    starting--;
    started();
    await tick();
    await tick();
    seen.push(n);
    inFlight--;
  });
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(peakStarting, 2);
  assert.ok(peakInFlight > 2 && peakInFlight <= 5, `in flight at most 5, got ${peakInFlight}`);
});

test('forEachWindowed waits for the started items, then rejects with the first error', async () => {
  const done: number[] = [];
  await assert.rejects(
    forEachWindowed([1, 2, 3], 3, 3, async (n) => {
      await tick();
      if (n === 2) throw new Error('two');
      await tick();
      done.push(n);
    }),
    /two/,
  );
  assert.deepEqual(done.sort(), [1, 3]);
});

test('createSemaphore hands out `limit` permits, then serves waiters first come, first served', async () => {
  const semaphore = createSemaphore(2);
  await semaphore.acquire();
  await semaphore.acquire();
  const order: string[] = [];
  const a = semaphore.acquire().then(() => order.push('a'));
  const b = semaphore.acquire().then(() => order.push('b'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [], 'no third permit while two are out');
  semaphore.release();
  await a;
  assert.deepEqual(order, ['a']);
  semaphore.release();
  await b;
  assert.deepEqual(order, ['a', 'b']);
  semaphore.release();
  semaphore.release();
  // Both permits are back: two acquires succeed at once.
  await Promise.all([semaphore.acquire(), semaphore.acquire()]);
});
