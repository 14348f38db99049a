// The bench's scenarios at a small size, as a smoke test: each scenario runs and makes the requests it
// should (first sync = 1 + pages + files; no-op = 1; K changes = 1 + 2K; plain no-op = only 304s), and
// `npm run bench` prints every target with MET / MISSED and writes the JSON with them. Times and memory are
// the bench's business, never asserted here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { LOCAL_LINE, S3_LINE } from '../../bench/s3-bench.js';
import { cephInstalled } from '../helpers/ceph-rgw.js';
import { repoRoot } from '../helpers/repo-root.js';

const run = promisify(execFile);

interface BenchRow {
  readonly scenario: string;
  readonly requests: number;
  readonly checks: readonly { target: string; result: string; isMet: boolean | null }[];
  readonly target: string;
  readonly isMet: boolean | null;
  readonly notes?: Readonly<Record<string, unknown>>;
}

test('bench smoke: every scenario at a small size makes the requests it should, and every target is judged', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'bench.json');
  const [projects, files, k] = [4, 12, 2];
  const [scaleProjects, scaleFiles, scaleNew] = [6, 18, 2];
  const { stdout } = await run(
    process.execPath,
    [
      join(repoRoot, 'dist/bench/bench.js'),
      ...['--projects', String(projects), '--files', String(files), '--k', String(k)],
      ...['--delay-ms', '0', '--workers', '4', '--big-mib', '1', '--big-rounds', '1'],
      ...['--listing', '500', '--mirrored', '10', '--globs', '2', '--startup-rounds', '1', '--out', out],
      ...['--scale', '--scale-projects', String(scaleProjects), '--scale-files', String(scaleFiles)],
      ...['--scale-new', String(scaleNew), '--state-layout', '--layout-projects', '3', '--layout-files', '2'],
    ],
    { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const rows = (JSON.parse(await readFile(out, 'utf8')) as { rows: BenchRow[] }).rows;
  const rowOf = (scenario: string): BenchRow => {
    const row = rows.find((r) => r.scenario === scenario);
    assert.ok(row !== undefined, `no row "${scenario}" in ${rows.map((r) => r.scenario).join(', ')}`);
    return row;
  };
  const requestsOf = (scenario: string): number => rowOf(scenario).requests;
  assert.equal(requestsOf('first sync (PyPI-like)'), 1 + projects + files);
  assert.equal(requestsOf('no-op resync (PyPI-like, changelog)'), 1);
  // The same no-op through the built command (its config file, logger, lock, status), spawn to exit.
  assert.equal(requestsOf('no-op resync, the pypimirror command (end to end)'), 1);
  assert.equal(requestsOf(`resync after K=${k} projects changed`), 1 + 2 * k);
  assert.equal(requestsOf('first sync (plain index)'), 1 + projects + files);
  assert.equal(requestsOf('no-op resync (plain index)'), 1 + projects);
  assert.ok(requestsOf('1.0 MiB download') <= 3, 'the big file: discovery, its page, the file');
  assert.ok(requestsOf('root listing of 500 projects, 10 mirrored') <= 2);
  assert.ok(requestsOf('no-op resync, 10 mirrored (changelog)') <= 2);
  // --scale (issue #14 part 4): a no-op is the changelog call; new projects cost a page and a file each; a
  // filename_matches change re-plans every project from its record: the changelog call, no page.
  assert.equal(requestsOf(`scale: no-op, ${scaleProjects} projects (changelog)`), 1);
  assert.equal(requestsOf(`scale: first sync of ${scaleNew} new projects`), 1 + 2 * scaleNew);
  const replan = rowOf(`scale: filename_matches changed, ${scaleProjects + scaleNew} projects re-planned`);
  assert.equal(replan.requests, 1);
  assert.equal(replan.notes?.['pageRequests'], 0);
  // --state-layout (issue #14 part 4): each layout's three operations, reference figures.
  for (const layout of ['one file per project', 'one file']) {
    for (const operation of ['write 3 projects × 2 files', `a run changes ${k}`, 'read all 3']) {
      assert.equal(requestsOf(`state layout, ${layout}: ${operation}`), 0);
    }
  }
  for (const scenario of ['node -e 0', 'pypimirror --version', 'pypimirror check CONFIG']) {
    assert.equal(requestsOf(scenario), 0);
  }

  // Issue #15: the same first sync to local disk and into a bucket of the Ceph cluster (where installed).
  if (cephInstalled()) {
    assert.equal(requestsOf(S3_LINE), requestsOf(LOCAL_LINE));
    assert.equal(requestsOf(S3_LINE), 1 + projects + files + k, 'every page and file of bench-p0*');
    // Both ratios against the disk's: wall (the gateway's CPU in it) and the client's CPU alone.
    assert.deepEqual(
      rowOf(S3_LINE).checks.map((c) => c.target),
      ['wall vs local disk (reference)', 'client CPU vs local disk (reference)'],
    );
  }

  // Every row carries its targets, judged; the JSON keeps its combined verdict as before.
  for (const row of rows) {
    assert.ok(row.checks.length > 0, `${row.scenario}: no target`);
    for (const check of row.checks) assert.notEqual(check.target, '', row.scenario);
    const judged = row.checks.filter((c) => c.isMet !== null);
    if (judged.length > 0)
      assert.equal(
        row.isMet,
        judged.every((c) => c.isMet === true),
        row.scenario,
      );
  }
  // Issue #14's no-op targets are judged on the command's row (peak RSS needs GNU time(1) to be judged).
  const noop = rowOf('no-op resync, the pypimirror command (end to end)').checks.map((c) => c.target);
  assert.equal(noop.length, 4, noop.join('; '));
  assert.equal(noop[0], 'requests ≤ 2');
  assert.match(noop[1] ?? '', /^peak RSS (≤ 75 MiB \(#14 part 2\)|\(needs GNU time\(1\), not installed\))$/);
  assert.equal(noop[2], 'process ≤ 0.15 s (#14 part 3)');
  // Node's own start in the same rounds, beside it; every round of both in the JSON.
  assert.equal(noop[3], 'node -e 0 in the same rounds (reference)');
  const noopNotes = rowOf('no-op resync, the pypimirror command (end to end)').notes ?? {};
  assert.equal((noopNotes['msPerRound'] as unknown[]).length, 1);
  assert.equal((noopNotes['nodeMsPerRound'] as unknown[]).length, 1);
  // The printed table: one line per judged target ending its verdict, and the count.
  const judgedCount = rows.flatMap((r) => r.checks).filter((c) => c.isMet !== null).length;
  const verdicts = stdout.split('\n').filter((l) => /\s(MET|MISSED)\s/.test(l));
  assert.equal(verdicts.length, judgedCount, stdout);
  assert.match(stdout, new RegExp(`targets met: \\d+ of ${judgedCount}`));
});
