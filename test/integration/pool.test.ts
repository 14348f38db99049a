// One pool of `workers` upstream requests serves the pages and files of every project, taking turns between
// projects: a project with many files does not hold back a small one. Asserted on the order and overlap of
// requests in the fake's log, never on time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDiscoveryHarness } from '../helpers/discovery-harness.js';

function dist(project: string, version: string): { filename: string; bytes: Buffer } {
  return {
    filename: `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`,
    bytes: Buffer.from(`${project} ${version} `.repeat(200)),
  };
}

test('pages and files share one pool of `workers` slots, and small projects are not held back by a big one', async (t) => {
  // A little latency so that requests overlap and queue.
  const h = await startDiscoveryHarness(t, { fake: { latencyMs: 3 } });
  const versions = Array.from({ length: 40 }, (_, i) => `1.${i}`);
  // `aaa-big` sorts first: it is the first project the run starts.
  h.fake.addProject(
    'aaa-big',
    versions.map((v) => dist('aaa-big', v)),
  );
  const small = ['zzz-small-1', 'zzz-small-2', 'zzz-small-3'];
  for (const name of small) h.fake.addProject(name, [dist(name, '1.0')]);
  h.take();
  const report = await h.sync({ workers: 2 });
  assert.equal(report.failures.length, 0);
  assert.equal(report.filesFetched, 43);

  const log = h.fake.requests;
  const isPage = (path: string): boolean => /^\/simple\/[^/]+\/$/.test(path);
  const isFile = (path: string): boolean => path.startsWith('/files/');
  // One pool: never more than `workers` requests at once, pages and files together (the listing comes first).
  assert.equal(
    h.fake.maxConcurrent((r) => isPage(r.path) || isFile(r.path)),
    2,
  );
  assert.equal(h.fake.maxConcurrent(), 2);
  // Over keep-alive connections: the 45 requests of the run (listing, 4 pages, 43 files) travel on at most
  // 2 × `workers` connections (a spare one per worker, for while undici readies the one that just
  // answered), and none is opened per request.
  assert.ok(log.length >= 45, `${log.length} requests`);
  const connections = h.fake.connectionCount();
  assert.ok(connections >= 2 && connections <= 4, `${connections} connections`);
  assert.equal(new Set(log.map((r) => r.connection)).size, connections);

  const bigFiles = log.filter((r) => r.path.startsWith('/files/aaa-big/'));
  assert.equal(bigFiles.length, 40);
  // Round-robin between projects: every small project's page and file arrive before the big project's 8th
  // file, although all 40 big files were queued before them.
  const eighthBig = log.indexOf(bigFiles[7] as (typeof log)[number]);
  for (const name of small) {
    const page = log.findIndex((r) => r.path === `/simple/${name}/`);
    const file = log.findIndex((r) => r.path.startsWith(`/files/${name}/`));
    assert.ok(page >= 0 && file >= 0, name);
    assert.ok(
      file < eighthBig,
      `${name}'s file (request #${file}) waited behind the big project (#${eighthBig})`,
    );
  }
  // And the big project's downloads began before the small projects were done: nobody waits for a whole project.
  const firstBig = log.indexOf(bigFiles[0] as (typeof log)[number]);
  const lastSmallFile = Math.max(
    ...small.map((n) => log.findIndex((r) => r.path.startsWith(`/files/${n}/`))),
  );
  assert.ok(firstBig < lastSmallFile);
});

test('with one worker, the projects take turns', async (t) => {
  const h = await startDiscoveryHarness(t);
  h.fake.addProject(
    'aaa-big',
    ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5'].map((v) => dist('aaa-big', v)),
  );
  h.fake.addProject('zzz-small', [dist('zzz-small', '1.0'), dist('zzz-small', '2.0')]);
  h.take();
  await h.sync({ workers: 1 });
  const order = h.fake.requests
    .filter((r) => r.path !== '/simple/')
    .map((r) => (r.path.includes('aaa-big') || r.path.includes('aaa_big') ? 'big' : 'small'));
  assert.equal(h.fake.maxConcurrent(), 1);
  // First come first served would put both small files after the six big ones; taking turns serves them
  // between (a project may get two turns in a row while the other plans its downloads).
  const smallAt = order.flatMap((who, i) => (who === 'small' ? [i] : []));
  const bigAt = order.flatMap((who, i) => (who === 'big' ? [i] : []));
  assert.equal(smallAt.length, 3, 'page and two files');
  assert.equal(bigAt.length, 7, 'page and six files');
  assert.ok((smallAt.at(-1) ?? 99) < (bigAt[5] ?? -1), order.join(' '));
});

test('a small project is not held back by more big projects than the planning window', async (t) => {
  // workers = 1 → a planning window of 4 projects; six big projects come first, the small one last.
  const h = await startDiscoveryHarness(t);
  const bigs = ['aa1', 'aa2', 'aa3', 'aa4', 'aa5', 'aa6'];
  for (const name of bigs)
    h.fake.addProject(
      name,
      ['1.0', '1.1', '1.2', '1.3', '1.4'].map((v) => dist(name, v)),
    );
  h.fake.addProject('zzz-small', [dist('zzz-small', '1.0')]);
  h.take();
  const report = await h.sync({ workers: 1 });
  assert.equal(report.filesFetched, 31);
  const log = h.fake.requests;
  const smallFile = log.findIndex((r) => r.path.startsWith('/files/zzz-small/'));
  const lastBigFile = Math.max(
    ...bigs.map((n) => log.findLastIndex((r) => r.path.startsWith(`/files/${n}/`))),
  );
  // Had each project held its window slot until its files were done, the small project's page could only
  // be fetched once two big projects had finished all their files.
  const bigsFinishedBeforeSmallPage = bigs.filter(
    (n) =>
      log.findLastIndex((r) => r.path.startsWith(`/files/${n}/`)) <
      log.findIndex((r) => r.path === '/simple/zzz-small/'),
  );
  assert.deepEqual(bigsFinishedBeforeSmallPage, []);
  assert.ok(
    smallFile < lastBigFile,
    `the small file (#${smallFile}) came after every big file (#${lastBigFile})`,
  );
});
