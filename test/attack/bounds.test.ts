// Issue #10, "What broke" 4 (the parsing half): a hostile upstream could exhaust memory or time with what it
// sends. Each scenario below is one finding, run with the built CLI against the hostile fixture: the run must
// end on its own with the expected error or warning, the expected exit code, a peak RSS under
// ATTACK_RSS_LIMIT_MIB and the lock released. Big bodies are generated as they are sent (`repeat`, gzipped).
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  ATTACK_RSS_LIMIT_MIB,
  type MeasuredRun,
  runCliMeasured,
  writeAttackConfig,
  startScenario,
} from '../helpers/attack.js';
import {
  dist,
  type FakeDist,
  HTML_TYPE,
  JSON_TYPE,
  listingRoute,
  projectRoutes,
  type Reply,
  type Route,
  sha256Of,
} from '../helpers/hostile-upstream.js';
import { makeTempDir } from '../helpers/tree.js';

interface Attack {
  readonly routes: Record<string, Route>;
  readonly values?: Record<string, string>;
  /** SIGTERM once the upstream has been asked for this path (the child is then past its start-up). */
  readonly signalOnRequest?: string;
  /** The child is killed (and the test fails) if it has not ended by then. */
  readonly timeoutMs?: number;
}

/** Runs `sync` against `attack` and checks the bounds every run must keep. */
async function runAttack(t: TestContext, attack: Attack): Promise<{ run: MeasuredRun; root: string }> {
  const up = await startScenario(t, { name: t.name, routes: attack.routes });
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const config = await writeAttackConfig(dir, {
    mirror_file_path: root,
    index_url: up.url,
    package_matches: 'proj-*',
    timeout: '10s',
    workers: '8',
    ...attack.values,
  });
  const run = await runCliMeasured(t, ['sync', config], {
    timeoutMs: attack.timeoutMs ?? 180_000,
    ...(attack.signalOnRequest === undefined
      ? {}
      : { signalWhen: () => up.requests().some((r) => r.path === attack.signalOnRequest) }),
  });
  t.diagnostic(`exit ${run.code}, peak RSS ${run.peakRssMiB} MiB`);
  assert.equal(run.timedOut, false, `the run ended on its own\n${run.output.slice(-4000)}`);
  assert.ok(run.peakRssMiB > 0, 'peak RSS was read');
  assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `peak RSS ${run.peakRssMiB} MiB`);
  await assert.rejects(access(join(root, '.pypimirror.lock')), 'the lock is released');
  return { run, root };
}

/** Distribution files mirrored for `project`. */
async function mirrored(root: string, project: string): Promise<string[]> {
  const names = await readdir(join(root, project)).catch(() => []);
  return names.filter((n) => !n.startsWith('index.')).sort();
}

const A = dist('proj-a-1.0.tar.gz');

/** The one healthy project most scenarios list besides the attack. */
function healthy(): Record<string, Route> {
  return projectRoutes('proj-a', [A]);
}

function jsonPage(body: NonNullable<Reply['body']>): Reply {
  return { headers: { 'content-type': JSON_TYPE }, gzip: true, body };
}

test('an HTML listing with one unterminated tag fails the listing at the token cap, in bounded memory', async (t) => {
  const { run } = await runAttack(t, {
    routes: {
      '/simple/': {
        headers: { 'content-type': HTML_TYPE },
        gzip: true,
        body: {
          head: '<html><body><a href="/simple/proj-a/">proj-a</a><a href="',
          repeat: 'x'.repeat(4096),
          times: 1_048_576,
        },
      },
      ...healthy(),
    },
  });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /longer than 65536 characters \(the cap on one token\)/);
  t.diagnostic('cases: 1');
});

test('5 M invalid names in an HTML listing: 20 warnings and a count, the valid project synced', async (t) => {
  const { run, root } = await runAttack(t, {
    routes: {
      '/simple/': {
        headers: { 'content-type': HTML_TYPE },
        gzip: true,
        body: {
          head: '<html><body>',
          repeat: '<a href="/simple/x/">-bad-</a>\n',
          times: 5_000_000,
          tail: '<a href="/simple/proj-a/">proj-a</a></body></html>',
        },
      },
      ...healthy(),
    },
  });
  assert.equal(run.code, 0, run.output.slice(-4000));
  assert.match(run.output, /and 4999980 more problems like these/);
  assert.ok(run.output.split('is not a valid project name').length - 1 <= 20, 'at most 20 shown');
  assert.deepEqual(await mirrored(root, 'proj-a'), [A.filename]);
  t.diagnostic('cases: 1');
});

test('eight 63 MiB project pages are read one large page at a time, in bounded memory', async (t) => {
  const projects = Array.from({ length: 8 }, (_, i) => `proj-${i}`);
  const routes: Record<string, Route> = { ...listingRoute(projects) };
  for (const p of projects) {
    const file = dist(`${p}-1.0.tar.gz`);
    const entry = JSON.stringify({
      filename: file.filename,
      url: `/files/${file.filename}`,
      hashes: { sha256: sha256Of(file.bytes) },
      pad: 'y'.repeat(60_000),
    });
    const times = Math.floor((63 * 1024 * 1024) / (entry.length + 1));
    Object.assign(routes, projectRoutes(p, [file]), {
      [`/simple/${p}/`]: jsonPage({
        head: `{"name":"${p}","files":[`,
        repeat: `${entry},`,
        times,
        tail: `${entry}]}`,
      }),
    });
  }
  const { run, root } = await runAttack(t, { routes });
  assert.equal(run.code, 0, run.output.slice(-4000));
  for (const p of projects) assert.deepEqual(await mirrored(root, p), [`${p}-1.0.tar.gz`]);
  assert.match(run.output, /listed twice; later entry skipped/);
  assert.match(run.output, /more problems like these/);
  t.diagnostic('cases: 1');
});

test('a JSON page nested 31 M deep fails its project at the depth cap', async (t) => {
  const { run, root } = await runAttack(t, {
    routes: {
      ...listingRoute(['proj-a', 'proj-deep']),
      ...healthy(),
      '/simple/proj-deep/': jsonPage({ head: '{"files":[],"x":', repeat: '[', times: 31_000_000 }),
    },
  });
  assert.equal(run.code, 1, run.output.slice(-4000));
  assert.match(run.output, /nested deeper than 64 levels/);
  assert.deepEqual(await mirrored(root, 'proj-a'), [A.filename], 'the other project is synced');
  t.diagnostic('cases: 1');
});

test('a 64 MiB and a deeply nested XML-RPC answer are refused at their caps; the sync goes on', async (t) => {
  const xml = (body: NonNullable<Reply['body']>): Reply => ({
    headers: { 'content-type': 'text/xml' },
    gzip: true,
    body,
  });
  const cases: readonly [string, Reply, RegExp][] = [
    [
      '64 MiB',
      xml({
        head: '<?xml version="1.0"?><methodResponse><params><param><value><array><data>',
        repeat: `<value><int>1</int></value>${' '.repeat(37)}`,
        times: (64 * 1024 * 1024) / 64,
        tail: '</data></array></value></param></params></methodResponse>',
      }),
      /larger than 33554432 bytes/,
    ],
    [
      'nested',
      xml({
        head: '<?xml version="1.0"?><methodResponse><params><param>',
        repeat: '<value><array><data>',
        times: 10_000_000,
      }),
      /nested deeper than 64 levels/,
    ],
  ];
  for (const [name, reply, pattern] of cases) {
    const { run, root } = await runAttack(t, {
      routes: { '/pypi': reply, ...healthy() },
      values: { package_matches: 'proj-a' }, // literal names: the first run asks changelog_last_serial
    });
    assert.equal(run.code, 0, `${name}: ${run.output.slice(-4000)}`);
    assert.match(run.output, /upstream changelog serial failed/, name);
    assert.match(run.output, pattern, name);
    assert.deepEqual(await mirrored(root, 'proj-a'), [A.filename], name);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('200 000 nested <i> on an HTML page parse in linear time', async (t) => {
  const { run, root } = await runAttack(t, {
    routes: {
      ...listingRoute(['proj-a']),
      ...healthy(),
      '/simple/proj-a/': {
        headers: { 'content-type': HTML_TYPE },
        gzip: true,
        body: {
          head: '<html><body>',
          repeat: '<i>',
          times: 200_000,
          tail: `<a href="/files/${A.filename}#sha256=${sha256Of(A.bytes)}">${A.filename}</a></body></html>`,
        },
      },
    },
  });
  assert.equal(run.code, 0, run.output.slice(-4000));
  assert.deepEqual(await mirrored(root, 'proj-a'), [A.filename]);
  t.diagnostic('cases: 1');
});

/** A JSON page of `files`, built here (a few tens of MB at most). */
function pageOf(project: string, files: readonly FakeDist[]): Reply {
  const body = JSON.stringify({
    name: project,
    files: files.map((f) => ({
      filename: f.filename,
      url: `/files/${f.filename}`,
      hashes: { sha256: sha256Of(f.bytes) },
    })),
  });
  return { headers: { 'content-type': JSON_TYPE }, body };
}

test('a 200 000-file page with 1 000 files selected syncs in bounded memory', async (t) => {
  const files = Array.from({ length: 200_000 }, (_, i) =>
    dist(i % 200 === 0 ? `proj_big-${i}-py3-none-any.whl` : `proj-big-${i}.tar.gz`, `f${i}`),
  );
  const selected = files.filter((f) => f.filename.endsWith('.whl'));
  const routes: Record<string, Route> = {
    ...listingRoute(['proj-big']),
    '/simple/proj-big/': pageOf('proj-big', files),
  };
  for (const f of selected)
    routes[`/files/${f.filename}`] = {
      headers: { 'content-type': 'application/octet-stream' },
      body: f.bytes,
    };
  const { run, root } = await runAttack(t, { routes, values: { filename_matches: '*.whl' } });
  assert.equal(run.code, 0, run.output.slice(-4000));
  assert.equal((await mirrored(root, 'proj-big')).length, 1000);
  t.diagnostic('cases: 1');
});

test('SIGTERM during a huge parse ends the run cleanly (exit 0) and releases the lock', async (t) => {
  const { run } = await runAttack(t, {
    routes: {
      '/simple/': {
        headers: { 'content-type': HTML_TYPE },
        gzip: true,
        body: { head: '<html><body>', repeat: '<a href="/simple/x/">-bad-</a>\n', times: 100_000_000 },
      },
    },
    signalOnRequest: '/simple/', // the listing's body streams for minutes: the signal lands in its parse
    timeoutMs: 60_000, // a bound on the loop, not a timing assertion: the stop takes well under a second
  });
  assert.equal(run.code, 0, run.output.slice(-4000));
  t.diagnostic('cases: 1');
});
