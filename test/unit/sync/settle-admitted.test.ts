// settleAdmitted (sync/project-context.ts) with the run's keyed permits (util/pool.ts createKeyedPermits):
// the permits bound the files in flight across every project, one project holds at most half of them, a
// project that holds none is served before one that holds many, items not yet admitted are not started,
// and every result comes back in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settleAdmitted } from '../../../src/sync/project-context.js';
import { createKeyedPermits } from '../../../src/util/pool.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the permits bound the items in flight across projects; the rest are not started', async () => {
  const permits = createKeyedPermits(3);
  let running = 0;
  let peak = 0;
  let started = 0;
  const download = async (item: number): Promise<number> => {
    started++;
    running++;
    peak = Math.max(peak, running);
    await tick();
    running--;
    return item * 2;
  };
  const projects = [0, 1, 2, 3].map((p) =>
    settleAdmitted(
      Array.from({ length: 10 }, (_, i) => p * 100 + i),
      permits,
      `p${p}`,
      download,
    ),
  );
  await Promise.resolve();
  await Promise.resolve();
  assert.ok(started <= 3, `${started} started before any finished`);
  const results = await Promise.all(projects);
  assert.equal(peak, 3);
  assert.equal(started, 40);
  results.forEach((settled, p) =>
    assert.deepEqual(
      settled,
      Array.from({ length: 10 }, (_, i) => ({ status: 'fulfilled', value: (p * 100 + i) * 2 })),
    ),
  );
});

test('a project holds at most half the permits, and one given back goes to the project that holds the fewest', async () => {
  const permits = createKeyedPermits(4);
  const order: string[] = [];
  const run = (project: string, count: number): Promise<PromiseSettledResult<void>[]> =>
    settleAdmitted(
      Array.from({ length: count }, (_, i) => `${project}${i}`),
      permits,
      project,
      async (item: string) => {
        order.push(item);
        await tick();
      },
    );
  const big = run('big', 12);
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(order, ['big0', 'big1']); // its half
  // Two small projects find the other half free; a third waits, and takes the first permit given back.
  const small = [run('small-a', 3), run('small-b', 3), run('small-c', 1)];
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(order, ['big0', 'big1', 'small-a0', 'small-b0']);
  await Promise.all([big, ...small]);
  assert.ok(order.indexOf('small-c0') < order.indexOf('big2'), order.join(' '));
  assert.equal(order.length, 19);
});

test('a failed item is its own result; its permit goes back and the others go on', async () => {
  const permits = createKeyedPermits(1);
  const results = await settleAdmitted([1, 2, 3], permits, 'p', async (item: number) => {
    if (item === 2) throw new Error('no such file');
    return item;
  });
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(((results[1] as PromiseRejectedResult).reason as Error).message, 'no such file');
  // The permit was given back: another project gets it at once.
  let isGranted = false;
  void permits.acquire('q').then(() => (isGranted = true));
  await Promise.resolve();
  assert.equal(isGranted, true);
  assert.deepEqual(await settleAdmitted([], permits, 'p', async () => 0), []);
});
