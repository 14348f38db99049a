// Resume: a run interrupted by a crash (SIGKILL of the process) or a graceful stop (the abort SIGTERM
// triggers) continues where it stopped: completed files are not fetched again, and at no point does a page
// link a file that is not there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startDiscoveryHarness, type DiscoveryHarness } from '../helpers/discovery-harness.js';
import type { SyncChildRequest } from '../helpers/sync-child.js';
import { assertTreeConsistent, listTree } from '../helpers/tree.js';

const CHILD = fileURLToPath(new URL('../helpers/sync-child.js', import.meta.url));

/** A file of `size` deterministic bytes with a wheel name. */
function dist(project: string, version: string, size: number): { filename: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32)
    createHash('sha256').update(`${project}-${version}-${i}`).digest().copy(bytes, i);
  return { filename: `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`, bytes };
}

function seed(h: DiscoveryHarness): { held: string } {
  for (const name of ['small-a', 'small-b', 'small-c']) {
    h.fake.addProject(name, [dist(name, '1.0', 20_000), dist(name, '2.0', 30_000)]);
  }
  // The file that stalls is larger than a small file (held in memory until its commit, SMALL_FILE_BYTES),
  // so it streams into a temp file that a kill leaves behind for the next run to sweep.
  h.fake.addProject(
    'big',
    ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5'].map((v) => dist('big', v, v === '1.5' ? 100_000 : 25_000)),
  );
  return { held: new URL(h.fake.fileUrl('big', 'big-1.5-py3-none-any.whl')).pathname };
}

/** Distribution files in place (not temp files, not pages). */
async function filesInPlace(root: string): Promise<string[]> {
  return (await listTree(root)).filter((f) => f.endsWith('.whl'));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a run killed mid-way (SIGKILL) resumes: completed files are not fetched again, no page links a missing file', async (t) => {
  const h = await startDiscoveryHarness(t, { fake: { xmlrpc: false } });
  const { held } = seed(h);
  // One file of `big` stalls half-way through its body, as on a dropped link.
  h.fake.delay(held, 60_000, { phase: 'body' });
  const request: SyncChildRequest = {
    mirrorRoot: h.root,
    indexUrl: h.fake.url,
    workers: 2,
    timeoutMs: 120_000,
  };
  const child = spawn(process.execPath, [CHILD, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  // Kill once every other file is in place and the stalled one is in flight.
  await waitFor('the run to reach the stalled file', async () => {
    const inPlace = await filesInPlace(h.root);
    const tree = await listTree(h.root);
    return (
      h.fake.requests.some((r) => r.path === held && r.bytesSent > 0) &&
      inPlace.length === 11 &&
      ['small-a', 'small-b', 'small-c'].every((p) => tree.includes(`${p}/index.html`))
    );
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', stderr);

  await assertTreeConsistent(h.root);
  const tree = await listTree(h.root);
  assert.ok(!tree.includes('big/index.html'), 'big has no page: one of its files is missing');
  assert.ok(
    tree.some((f) => f.startsWith('big/.') && f.endsWith('.tmp')),
    'the kill left a temp file',
  );
  const survived = await filesInPlace(h.root);
  assert.equal(survived.length, 11);

  h.fake.clearFaults();
  h.take();
  const report = await h.sync({ workers: 2 });
  assert.equal(report.failures.length, 0);
  const fetched = h.take().filter((r) => r.endsWith('.whl 200'));
  assert.deepEqual(fetched, [`GET ${held} 200`], 'only the file that was cut off is fetched again');
  const after = await listTree(h.root);
  assert.ok(after.includes('big/index.html'));
  assert.ok(!after.some((f) => f.endsWith('.tmp')), 'no temp file is left');
  await assertTreeConsistent(h.root);
});

test('a stopped run (SIGTERM: abort) resumes, and an interrupted changelog run loses no change', async (t) => {
  const h = await startDiscoveryHarness(t);
  const { held } = seed(h);
  await h.sync({ workers: 2 });
  // K changes; one of them stalls.
  const added = ['small-a', 'small-b', 'small-c', 'big'].map((p) => {
    const file = dist(p, '3.0', 15_000);
    h.fake.addFile(p, file);
    return new URL(h.fake.fileUrl(p, file.filename)).pathname;
  });
  const stalled = added[3] as string;
  h.fake.delay(stalled, 60_000, { phase: 'body' });
  h.take();
  const controller = new AbortController();
  const run = h.sync({ workers: 2 }, { signal: controller.signal });
  await waitFor('the other changes to be in place', async () => {
    const tree = await listTree(h.root);
    return (
      h.fake.requests.some((r) => r.path === stalled && r.bytesSent > 0) &&
      ['small-a', 'small-b', 'small-c'].every((p) =>
        tree.includes(`${p}/${p.replace(/-/g, '_')}-3.0-py3-none-any.whl`),
      )
    );
  });
  await sleep(50); // let the small projects' pages be written
  controller.abort(new Error('SIGTERM received'));
  const stopped = await run;
  assert.equal(stopped.aborted, true);
  await assertTreeConsistent(h.root);
  const state = await h.state();
  assert.equal(state.lastRun?.ok, false);
  assert.ok((state.lastSerial ?? 0) < h.fake.serial, 'the stored serial did not move past unreached changes');

  h.fake.clearFaults();
  h.take();
  const resumed = await h.sync({ workers: 2 });
  assert.equal(resumed.failures.length, 0);
  const seen = h.take();
  assert.equal(seen[0], 'POST /pypi 200', 'the changelog is read again from the old serial');
  const files = seen.filter((r) => r.includes('/files/') || r.includes('/packages/'));
  assert.ok(files.includes(`GET ${stalled} 200`));
  for (const path of added.slice(0, 3))
    assert.ok(!files.includes(`GET ${path} 200`), `${path} fetched again`);
  assert.ok(!files.some((r) => r.includes(held)), 'untouched files are not fetched');
  await assertTreeConsistent(h.root);
  assert.ok((await listTree(h.root)).includes('big/big-3.0-py3-none-any.whl'));
  assert.equal((await h.state()).lastSerial, h.fake.serial);
});
