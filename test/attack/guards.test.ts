// Issue #10, "What broke" 2: one run could empty the mirror, silently or slowly. Each test mirrors 100 projects
// of 3 files from the hostile upstream with the built CLI, then turns the upstream against it, and asserts the
// deletion guards' outcome: nothing removed, one warning naming the counts, the hold in status.json, the metrics
// and `check`, a bounded child that ends on its own. A held run exits 1 (see README "Exit codes").
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  ATTACK_RSS_LIMIT_MIB,
  type MeasuredRun,
  runCliMeasured,
  writeAttackConfig,
} from '../helpers/attack.js';
import {
  dist,
  type FakeDist,
  listingRoute,
  projectPage,
  projectRoutes,
  type Route,
  startHostileUpstream,
  type HostileUpstream,
} from '../helpers/hostile-upstream.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import type { MirrorStatus } from '../../src/status.js';

const PROJECTS = Array.from({ length: 100 }, (_, i) => `proj-${String(i).padStart(3, '0')}`);
const filesOf = (p: string): FakeDist[] => [
  dist(`${p}-1.0.tar.gz`),
  dist(`${p.replace('-', '_')}-1.0-py3-none-any.whl`),
  dist(`${p}-0.9.tar.gz`),
];

interface Routes {
  readonly listing?: readonly string[];
  /** Project page (and its files) per listed project; absent = 404. */
  readonly page?: (project: string) => Record<string, Route> | null;
}

function scenario(name: string, r: Routes = {}): { name: string; routes: Record<string, Route> } {
  const listing = r.listing ?? PROJECTS;
  const routes: Record<string, Route> = { ...listingRoute(listing) };
  for (const p of listing) Object.assign(routes, (r.page ?? ((q) => projectRoutes(q, filesOf(q))))(p) ?? {});
  return { name, routes };
}

interface Mirror {
  readonly up: HostileUpstream;
  readonly root: string;
  readonly config: string;
  readonly metrics: string;
  sync(...flags: string[]): Promise<MeasuredRun>;
}

/** 100 projects × 3 files mirrored by a first sync (exit 0). */
async function mirror(
  t: TestContext,
  opts: { html?: boolean; values?: Record<string, string> } = {},
): Promise<Mirror> {
  const html = opts.html === true;
  const up = await startHostileUpstream(
    scenario('healthy', { page: (p) => projectRoutes(p, filesOf(p), { html }) }),
  );
  t.after(() => up.close());
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const metrics = join(dir, 'pypimirror.prom');
  const config = await writeAttackConfig(dir, {
    mirror_file_path: root,
    index_url: up.url,
    package_matches: 'proj-*',
    timeout: '5s',
    workers: '8',
    metrics_file: metrics,
    ...opts.values,
  });
  const m: Mirror = {
    up,
    root,
    config,
    metrics,
    async sync(...flags) {
      const run = await runCliMeasured(t, ['sync', config, ...flags], { timeoutMs: 120_000 });
      assert.equal(run.timedOut, false, run.output);
      assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `peak RSS ${run.peakRssMiB} MiB`);
      return run;
    },
  };
  const first = await m.sync();
  assert.equal(first.code, 0, first.output);
  assert.equal((await distFiles(root)).length, 300);
  return m;
}

/** Mirrored distribution files (pages and state left out). */
async function distFiles(root: string): Promise<string[]> {
  return (await listTree(root)).filter((f) => f.includes('/') && !/\/index\.(html|v1_json)$/.test(f));
}

async function readStatus(root: string): Promise<MirrorStatus> {
  return JSON.parse(await readFile(join(root, '.pypimirror/status.json'), 'utf8')) as MirrorStatus;
}

/** The warnings of a hold in a run's output: there must be exactly one. */
function holdLines(run: MeasuredRun): string[] {
  return run.output.split('\n').filter((l) => l.includes('deletions held:'));
}

/** A held run: exit 1, nothing removed, one warning matching `pattern`, the counts in status.json. */
async function assertHeld(
  m: Mirror,
  run: MeasuredRun,
  pattern: RegExp,
  counts: { projects: number; files: number; left?: number },
): Promise<void> {
  assert.equal(run.code, 1, run.output);
  assert.equal((await distFiles(m.root)).length, counts.left ?? 300, 'nothing removed');
  const lines = holdLines(run);
  assert.equal(lines.length, 1, run.output);
  assert.match(lines[0] ?? '', pattern);
  const status = await readStatus(m.root);
  assert.equal(status.lastRun.result, 'held');
  assert.equal(status.lastRun.deletionsHeld?.projects, counts.projects);
  assert.equal(status.lastRun.deletionsHeld?.files, counts.files);
}

test('every page answers 404 with the listing intact: nothing is removed, one warning, the hold is shown', async (t) => {
  const m = await mirror(t);
  m.up.setScenario(scenario('all 404', { page: () => null }));
  const run = await m.sync();
  await assertHeld(
    m,
    run,
    /this run would remove 100 of 100 selected projects \(300 of 300 files\), as 100 of the 100 selected projects answered 404/,
    { projects: 100, files: 300 },
  );
  assert.match(holdLines(run)[0] ?? '', /run "pypimirror sync --allow-deletions" once to let them go/);
  assert.ok(
    (await readFile(join(m.root, 'index.html'), 'utf8')).includes('proj-099/'),
    'the root page keeps them',
  );
  const metrics = await readFile(m.metrics, 'utf8');
  assert.match(metrics, /^pypimirror_last_run_deletions_held\{mirror="[^"]*"\} 1$/m);
  assert.match(metrics, /^pypimirror_last_run_deletions_held_projects\{mirror="[^"]*"\} 100$/m);
  assert.match(metrics, /^pypimirror_last_run_deletions_held_files\{mirror="[^"]*"\} 300$/m);
  const check = await runCliMeasured(t, ['check', m.config]);
  assert.equal(check.code, 0, check.output);
  assert.match(
    check.output,
    /# deletions held since \d{4}-\d\d-\d\dT[^:]+:\d\d:\d\d\.\d+Z: deletions held: this run would remove 100/,
  );
  t.diagnostic('cases: 1');
});

test('every page comes back quarantined: projects keep their files and their page', async (t) => {
  const m = await mirror(t);
  const before = await readFile(join(m.root, 'proj-000/index.html'), 'utf8');
  m.up.setScenario(
    scenario('all quarantined', { page: (p) => projectRoutes(p, [], { status: 'quarantined' }) }),
  );
  const run = await m.sync();
  await assertHeld(m, run, /100 of the 100 selected projects came back quarantined/, {
    projects: 100,
    files: 300,
  });
  assert.equal(await readFile(join(m.root, 'proj-000/index.html'), 'utf8'), before, 'the page is unchanged');
  t.diagnostic('cases: 1');
});

test('a listing padded with 100 unrelated names and none of the selected ones removes nothing', async (t) => {
  const m = await mirror(t);
  const padding = PROJECTS.map((p) => p.replace('proj', 'other'));
  m.up.setScenario(
    scenario('padded listing', { listing: padding, page: (p) => projectRoutes(p, filesOf(p)) }),
  );
  const run = await m.sync();
  await assertHeld(
    m,
    run,
    /because the upstream listing lists only 0 of the 100 selected projects mirrored here/,
    {
      projects: 100,
      files: 300,
    },
  );
  t.diagnostic('cases: 1');
});

test('losing just under half per run is caught by max_deletions_window, and stays held', async (t) => {
  // max_deletions = 50: one run may remove just under half; the window holds the second such run.
  const m = await mirror(t, { values: { max_deletions: '50' } });
  let listed = PROJECTS;
  const held: number[] = [];
  for (let run = 1; run <= 7; run++) {
    const mirrored = new Set((await distFiles(m.root)).map((f) => f.split('/')[0])).size;
    const next = listed.slice(0, Math.ceil((mirrored + 1) / 2)); // drops floor((mirrored - 1) / 2)
    listed = next;
    m.up.setScenario(scenario(`bleed ${run}`, { listing: listed }));
    const result = await m.sync();
    if (run === 1) {
      assert.equal(result.code, 0, result.output);
      assert.equal((await distFiles(m.root)).length, 153, '49 of 100 projects removed');
      continue;
    }
    const dropped = mirrored - listed.length;
    await assertHeld(m, result, /max_deletions_window = 7d, more than max_deletions = 50%/, {
      projects: dropped,
      files: dropped * 3,
      left: 153,
    });
    held.push(run);
  }
  assert.deepEqual(held, [2, 3, 4, 5, 6, 7]);
  t.diagnostic('cases: 7');
});

test('an HTML page cut off after its first link (close-delimited body) removes nothing', async (t) => {
  const m = await mirror(t, { html: true });
  const cut = (p: string): Record<string, Route> => {
    const full = projectPage(p, filesOf(p), { html: true });
    const body = String(full.body);
    return {
      [`/simple/${p}/`]: { ...full, body: body.slice(0, body.indexOf('</a>') + 4), framing: 'close' },
    };
  };
  m.up.setScenario(scenario('cut pages', { page: cut }));
  const run = await m.sync();
  assert.equal(run.code, 1, run.output);
  assert.equal((await distFiles(m.root)).length, 300, 'nothing removed');
  const lines = holdLines(run);
  assert.equal(lines.length, 1, run.output);
  assert.match(lines[0] ?? '', /100 project pages would drop 200 of their 300 mirrored files/);
  const status = await readStatus(m.root);
  assert.equal(status.lastRun.deletionsHeld?.files, 200);
  // The pages still link every file: pip finds them all.
  assert.equal(((await readFile(join(m.root, 'proj-000/index.html'), 'utf8')).match(/<a /g) ?? []).length, 3);
  t.diagnostic('cases: 1');
});

test('a close-delimited HTML page cut short by one link keeps that file, though one file is under every share', async (t) => {
  const m = await mirror(t, { html: true });
  // One page of 100 loses its last link: 1 of 300 files, under max_deletions and not "most of the page";
  // only the framing (no length, not chunked, no </html>) tells that the page may have ended early.
  const cut = (p: string): Record<string, Route> => {
    const full = projectPage(p, filesOf(p), { html: true });
    if (p !== 'proj-007') return projectRoutes(p, filesOf(p), { html: true });
    const body = String(full.body);
    return { [`/simple/${p}/`]: { ...full, body: body.slice(0, body.lastIndexOf('<a ')), framing: 'close' } };
  };
  m.up.setScenario(scenario('one page cut', { page: cut }));
  const run = await m.sync();
  assert.equal((await distFiles(m.root)).length, 300, `nothing removed:\n${run.output}`);
  const lines = holdLines(run);
  assert.equal(lines.length, 1, run.output);
  assert.match(lines[0] ?? '', /proj-007: 1 of 3 files, the page may have ended early/);
  // The same page, whole but without </html> and with a length, is believed: the file goes.
  const short = (p: string): Record<string, Route> => {
    if (p !== 'proj-007') return projectRoutes(p, filesOf(p), { html: true });
    const body = String(projectPage(p, filesOf(p).slice(0, 2), { html: true }).body).replace('</html>', '');
    return { [`/simple/${p}/`]: { headers: { 'content-type': 'text/html' }, body } };
  };
  m.up.setScenario(scenario('one file gone', { page: short }));
  const believed = await m.sync();
  assert.equal(believed.code, 0, believed.output);
  assert.equal((await distFiles(m.root)).length, 299, believed.output);
  t.diagnostic('cases: 2');
});

test('sync --allow-deletions releases one hold; the next run holds again', async (t) => {
  const m = await mirror(t);
  const half = PROJECTS.slice(0, 50);
  m.up.setScenario(
    scenario('half 404', { page: (p) => (half.includes(p) ? projectRoutes(p, filesOf(p)) : null) }),
  );
  await assertHeld(m, await m.sync(), /50 of the 100 selected projects answered 404/, {
    projects: 50,
    files: 150,
  });
  const released = await m.sync('--allow-deletions');
  assert.equal(released.code, 0, released.output);
  assert.equal(holdLines(released).length, 0);
  assert.equal((await distFiles(m.root)).length, 150);
  assert.equal((await readStatus(m.root)).lastRun.deletionsHeld, null);
  const ten = half.slice(0, 10);
  m.up.setScenario(
    scenario('more 404', { page: (p) => (ten.includes(p) ? projectRoutes(p, filesOf(p)) : null) }),
  );
  await assertHeld(m, await m.sync(), /40 of the 50 selected projects answered 404/, {
    projects: 40,
    files: 120,
    left: 150,
  });
  t.diagnostic('cases: 3');
});

/** Every path below `root` with its type, size, mode and mtime. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const s = await stat(path);
      out.push(`${relative(root, path)} ${entry.isDirectory() ? 'd' : 'f'} ${s.size} ${s.mode} ${s.mtimeMs}`);
      if (entry.isDirectory()) await walk(path);
    }
  };
  const top = await stat(root);
  out.push(`. d ${top.mode} ${top.mtimeMs}`);
  await walk(root);
  return out.sort();
}

test('sync --dry-run prints what would be fetched and removed, and changes nothing', async (t) => {
  const m = await mirror(t);
  const listed = PROJECTS.filter((p) => p !== 'proj-099');
  const newer = dist('proj-000-2.0.tar.gz');
  m.up.setScenario(
    scenario('changes', {
      listing: listed,
      page: (p) =>
        projectRoutes(
          p,
          p === 'proj-000' ? [...filesOf(p), newer] : filesOf(p).slice(0, p === 'proj-001' ? 2 : 3),
        ),
    }),
  );
  const before = await snapshot(m.root);
  const metricsBefore = await readFile(m.metrics, 'utf8');
  const run = await m.sync('--dry-run');
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /^proj-000: 1 files to download$/m);
  assert.match(run.output, /^ {2}\+ proj-000-2\.0\.tar\.gz \(\d+ B\)$/m);
  assert.match(run.output, /^proj-099: project to remove \(3 files\)$/m);
  assert.match(run.output, /^ {2}- proj-099-0\.9\.tar\.gz$/m);
  assert.match(run.output, /^proj-001: 1 files to remove$/m);
  assert.match(
    run.output,
    /^dry run: 99 projects checked; would fetch 1 files \(\d+ B\) and remove 1 projects and 4 files; nothing was changed$/m,
  );
  assert.deepEqual(await snapshot(m.root), before, 'no file, directory, state or status changed');
  assert.equal(await readFile(m.metrics, 'utf8'), metricsBefore);
  // The same changes for real.
  const real = await m.sync();
  assert.equal(real.code, 0, real.output);
  assert.equal((await distFiles(m.root)).length, 300 - 3 - 1 + 1);
  t.diagnostic('cases: 2');
});
