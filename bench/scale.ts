// `npm run bench -- --scale`: issue #14 part 4, a mirror of 100 000 projects and 1 000 000 small files.
// The mirror is written by pypimirror's own code (claimRoot, each page as the upstream client decodes it,
// writeRecord, the page renderers, writeState), then three syncs run in a child process each: a no-op through
// the changelog, a first sync of new projects, and a filter-only change (filename_matches) that re-plans every
// project. Each row shows its figures against the targets (checks.ts). See README "Benchmark".
import { setMaxListeners } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { atMost, type Check } from './checks.js';
import { makeConfig } from '../test/helpers/config.js';
import { startFakeUpstream, type FakeUpstream } from '../test/helpers/fake-upstream.js';
import { connectSilently, type SyncChildRequest, type SyncChildResult } from '../test/helpers/sync-child.js';
import { INDEX_HTML, INDEX_JSON, filePath, projectDir } from '../src/model/layout.js';
import { claimRoot } from '../src/mirror/ownership.js';
import type { LocalFile } from '../src/model/record.js';
import {
  renderProjectHtml,
  renderProjectJson,
  renderRootHtml,
  renderRootJson,
} from '../src/mirror/render.js';
import { EMPTY_STATE, type MirroredProject, writeRecord, writeState } from '../src/mirror/state.js';
import { mainRouteKeys } from '../src/sync/upstreams.js';
import { nextRecord } from '../src/sync/project.js';
import { ensureDir, writeFileAtomic } from '../src/util/fs.js';
import { forEachWindowed } from '../src/util/pool.js';
import { emptyTrash, keptScaleMirror } from './scale-dir.js';
import { createLocalStorage } from '../src/storage/local.js';

/** What a scenario's judge is given: the figures of its run. */
interface RunFigures {
  readonly requests: number;
  readonly bytes: number;
  readonly wall: number;
  readonly lower: number;
  readonly result: SyncChildResult;
  readonly statuses: number[];
  readonly processSeconds: number;
}

/** Runs one sync in a child process against `target`, and adds its row, judged by `judge`, to the table. */
export type MeasureChild = (
  scenario: string,
  target: FakeUpstream,
  request: SyncChildRequest,
  judge: (r: RunFigures) => { checks: Check[]; notes?: Record<string, unknown> },
) => Promise<SyncChildResult>;

const MiB = 1024 * 1024;
/** Issue #14 part 4's targets. */
const TARGETS = { noopSeconds: 1, noopPeakRssMiB: 250, firstSyncOverLowerBound: 1.2, replanSeconds: 30 };
/** Projects written at once while the mirror is generated (each record is fsynced, as a sync does). */
const GENERATE_CONCURRENCY = 64;

export interface ScaleOptions {
  /** Projects mirrored before the scenarios (100 000 in the issue). */
  readonly projects: number;
  /** Files recorded over them (1 000 000 in the issue). */
  readonly files: number;
  /** Projects the first-sync scenario adds upstream, one small file each (10 000 in the issue). */
  readonly newProjects: number;
  readonly delayMs: number;
  readonly workers: number;
  /** `--scale-dir`: where the mirror is kept between runs (scale-dir.ts); null: written in the work directory. */
  readonly dir: string | null;
}

/** What bench.ts lends the scenario: its scratch directory, log, and the runner that adds a row per sync. */
export interface ScaleDeps {
  readonly work: string;
  readonly log: (msg: string) => void;
  readonly measure: MeasureChild;
}

/** Project `index`'s name: `scale-p000042`. */
function projectName(index: number): string {
  return `scale-p${String(index).padStart(6, '0')}`;
}

/** A small wheel's bytes (64–319), distinct per project and file. */
function fileBytes(project: string, k: number): Buffer {
  const text = `${project} file ${k} `;
  return Buffer.from(text.repeat(Math.ceil((64 + ((k * 37) % 256)) / text.length)));
}

function wheelName(project: string, version: string): string {
  return `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`;
}

/** `files` wheels spread over `projects` projects upstream; the bytes of each, by project. */
function seedMirrored(fake: FakeUpstream, o: ScaleOptions): void {
  for (let p = 0; p < o.projects; p++) {
    const name = projectName(p);
    const count = Math.floor(o.files / o.projects) + (p < o.files % o.projects ? 1 : 0);
    fake.addProject(
      name,
      Array.from({ length: count }, (_, k) => ({
        filename: wheelName(name, `1.${k}`),
        bytes: fileBytes(name, k),
      })),
    );
  }
}

/**
 * The mirror as a sync of `fake` leaves it: every page fetched and decoded by the upstream client, files on
 * disk, the project pages, records and state written by the functions a sync writes them with (records
 * durable; the files and pages without fsync, which only the setup's time would notice). Returns the state's
 * project entries, sorted by name.
 */
async function generateMirror(
  root: string,
  fake: FakeUpstream,
  o: ScaleOptions,
  log: ScaleDeps['log'],
): Promise<Record<string, MirroredProject>> {
  const cfg = scaleConfig(root, fake, o);
  await claimRoot(cfg, createLocalStorage(cfg.mirrorRoot));
  const { http, upstream } = connectSilently({ ...cfg, timeoutMs: 60_000 });
  const projects: Record<string, MirroredProject> = {};
  const signal = new AbortController().signal;
  setMaxListeners(0, signal); // one listener per request in flight
  const started = performance.now();
  try {
    const names = Array.from({ length: o.projects }, (_, p) => projectName(p));
    await forEachWindowed(names, GENERATE_CONCURRENCY, GENERATE_CONCURRENCY, async (name) => {
      const page = await upstream.fetchProject(name, null, signal);
      if ('notModified' in page) throw new Error(`bench: ${name}: 304 to an unconditional request`);
      const files: LocalFile[] = page.files.map((f) => ({
        filename: f.filename,
        sha256: f.hashes['sha256'] as string,
        size: f.size as number,
        url: f.url,
        upstreamHashes: f.hashes,
        requiresPython: f.requiresPython,
        yanked: f.yanked,
        uploadTime: f.uploadTime,
        metadataSha256: null,
      }));
      const record = nextRecord(page, name, files, null);
      await ensureDir(projectDir(root, name));
      await Promise.all(
        record.files.map((f, k) =>
          writeFile(filePath(root, name, f.filename), fileBytes(name, k), { mode: 0o644 }),
        ),
      );
      const dir = projectDir(root, name);
      await writeFileAtomic(join(dir, INDEX_HTML), renderProjectHtml(record), { isDurable: false });
      await writeFileAtomic(join(dir, INDEX_JSON), renderProjectJson(record), { isDurable: false });
      await writeRecord(createLocalStorage(root), record);
      projects[name] = { displayName: name, serial: record.serial, files: record.files.length };
    });
  } finally {
    await http.close();
  }
  const sorted = Object.fromEntries(Object.entries(projects).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeRootAndState(root, fake, o, sorted);
  log(
    `scale: mirror of ${o.projects} projects, ${o.files} files written in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return sorted;
}

/** The config the mirror is written with (the sync child's, without its filters). */
function scaleConfig(root: string, fake: FakeUpstream, o: ScaleOptions): ReturnType<typeof makeConfig> {
  return makeConfig({ mirrorRoot: root, indexUrl: fake.url, workers: o.workers });
}

/** The root pages and state.json of a mirror holding `projects` (sorted), synced from `fake` at its serial. */
async function writeRootAndState(
  root: string,
  fake: FakeUpstream,
  o: ScaleOptions,
  projects: Record<string, MirroredProject>,
): Promise<void> {
  const entries = Object.keys(projects).map((name) => ({ name, displayName: name }));
  await writeFileAtomic(join(root, INDEX_HTML), renderRootHtml(entries, null));
  await writeFileAtomic(join(root, INDEX_JSON), renderRootJson(entries));
  const now = new Date().toISOString();
  // As a sync through the changelog leaves it: a no-op then finds nothing to change, nor to write.
  await writeState(createLocalStorage(root), {
    ...EMPTY_STATE,
    ...mainRouteKeys(scaleConfig(root, fake, o)),
    lastSerial: fake.serial,
    projects,
    lastRun: { startedAt: now, finishedAt: now, ok: true },
    removals: [],
    deletionsHeld: null,
    discovery: {
      mode: 'changelog',
      changelogUnsupportedAt: null,
      listingEtag: null,
      listingLastModified: null,
      pending: {},
      isListingDue: false,
    },
  });
}

/** The mirror to run the scenarios on: written in the work directory, or kept in `o.dir` (scale-dir.ts). */
function readyMirror(fake: FakeUpstream, o: ScaleOptions, deps: ScaleDeps): Promise<string> {
  const generate = async (root: string): Promise<Record<string, MirroredProject>> =>
    generateMirror(root, fake, o, deps.log);
  if (o.dir === null) {
    const root = join(deps.work, 'mirror-scale');
    return generate(root).then(() => root);
  }
  const params = { projects: o.projects, files: o.files, lastSerial: fake.serial };
  return keptScaleMirror(
    o.dir,
    params,
    { generate, writeRootAndState: (root, projects) => writeRootAndState(root, fake, o, projects) },
    deps.log,
  );
}

/**
 * Where a run's wall time went beyond its requests, from the upstream's log: the span from the first request
 * to the end of the last, and the requests in flight on average over it (the lower bound has `workers` all
 * the time), and each request's mean time at the upstream (its delay, plus serving it).
 */
function requestSpan(fake: FakeUpstream, workers: number): Record<string, number> {
  let first = Infinity;
  let last = -Infinity;
  let busy = 0;
  let ended = 0;
  for (const r of fake.requests) {
    if (r.endedAt === undefined) continue;
    first = Math.min(first, r.startedAt);
    last = Math.max(last, r.endedAt);
    busy += r.endedAt - r.startedAt;
    ended++;
  }
  const span = last - first;
  if (!(span > 0)) return {};
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    requestSpanSeconds: round(span / 1000),
    meanInFlight: round(busy / span),
    workers,
    meanRequestMs: round(busy / ended),
  };
}

/**
 * A full collection now (`npm run bench` runs node with --expose-gc), then a wait until this process's RSS
 * has held steady for a second (at most 30 s): the freed heap is given back before a scenario, not during it.
 */
async function collectNow(log: (msg: string) => void): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  const before = process.memoryUsage.rss();
  gc();
  let last = process.memoryUsage.rss();
  for (let waited = 0, steady = 0; steady < 4 && waited < 30_000; waited += 250) {
    await sleep(250);
    const rss = process.memoryUsage.rss();
    steady = Math.abs(rss - last) < 4 * MiB ? steady + 1 : 0;
    last = rss;
  }
  log(
    `scale: the seeded catalogue collected, RSS ${Math.round(before / MiB)} → ${Math.round(last / MiB)} MiB`,
  );
}

/** The scenarios, each a row of bench.ts's table (through deps.measure). `o.projects` 0: none. */
export async function benchScale(o: ScaleOptions, deps: ScaleDeps): Promise<void> {
  const { log, measure } = deps;
  const fake = await startFakeUpstream({ latencyMs: 0 });
  try {
    log(`scale: seeding the fake upstream with ${o.projects} projects, ${o.files} files`);
    seedMirrored(fake, o);
    const root = await readyMirror(fake, o, deps);
    // Only the setup reads the seeded files: the scenarios see the upstream through its changelog. Held,
    // they were 1 GB of this process's heap, whose collections (scavenges of 20-30 ms) stalled the upstream
    // the sync waits on.
    fake.forgetCatalogue();
    await collectNow(log);
    fake.latencyMs = o.delayMs;
    const request: SyncChildRequest = {
      mirrorRoot: root,
      indexUrl: fake.url,
      workers: o.workers,
      timeoutMs: 60_000,
    };
    const pageRequests = (): number => fake.requests.filter((r) => /^\/simple\/[^/]+\/$/.test(r.path)).length;

    await measure(
      `scale: no-op, ${o.projects} projects (changelog)`,
      fake,
      request,
      ({ requests, wall, result }) => ({
        checks: [
          { target: 'requests ≤ 2', result: `${requests}`, isMet: requests <= 2 },
          atMost('wall', wall, TARGETS.noopSeconds, 's', '#14 part 4', 2),
          atMost('peak RSS', result.maxRssBytes / MiB, TARGETS.noopPeakRssMiB, 'MiB', '#14 part 4'),
        ],
      }),
    );

    for (let n = 0; n < o.newProjects; n++) {
      const name = `scale-new${String(n).padStart(6, '0')}`;
      fake.addProject(name, [{ filename: wheelName(name, '1.0'), bytes: fileBytes(name, 0) }]);
    }
    const expected = 1 + 2 * o.newProjects;
    await measure(
      `scale: first sync of ${o.newProjects} new projects`,
      fake,
      request,
      ({ requests, wall, lower }) => {
        const span = requestSpan(fake, o.workers);
        const served = ((span['meanRequestMs'] ?? NaN) * requests) / o.workers / 1000;
        return {
          notes: span,
          checks: [
            {
              target: `requests = 1 + pages + files = ${expected}`,
              result: `${requests}`,
              isMet: requests === expected,
            },
            {
              target: `wall ≤ ${TARGETS.firstSyncOverLowerBound} × lower bound (#14 part 4)`,
              result: `${(wall / lower).toFixed(2)} ×`,
              isMet: wall <= TARGETS.firstSyncOverLowerBound * lower,
            },
            {
              // The upstream's own time per request (its delay, and serving) in place of the delay alone.
              target: "wall ÷ (requests × the upstream's mean time per request ÷ workers) (reference)",
              result: `${(wall / served).toFixed(2)} ×`,
              isMet: null,
            },
          ],
        };
      },
    );

    // Every file is a wheel: the new filter keeps every file, and only the re-planning is measured.
    await measure(
      `scale: filename_matches changed, ${o.projects + o.newProjects} projects re-planned`,
      fake,
      { ...request, filenameMatches: ['*.whl'] },
      ({ wall, result }) => {
        const pages = pageRequests();
        return {
          checks: [
            {
              target: 'no page request (the changelog vouches for stored pages)',
              result: `${pages} pages`,
              isMet: pages === 0,
            },
            atMost('wall', wall, TARGETS.replanSeconds, 's', '#14 part 4', 2),
          ],
          notes: { pageRequests: pages, projectsChanged: result.report.projectsChanged },
        };
      },
    );
  } finally {
    await fake.close();
    if (o.dir !== null) await emptyTrash(o.dir);
  }
}
