// A plain PEP 503 upstream we did not write: our own mirror tree, served by Python's http.server (no ETag,
// Last-Modified in whole seconds, HTTP/1.0) and by nginx with samples/nginx.conf (ETag, Last-Modified,
// content negotiation). A second mirror syncs from it: everything verified, a quiet resync costs only
// 304s, and a change upstream is picked up. Apache with samples/apache.conf serves it too.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildWheel } from '../helpers/dist-builder.js';
import { startHarness, type Harness } from '../helpers/sync-harness.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  findExecutable,
  findFreePort,
  requireTool,
  startApache,
  startNginx,
} from '../helpers/web-servers.js';

interface PythonServer {
  readonly url: string;
  /** Status codes of the requests served so far, from its request log. */
  statuses(): number[];
}

/** `python3 -m http.server` on 127.0.0.1 serving `root`, stopped after the test. */
async function startPythonServer(t: TestContext, root: string): Promise<PythonServer> {
  const python = findExecutable('python3') as string;
  const port = await findFreePort();
  const child: ChildProcess = spawn(
    python,
    ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', root, String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    child.kill('SIGKILL');
  });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  await waitFor('python3 -m http.server to answer', async () => {
    const res = await fetch(url).catch(() => null);
    return res?.ok === true;
  });
  const start = log.length;
  return {
    url,
    statuses: () => [...log.slice(start).matchAll(/"GET [^"]*" (\d{3})/g)].map((m) => Number(m[1])),
  };
}

/** Mirror A, synced from the fake upstream: two projects, three wheels. */
async function mirrorA(t: TestContext): Promise<Harness> {
  const h = await startHarness(t);
  h.fake.addProject('alpha', [
    buildWheel({ name: 'alpha', version: '1.0' }),
    buildWheel({ name: 'alpha', version: '1.1' }),
  ]);
  h.fake.addProject('beta', [buildWheel({ name: 'beta', version: '2.0' })]);
  const report = await h.sync();
  assert.deepEqual(report.failures, []);
  return h;
}

/** Every page of mirror `root` links files that are there, with the linked sha256. */
async function assertVerifiedTree(root: string, projects: readonly string[]): Promise<string[]> {
  const linked: string[] = [];
  for (const project of projects) {
    const html = await readFile(join(root, project, 'index.html'), 'utf8');
    for (const [, href, hex] of html.matchAll(/href="([^"#]+)#sha256=([0-9a-f]{64})"/g)) {
      const bytes = await readFile(join(root, project, decodeURIComponent(href ?? '')));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), hex, `${project}/${href}`);
      linked.push(`${project}/${href}`);
    }
  }
  return linked.sort();
}

/** Waits until the clock has passed the whole second after `since` (bounded: at most 2 s). */
async function nextSecond(since: number): Promise<void> {
  const wait = Math.floor(since / 1000) * 1000 + 1100 - Date.now();
  if (wait > 0) await sleep(Math.min(wait, 2000));
}

const PROJECTS = ['alpha', 'beta'];

interface MirrorB {
  readonly root: string;
  sync(): ReturnType<Harness['sync']>;
}

/** Mirror B of everything A serves at `indexUrl`, synced once: A's three wheels, verified, as in A. */
async function mirrorB(t: TestContext, a: Harness, indexUrl: string): Promise<MirrorB> {
  const root = await makeTempDir(t);
  const sync = (): ReturnType<Harness['sync']> =>
    a.sync({ mirrorRoot: root, packageMatches: ['*'] }, { indexUrl });
  // A server may stamp Last-Modified from the mtime in whole seconds: let A's pages age past their second,
  // so that B may keep the validator (it is used only when Date is a second or more after it).
  await nextSecond(Date.now());
  const first = await sync();
  assert.deepEqual(first.failures, []);
  assert.equal(first.filesFetched, 3);
  assert.deepEqual(await assertVerifiedTree(root, PROJECTS), await assertVerifiedTree(a.root, PROJECTS));
  return { root, sync };
}

/** A new release reaches A, then B, which downloads it and nothing else. */
async function releaseReachesB(a: Harness, b: MirrorB, project: string, version: string): Promise<void> {
  a.fake.addFile(project, buildWheel({ name: project, version }));
  assert.deepEqual((await a.sync()).failures, []);
  const changed = await b.sync();
  assert.deepEqual(changed.failures, []);
  assert.equal(changed.filesFetched, 1);
  assert.deepEqual(await assertVerifiedTree(b.root, PROJECTS), await assertVerifiedTree(a.root, PROJECTS));
}

test('a mirror syncs from a mirror served by python3 -m http.server: 304s when quiet, changes picked up', async (t) => {
  if (!requireTool(t, 'python3')) return;
  const a = await mirrorA(t);
  const server = await startPythonServer(t, a.root);
  const b = await mirrorB(t, a, server.url);
  const before = server.statuses().length;
  const quiet = await b.sync();
  assert.equal(quiet.filesFetched, 0);
  const statuses = server.statuses().slice(before);
  assert.ok(statuses.length >= 3, `the listing and two pages were asked for: ${statuses.join(' ')}`);
  assert.deepEqual(
    statuses.filter((s) => s !== 304),
    [],
    `a quiet resync gets only 304s: ${statuses.join(' ')}`,
  );
  await releaseReachesB(a, b, 'alpha', '1.2');
});

test('a page rewritten within the second it was served is not mistaken for unmodified (Last-Modified only)', async (t) => {
  if (!requireTool(t, 'python3')) return;
  const a = await mirrorA(t);
  const server = await startPythonServer(t, a.root);
  const rootB = await makeTempDir(t);
  const syncB = (): ReturnType<Harness['sync']> =>
    a.sync({ mirrorRoot: rootB, packageMatches: ['alpha'] }, { indexUrl: server.url });
  // B reads alpha's page, and A rewrites it, each as soon as the other is done: often within one second,
  // where Last-Modified cannot tell the two versions apart. Three rounds; every one must see the change.
  for (const version of ['1.2', '1.3', '1.4']) {
    assert.deepEqual((await syncB()).failures, []);
    a.fake.addFile('alpha', buildWheel({ name: 'alpha', version }));
    assert.deepEqual((await a.sync()).failures, []);
    const after = await syncB();
    assert.deepEqual(after.failures, []);
    assert.ok(
      (await listTree(rootB)).includes(`alpha/alpha-${version}-py3-none-any.whl`),
      `alpha ${version} reached B`,
    );
  }
});

for (const [kind, start] of [
  ['nginx', startNginx],
  ['apache2', startApache],
] as const) {
  test(`a mirror syncs from a mirror served by ${kind} (samples/): nothing fetched again when quiet`, async (t) => {
    if (!requireTool(t, kind)) return;
    const a = await mirrorA(t);
    const server = await start({ root: a.root });
    t.after(() => server.stop());
    const b = await mirrorB(t, a, server.url);
    const quiet = await b.sync();
    assert.equal(quiet.filesFetched, 0);
    assert.equal(quiet.projectsChanged, 0, 'every page answered 304');
    assert.deepEqual(await listTree(b.root), await listTree(a.root));
    await releaseReachesB(a, b, 'beta', '2.1');
  });
}
