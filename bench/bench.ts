// `npm run bench`: how much a sync costs upstream, and how close it comes to what the link allows.
// Starts the fake upstream with a round-trip delay and a PyPI-like shape, runs each scenario as a real sync in
// a child process (its own peak RSS), and prints upstream requests, bytes, wall seconds, peak RSS and the lower
// bound (requests × delay ÷ workers + bytes ÷ loopback bandwidth measured with curl). Not a test: nothing here
// fails a build. See README "Benchmark: how to read it".
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { makeConfig } from '../test/helpers/config.js';
import { type FakeUpstream, type FileInput, startFakeUpstream } from '../test/helpers/fake-upstream.js';
import type { SyncChildRequest, SyncChildResult } from '../test/helpers/sync-child.js';
import { findExecutable, startNginx } from '../test/helpers/web-servers.js';
import { compileFilters } from '../src/plan/filters.js';
import { computeScopeKey } from '../src/sync/run.js';
import { createListingJsonParser } from '../src/upstream/listing-stream.js';
import {
  atMost,
  combine,
  formatTable,
  ISSUE_14,
  interleavedRuns,
  type Check,
  type MedianRun,
  type Row,
} from './checks.js';
import { startBigListing } from './listing-server.js';
import { benchBundles } from './bundle-bench.js';
import { benchS3 } from './s3-bench.js';
import { benchScale, type MeasureChild, type ScaleOptions } from './scale.js';
import { measureCommandFirstSync, measureCommandNoop } from './command-noop.js';
import { benchStateLayout, type StateLayoutOptions } from './state-layout.js';

const CHILD = fileURLToPath(new URL('../test/helpers/sync-child.js', import.meta.url));
const COMMAND = fileURLToPath(new URL('../src/pypimirror.cjs', import.meta.url));
const MiB = 1024 * 1024;
const run = promisify(execFile);

interface Options {
  readonly delayMs: number;
  readonly projects: number;
  readonly files: number;
  readonly bigBytes: number;
  readonly bigRounds: number;
  readonly listing: number;
  readonly mirrored: number;
  readonly globs: number;
  readonly workers: number;
  readonly k: number;
  readonly out: string;
  readonly isPlainSkipped: boolean;
  readonly startupRounds: number;
  /** --scale: issue #14 part 4's scenario (scale.ts), off by default. */
  readonly scale: ScaleOptions | null;
  /** --state-layout: issue #14 part 4's state layouts measured (state-layout.ts), off by default. */
  readonly stateLayout: StateLayoutOptions | null;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      'delay-ms': { type: 'string', default: '20' },
      projects: { type: 'string', default: '300' },
      files: { type: 'string', default: '5000' },
      'big-mib': { type: 'string', default: '1024' },
      'big-rounds': { type: 'string', default: '5' },
      listing: { type: 'string', default: '700000' },
      mirrored: { type: 'string', default: '10000' },
      globs: { type: 'string', default: '50' },
      workers: { type: 'string', default: '8' },
      k: { type: 'string', default: '10' },
      out: { type: 'string', default: 'bench-results.json' },
      'skip-plain': { type: 'boolean', default: false },
      'startup-rounds': { type: 'string', default: '9' },
      scale: { type: 'boolean', default: false },
      'scale-projects': { type: 'string', default: '100000' },
      'scale-files': { type: 'string', default: '1000000' },
      'scale-new': { type: 'string', default: '10000' },
      'scale-dir': { type: 'string' },
      'state-layout': { type: 'boolean', default: false },
      'layout-projects': { type: 'string', default: '100000' },
      'layout-files': { type: 'string', default: '10' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      'npm run bench -- [--delay-ms 20] [--projects 300] [--files 5000] [--big-mib 1024] [--big-rounds 5]\n' +
        '                 [--listing 700000] [--mirrored 10000] [--globs 50] [--workers 8] [--k 10] [--out bench-results.json] [--skip-plain]\n' +
        '                 [--startup-rounds 9]\n' +
        '                 [--scale [--scale-projects 100000] [--scale-files 1000000] [--scale-new 10000]\n' +
        '                          [--scale-dir DIR]]\n' +
        '                 [--state-layout [--layout-projects 100000] [--layout-files 10]]\n',
    );
    process.exit(0);
  }
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number ≥ 0, got ${v}`);
    return n;
  };
  return {
    delayMs: num('delay-ms', values['delay-ms']),
    projects: num('projects', values.projects),
    files: num('files', values.files),
    bigBytes: Math.round(num('big-mib', values['big-mib']) * MiB),
    bigRounds: Math.max(1, Math.round(num('big-rounds', values['big-rounds']))),
    listing: num('listing', values.listing),
    mirrored: num('mirrored', values.mirrored),
    globs: num('globs', values.globs),
    workers: Math.max(1, num('workers', values.workers)),
    k: num('k', values.k),
    out: values.out ?? 'bench-results.json',
    isPlainSkipped: values['skip-plain'] === true,
    startupRounds: Math.round(num('startup-rounds', values['startup-rounds'])),
    scale:
      values.scale === true
        ? {
            projects: Math.round(num('scale-projects', values['scale-projects'])),
            files: Math.round(num('scale-files', values['scale-files'])),
            newProjects: Math.round(num('scale-new', values['scale-new'])),
            delayMs: num('delay-ms', values['delay-ms']),
            workers: Math.max(1, num('workers', values.workers)),
            dir: values['scale-dir'] ?? null,
          }
        : null,
    stateLayout:
      values['state-layout'] === true
        ? {
            projects: Math.round(num('layout-projects', values['layout-projects'])),
            filesPerProject: Math.round(num('layout-files', values['layout-files'])),
            changed: Math.round(num('k', values.k)),
          }
        : null,
  };
}

// ---- the shape ----------------------------------------------------------------------------------------

/** Deterministic pseudo-random numbers (a tiny LCG), so every run mirrors the same bytes. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

interface Shape {
  readonly projects: readonly string[];
  readonly files: readonly { project: string; input: FileInput }[];
  readonly bytes: number;
}

/** `projects` projects sharing `files` wheels of 1–40 KiB. */
function makeShape(o: Options): Shape {
  const random = makeRandom(42);
  const pool = Buffer.alloc(64 * 1024);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256);
  const projects = Array.from({ length: o.projects }, (_, i) => `bench-p${String(i).padStart(3, '0')}`);
  const files: { project: string; input: FileInput }[] = [];
  let bytes = 0;
  for (let f = 0; f < o.files; f++) {
    const project = projects[f % projects.length] as string;
    const size = 1024 + Math.floor(random() * 39 * 1024);
    const body = Buffer.alloc(size);
    const at = Math.floor(random() * (pool.length - size));
    pool.copy(body, 0, at, at + size);
    body.writeUInt32BE(f, 0); // every file distinct
    const version = `1.${Math.floor(f / projects.length)}`;
    files.push({
      project,
      input: { filename: `${project.replace(/-/g, '_')}-${version}-py3-none-any.whl`, bytes: body },
    });
    bytes += size;
  }
  return { projects, files, bytes };
}

function seed(fake: FakeUpstream, shape: Shape): void {
  for (const name of shape.projects) fake.addProject(name);
  for (const { project, input } of shape.files) fake.addFile(project, input);
}

// ---- measuring ----------------------------------------------------------------------------------------

/** A row of `checks`, with their combined verdict. */
function judged(checks: readonly Check[]): Pick<Row, 'checks' | 'target' | 'result' | 'isMet'> {
  return { checks, ...combine(checks) };
}

let commandLine: Promise<{ env: Record<string, string>; flags: string[] }> | undefined;

/**
 * The environment and Node flags on the pypimirror command's #! line
 * (`#!/usr/bin/env -S NAME=VALUE... node FLAGS`), which syncs run with, as env(1) would expand them.
 */
function commandNodeSetup(): Promise<{ env: Record<string, string>; flags: string[] }> {
  return (commandLine ??= readFile(COMMAND, 'utf8').then((text) => {
    const first = text.split('\n', 1)[0] ?? '';
    const words = first
      .replace(/^#!\S*env\s+(?:-S\s+)?/, '')
      .split(/\s+/)
      .map((w) => w.replace(/\$\{(\w+)\}/g, (_, name: string) => process.env[name] ?? ''));
    const env: Record<string, string> = {};
    while (/^[A-Za-z_]\w*=/.test(words[0] ?? '')) {
      const word = words.shift() as string;
      env[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
    }
    return { env, flags: words[0] === 'node' ? words.slice(1) : [] };
  }));
}

async function runChild(
  request: SyncChildRequest,
): Promise<{ result: SyncChildResult; processSeconds: number }> {
  const { env, flags } = await commandNodeSetup();
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, CHILD, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const processSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`sync child exited with ${code}: ${out}`);
  return { result: JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SyncChildResult, processSeconds };
}

/** Download speed of `url` as curl sees it (bytes/s), to /dev/null and to a file beside the mirrors. */
async function curlSpeed(url: string, file: string): Promise<{ devNull: number; toFile: number } | null> {
  try {
    await curlOnce(url, '/dev/null'); // warm-up
    const devNull = Math.max(await curlOnce(url, '/dev/null'), await curlOnce(url, '/dev/null'));
    const toFile = await curlOnce(url, file);
    await rm(file, { force: true });
    return { devNull, toFile };
  } catch {
    return null;
  }
}

/** curl's own figure for one download of `url` to `target` (bytes/s). */
async function curlOnce(url: string, target: string): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', target, '-w', '%{speed_download}', url], {
    maxBuffer: MiB,
  });
  return Number(stdout.trim());
}

/**
 * One round of references for the big file, in bytes/s: curl to /dev/null; curl to a file; curl to a file
 * and then `sync FILE` (durable, as a published file must be); and the same work as a verified download done
 * with standard tools (curl | tee FILE | sha256sum, then sync FILE).
 */
async function curlSpeeds(
  url: string,
  file: string,
  size: number,
): Promise<{ devNull: number; toFile: number; synced: number; tools: number } | null> {
  const timed = async (script: string): Promise<number> => {
    const started = performance.now();
    await run('bash', ['-c', `set -o pipefail; ${script}`, 'bash', url, file]);
    const bytesPerSecond = size / ((performance.now() - started) / 1000);
    await rm(file, { force: true });
    return bytesPerSecond;
  };
  try {
    const devNull = await curlOnce(url, '/dev/null');
    const toFile = await curlOnce(url, file);
    await rm(file, { force: true });
    const synced = await timed('curl -sf -o "$2" "$1" && sync "$2"');
    // Hashing while it downloads, as an admin would script it.
    const tools = await timed('curl -sf "$1" | tee "$2" | sha256sum >/dev/null && sync "$2"');
    return { devNull, toFile, synced, tools };
  } catch {
    return null;
  }
}

/**
 * Where the big file is downloaded from. PyPI's pages link files on a CDN (files.pythonhosted.org), which
 * spends none of the mirror's CPU; here the file shares the mirror's cores with whatever serves it. nginx
 * (sendfile, as samples/nginx.conf serves a mirror) comes closest to a remote CDN: its pages come from a
 * fake upstream with the same delay that links the file on nginx. Without nginx the fake upstream serves
 * the file itself, from this process, and its CPU competes with the sync's.
 */
async function serveBigFile(
  fake: FakeUpstream,
  project: string,
  filename: string,
  o: Options,
  work: string,
): Promise<{
  readonly server: string;
  readonly pages: FakeUpstream;
  /** File requests a sync makes that `pages` does not see. */
  readonly fileRequests: number;
  /** CPU seconds the file's server has used so far. */
  cpuSeconds(): Promise<number>;
  close(): Promise<void>;
}> {
  const ownCpu = (): Promise<number> => {
    const used = process.cpuUsage();
    return Promise.resolve((used.user + used.system) / 1e6);
  };
  const inProcess = {
    server: 'the fake upstream (Node, in the bench process)',
    pages: fake,
    fileRequests: 0,
    cpuSeconds: ownCpu,
    close: () => Promise.resolve(),
  };
  if (findExecutable('nginx') === undefined) return inProcess;
  const root = join(work, 'files-host');
  const path = join(root, new URL(fake.fileUrl(project, filename)).pathname);
  await mkdir(join(path, '..'), { recursive: true });
  const file = fake.file(project, filename);
  const out = await open(path, 'w');
  try {
    for (const chunk of file.body.chunks(0, file.size, MiB)) await out.write(chunk);
    // Written back now, not by the kernel's flusher 30 s later in the middle of a round (1 GiB of disk
    // writes that slowed whichever download they met by 0.4-0.9 s).
    await out.datasync();
  } finally {
    await out.close();
  }
  const nginx = await startNginx({ root });
  const pages = await startFakeUpstream({ latencyMs: o.delayMs, filesOrigin: nginx.origin });
  // The same generated bytes (same size and seed), so the page's sha256 is that of nginx's file.
  if ((await pages.addBigFile(project, filename, file.size)).sha256 !== file.sha256) {
    throw new Error(`bench: ${filename} differs between the fake upstream and nginx`);
  }
  return {
    server: `nginx ${nginx.origin} (sendfile, samples/nginx.conf); pages from the fake upstream`,
    pages,
    fileRequests: 1,
    cpuSeconds: () => processTreeCpuSeconds(nginx.pid),
    close: async () => {
      await pages.close();
      await nginx.stop();
    },
  };
}

/** User + system CPU seconds of process `pid` and its children still running (Linux /proc; 0 elsewhere). */
async function processTreeCpuSeconds(pid: number): Promise<number> {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state, ppid, ... utime is field 14 and stime 15 of the whole line.
    if (Number(entry) !== pid && Number(fields[1]) !== pid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond;
}

/** `min–max` of `values`, to two decimals. */
function spread(values: readonly number[]): string {
  return values.length === 0 ? '?' : `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
}

function median(values: readonly number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? null;
}

/**
 * For the big file: the wall time the target allows (bytes ÷ 0.9 × curl to a file) next to the least time the
 * CPU work needs on this machine ((sync CPU + serving CPU) ÷ cores), so a miss can be read as "slow" or as
 * "this machine cannot".
 */
function printCpuFloor(rows: readonly Row[]): void {
  const big = rows.find((r) => r.notes?.['cpuFloorSeconds'] !== undefined);
  const notes = big?.notes;
  if (big === undefined || notes === undefined) return;
  const toFile = median(notes['curlToFileBytesPerSecond'] as number[]);
  if (toFile === null) return;
  const allowed = big.bytes / (0.9 * toFile);
  const floor = notes['cpuFloorSeconds'] as number;
  const sha256 = notes['sha256Seconds'] as number;
  process.stdout.write(
    `\n${big.scenario}: the target allows ${allowed.toFixed(2)} s; the sync used ${big.cpuSeconds.toFixed(2)} CPU s ` +
      `and serving it ${(notes['serverCpuSeconds'] as number).toFixed(2)} CPU s, at least ${floor.toFixed(2)} s on ` +
      `${String(notes['cores'])} cores; sha256 alone, which no thread can share, takes ${sha256.toFixed(2)} s; ` +
      `it took ${big.wallSeconds.toFixed(2)} s.\n`,
  );
}

/**
 * Seconds sha256 takes over `bytes` on one core (measured on 256 MiB and scaled). A digest is sequential:
 * no verified download can be faster than this, whatever curl gets.
 */
function sha256Seconds(bytes: number): number {
  const block = Buffer.alloc(MiB, 7);
  const hash = createHash('sha256');
  const started = performance.now();
  for (let i = 0; i < 256; i++) hash.update(block);
  hash.digest();
  return ((performance.now() - started) / 1000) * (bytes / (256 * MiB));
}

function fmtBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function printTable(rows: readonly Row[]): void {
  const figures = ['requests', 'bytes', 'wall s', 'process s', 'cpu s', 'peak RSS', 'lower bound s'];
  const table = rows.map((r) => ({
    scenario: r.scenario,
    cells: [
      String(r.requests),
      fmtBytes(r.bytes),
      r.wallSeconds.toFixed(2),
      r.processSeconds.toFixed(2),
      r.cpuSeconds.toFixed(2),
      Number.isFinite(r.peakRssMiB) ? `${r.peakRssMiB.toFixed(0)} MiB` : '–',
      r.lowerBoundSeconds.toFixed(2),
    ],
    checks: r.checks,
  }));
  process.stdout.write(formatTable(figures, table));
}

/** A sync child's peak RSS, shown beside a row whose command is judged on the next one. */
function peakRssReference(maxRssBytes: number): Check {
  return { target: 'peak RSS (reference)', result: `${(maxRssBytes / MiB).toFixed(0)} MiB`, isMet: null };
}

/**
 * Issue #14 part 3: `pypimirror --version` and `pypimirror check CONFIG` as an admin runs them (the command
 * through its #! line), medians of `startupRounds` runs, beside Node's own start (`node -e 0`); CPU and peak
 * RSS from GNU time(1) where it is installed.
 */
async function measureStartup(
  o: Options,
  indexUrl: string,
  work: string,
  log: (msg: string) => void,
): Promise<Row[]> {
  const config = join(work, 'startup.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${join(work, 'mirror-startup')}\nindex_url = ${indexUrl}\npackage_matches = bench-p*\n`,
  );
  const measured = { timeTool: findExecutable('time'), scratchFile: join(work, 'time.out') };
  const row = (scenario: string, run: MedianRun, check: Check): Row => ({
    scenario,
    requests: 0,
    bytes: 0,
    wallSeconds: run.seconds,
    processSeconds: run.seconds,
    peakRssMiB: run.peakRssMiB,
    cpuSeconds: run.cpuSeconds,
    lowerBoundSeconds: 0,
    ...judged([check]),
    notes: { startMsPerRound: run.allSeconds.map((seconds) => Math.round(seconds * 1000)) },
  });
  const judge = (run: MedianRun): Check =>
    atMost('process', run.seconds * 1000, ISSUE_14.startupMs, 'ms', '#14 part 3');
  log(`start-up: node, pypimirror --version, pypimirror check (${o.startupRounds} interleaved rounds)`);
  const [node, version, check] = (await interleavedRuns(
    [
      { command: process.execPath, args: ['-e', '0'] },
      { command: COMMAND, args: ['--version'] },
      { command: COMMAND, args: ['check', config] },
    ],
    o.startupRounds,
    measured,
  )) as [MedianRun, MedianRun, MedianRun];
  const reference = {
    target: 'Node itself (reference)',
    result: `${(node.seconds * 1000).toFixed(0)} ms`,
    isMet: null,
  };
  return [
    row('node -e 0', node, reference),
    row('pypimirror --version', version, judge(version)),
    row('pypimirror check CONFIG', check, judge(check)),
  ];
}

// ---- scenarios ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = readOptions();
  const work = await mkdtemp(join(tmpdir(), 'pypimirror-bench-'));
  const rows: Row[] = [];
  const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
  const seconds = (requests: number, bytes: number, bandwidth: number): number =>
    (requests * o.delayMs) / 1000 / o.workers + bytes / bandwidth;
  const fakes: FakeUpstream[] = [];
  try {
    const setup = await commandNodeSetup();
    const assignments = Object.entries(setup.env).map(([k, v]) => `${k}=${v} `);
    log(`syncs run as the pypimirror command does: ${assignments.join('')}node ${setup.flags.join(' ')}`);
    log(
      `shape: ${o.projects} projects, ${o.files} files of 1–40 KiB, one file of ${fmtBytes(o.bigBytes)}; delay ${o.delayMs} ms; workers ${o.workers}`,
    );
    const shape = makeShape(o);
    const fake = await startFakeUpstream({ latencyMs: o.delayMs });
    fakes.push(fake);
    seed(fake, shape);
    if (o.startupRounds > 0) rows.push(...(await measureStartup(o, fake.url, work, log)));
    const bigName = 'bench_huge-1.0-py3-none-any.whl';
    if (o.bigBytes > 0) await fake.addBigFile('bench-huge', bigName, o.bigBytes);

    // Loopback bandwidth, as curl gets it from the same server.
    let bandwidth = 1024 * MiB;
    let curl: { devNull: number; toFile: number } | null = null;
    if (o.bigBytes > 0) {
      log('measuring loopback bandwidth with curl');
      curl = await curlSpeed(fake.fileUrl('bench-huge', bigName), join(work, 'curl.out'));
      if (curl !== null) bandwidth = curl.devNull;
      else log('curl not available: assuming 1 GiB/s');
    }
    log(
      `loopback: ${fmtBytes(bandwidth)}/s (curl to /dev/null), ${curl === null ? '?' : fmtBytes(curl.toFile)}/s (curl to a file)`,
    );

    const base = { workers: o.workers, timeoutMs: 60_000 };
    const measure: MeasureChild = async (scenario, target, request, judge) => {
      target.resetLog();
      log(scenario);
      const { result, processSeconds } = await runChild(request);
      const requests = target.requests.length;
      const bytes = target.bytesSent();
      const lower = seconds(requests, bytes, bandwidth);
      const statuses = target.requests.map((r) => r.status);
      const wall = result.wallMs / 1000;
      const { checks, notes } = judge({ requests, bytes, wall, lower, result, statuses, processSeconds });
      rows.push({
        scenario,
        requests,
        bytes,
        wallSeconds: result.wallMs / 1000,
        processSeconds,
        peakRssMiB: result.maxRssBytes / MiB,
        cpuSeconds: result.cpuSeconds,
        lowerBoundSeconds: lower,
        ...judged(checks),
        ...(notes === undefined ? {} : { notes }),
      });
      if (result.report.failures.length > 0)
        log(`  failures: ${JSON.stringify(result.report.failures.slice(0, 3))}`);
      return result;
    };

    // 1-3. PyPI-like upstream: first sync, no-op, K changes.
    const mirrorA = join(work, 'mirror-pypi');
    const requestA: SyncChildRequest = {
      ...base,
      mirrorRoot: mirrorA,
      indexUrl: fake.url,
      packageMatches: ['bench-p*'],
    };
    await measure('first sync (PyPI-like)', fake, requestA, ({ wall, lower, result }) => ({
      checks: [
        {
          target: 'wall ≤ 1.3 × lower bound',
          result: `${(wall / lower).toFixed(2)} ×`,
          isMet: wall <= 1.3 * lower,
        },
        // The sync in a child; the command's own peak is judged on the next row.
        peakRssReference(result.maxRssBytes),
      ],
    }));
    log('first sync, the pypimirror command (end to end)');
    rows.push(
      await measureCommandFirstSync({
        fake,
        mirrorRoot: join(work, 'mirror-pypi-command'),
        packageMatches: requestA.packageMatches ?? [],
        workers: o.workers,
        rounds: 1,
        work,
        lowerBound: (requests, bytes) => seconds(requests, bytes, bandwidth),
      }),
    );
    await measure('no-op resync (PyPI-like, changelog)', fake, requestA, ({ requests, result }) => ({
      checks: [
        { target: 'requests ≤ 2', result: `${requests}`, isMet: requests <= 2 },
        // runSync alone; the command's own figures are judged on the next row.
        peakRssReference(result.maxRssBytes),
      ],
    }));
    log('no-op resync, the pypimirror command (end to end)');
    rows.push(
      await measureCommandNoop({
        fake,
        mirrorRoot: mirrorA,
        packageMatches: requestA.packageMatches ?? [],
        workers: o.workers,
        rounds: Math.max(1, o.startupRounds),
        work,
        lowerBound: (requests, bytes) => seconds(requests, bytes, bandwidth),
      }),
    );
    const changed = shape.projects.slice(0, o.k);
    for (const [i, project] of changed.entries()) {
      const bytes = Buffer.alloc(20_000, i + 1);
      fake.addFile(project, { filename: `${project.replace(/-/g, '_')}-9.0-py3-none-any.whl`, bytes });
    }
    const expectedK = 1 + o.k + o.k;
    await measure(`resync after K=${o.k} projects changed`, fake, requestA, ({ requests }) => ({
      checks: [
        {
          target: `requests = 1 + K pages + K new files = ${expectedK}`,
          result: `${requests}`,
          isMet: requests === expectedK,
        },
      ],
    }));

    // Object storage (issue #15): a first sync into a bucket against the same sync to local disk.
    await benchS3(
      measure,
      fake,
      { ...base, mirrorRoot: join(work, 'mirror-s3-ref'), indexUrl: fake.url, packageMatches: ['bench-p0*'] },
      log,
    );

    // 4-5. Plain PEP 503 index (HTML only, no serials, no XML-RPC): first sync and no-op.
    if (!o.isPlainSkipped) {
      const plain = await startFakeUpstream({ latencyMs: o.delayMs, formats: 'html-only', xmlrpc: false });
      fakes.push(plain);
      seed(plain, shape);
      const requestB: SyncChildRequest = {
        ...base,
        mirrorRoot: join(work, 'mirror-plain'),
        indexUrl: plain.url,
        packageMatches: ['bench-p*'],
      };
      await measure('first sync (plain index)', plain, requestB, ({ wall, lower }) => ({
        checks: [
          { target: 'wall ÷ lower bound (reference)', result: `${(wall / lower).toFixed(2)} ×`, isMet: null },
        ],
      }));
      await measure('no-op resync (plain index)', plain, requestB, ({ requests, statuses }) => {
        const other = statuses.filter((s) => s !== 304).length;
        return {
          checks: [
            { target: 'only 304s', result: `${requests} requests, ${other} not 304`, isMet: other === 0 },
          ],
        };
      });
      await plain.close();
    }

    // 6. The big file: one project, literal name. Rounds interleave curl and pypimirror on the same server,
    // so that both meet the same machine state: on a VM that hands freed memory back to its host (virtio
    // free page reporting), writing 1 GiB into fresh page cache costs from 0.2 to 2 s more, by luck of the
    // pages. The row shows pypimirror's median run and the medians of curl's, and the spread of both.
    if (o.bigBytes > 0) {
      const host = await serveBigFile(fake, 'bench-huge', bigName, o, work);
      fakes.push(host.pages);
      log(`${fmtBytes(o.bigBytes)} served by ${host.server}`);
      const url = host.pages.fileUrl('bench-huge', bigName);
      const speeds = {
        devNull: [] as number[],
        toFile: [] as number[],
        synced: [] as number[],
        tools: [] as number[],
      };
      const runs: { result: SyncChildResult; processSeconds: number; serverCpu: number }[] = [];
      let requests = 0;
      let bytes = 0;
      log(`${fmtBytes(o.bigBytes)} download, ${o.bigRounds} rounds`);
      const references = async (): Promise<void> => {
        const reference = await curlSpeeds(url, join(work, 'curl.out'), o.bigBytes);
        if (reference === null) return;
        speeds.devNull.push(reference.devNull);
        speeds.toFile.push(reference.toFile);
        speeds.synced.push(reference.synced);
        speeds.tools.push(reference.tools);
      };
      for (let round = 0; round < o.bigRounds; round++) {
        // curl first in even rounds, pypimirror first in odd ones: neither always follows the other.
        if (round % 2 === 0) await references();
        host.pages.resetLog();
        const mirrorRoot = join(work, `mirror-big-${round}`);
        const cpu = await host.cpuSeconds();
        const run = await runChild({
          ...base,
          mirrorRoot,
          indexUrl: host.pages.url,
          packageMatches: ['bench-huge'],
        });
        runs.push({ ...run, serverCpu: (await host.cpuSeconds()) - cpu });
        requests = host.pages.requests.length + host.fileRequests;
        bytes = host.pages.bytesSent() + host.fileRequests * o.bigBytes;
        await rm(mirrorRoot, { recursive: true, force: true });
        if (round % 2 === 1) await references();
      }
      await host.close();
      const mid = [...runs].sort((a, b) => a.result.wallMs - b.result.wallMs)[runs.length >> 1];
      if (mid !== undefined) {
        const wall = mid.result.wallMs / 1000;
        const speed = bytes / wall;
        const toFile = median(speeds.toFile);
        const devNull = median(speeds.devNull);
        const synced = median(speeds.synced);
        const tools = median(speeds.tools);
        const ratio = (of: number | null): string => (of === null ? '?' : (speed / of).toFixed(2));
        const cores = availableParallelism();
        rows.push({
          scenario: `${fmtBytes(o.bigBytes)} download`,
          requests,
          bytes,
          wallSeconds: wall,
          processSeconds: mid.processSeconds,
          peakRssMiB: mid.result.maxRssBytes / MiB,
          cpuSeconds: mid.result.cpuSeconds,
          lowerBoundSeconds: seconds(requests, bytes, bandwidth),
          ...judged([
            {
              target: 'speed ≥ 0.9 × curl to a file',
              isMet: toFile === null ? null : speed >= 0.9 * toFile,
              result:
                `${fmtBytes(speed)}/s = ${ratio(toFile)} × curl to a file, ${ratio(devNull)} × curl to /dev/null, ` +
                `${ratio(synced)} × curl + sync, ${ratio(tools)} × curl | tee | sha256sum + sync ` +
                `(medians of ${o.bigRounds}; sync ${spread(runs.map((r) => r.result.wallMs / 1000))} s, ` +
                `curl to a file ${spread(speeds.toFile.map((b) => bytes / b))} s)`,
            },
          ]),
          notes: {
            wallSecondsPerRound: runs.map((r) => r.result.wallMs / 1000),
            curlToFileBytesPerSecond: speeds.toFile,
            curlToDevNullBytesPerSecond: speeds.devNull,
            curlThenSyncBytesPerSecond: speeds.synced,
            curlTeeSha256sumSyncBytesPerSecond: speeds.tools,
            server: host.server,
            serverCpuSeconds: mid.serverCpu,
            cores,
            // Neither side can finish before the CPU both need has run on the cores there are.
            cpuFloorSeconds: (mid.result.cpuSeconds + mid.serverCpu) / cores,
            sha256Seconds: sha256Seconds(bytes),
          },
        });
      }
    }
    await fake.close();

    // 7-8. PyPI-sized root listing, 10 000 of its projects mirrored.
    if (o.listing > 0) {
      log(`building a ${o.listing}-project listing`);
      const listing = await startBigListing(o.listing, o.mirrored, o.globs, o.delayMs);
      try {
        const parseFilter = measureParseAndFilter(listing.body, listing.globs);
        log(
          `in-process: listing parsed in ${parseFilter.parseMs.toFixed(0)} ms, parsed + filtered through ${o.globs} globs in ${parseFilter.totalMs.toFixed(0)} ms (${parseFilter.selected} selected)`,
        );
        const mirrorE = join(work, 'mirror-listing');
        const requestE: SyncChildRequest = {
          ...base,
          mirrorRoot: mirrorE,
          indexUrl: listing.url,
          packageMatches: listing.globs,
        };
        const scopeKey = computeScopeKey(
          makeConfig({ mirrorRoot: mirrorE, indexUrl: listing.url, packageMatches: listing.globs, ...base }),
        );
        const measureListing = async (
          scenario: string,
          viaChangelog: boolean,
          judge: (wall: number, rss: number, requests: number) => Check[],
        ): Promise<void> => {
          await writeSyntheticState(mirrorE, scopeKey, listing.selected, listing.lastSerial, viaChangelog);
          const before = { ...listing.stats };
          log(scenario);
          const { result, processSeconds } = await runChild(requestE);
          const requests = listing.stats.requests - before.requests;
          const bytes = listing.stats.bytes - before.bytes;
          const wall = result.wallMs / 1000;
          const rss = result.maxRssBytes / MiB;
          rows.push({
            scenario,
            requests,
            bytes,
            wallSeconds: wall,
            processSeconds,
            peakRssMiB: rss,
            cpuSeconds: result.cpuSeconds,
            lowerBoundSeconds: seconds(requests, bytes, bandwidth),
            ...judged(judge(wall, rss, requests)),
            notes: { checked: result.report.projectsChecked, toCheck: result.report.projectsChanged },
          });
        };
        await measureListing(
          `root listing of ${o.listing} projects, ${o.mirrored} mirrored`,
          false,
          (_wall, rss) => [
            atMost('peak RSS', rss, ISSUE_14.listingPeakRssMiB, 'MiB', '#14 part 2'),
            {
              target: 'parse + filter in-process (reference)',
              result: `${(parseFilter.totalMs / 1000).toFixed(2)} s`,
              isMet: null,
            },
          ],
        );
        await measureListing(
          `no-op resync, ${o.mirrored} mirrored (changelog)`,
          true,
          (wall, _rss, requests) => [
            { target: 'requests ≤ 2', result: `${requests}`, isMet: requests <= 2 },
            { target: 'wall < 1 s', result: `${wall.toFixed(2)} s`, isMet: wall < 1 },
          ],
        );
      } finally {
        await listing.close();
      }
    }
    // The air-gapped pair (issue #16): export and import of a change of --big-mib against tar.
    if (o.bigBytes > 0) rows.push(...(await benchBundles(work, o.bigBytes, log)));
    // 100 000 mirrored projects (issue #14 part 4), with --scale only.
    if (o.scale !== null) await benchScale(o.scale, { work, log, measure });
    if (o.stateLayout !== null) rows.push(...(await benchStateLayout(o.stateLayout, work, log)));
  } finally {
    for (const f of fakes) await f.close();
    await rm(work, { recursive: true, force: true });
  }

  process.stdout.write('\n');
  printTable(rows);
  printCpuFloor(rows);
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    options: o,
    rows,
  };
  await writeFile(o.out, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nresults written to ${o.out}\n`);
}

/** In-process: the listing through the streaming parser in 64 KiB pieces, each name through the globs. */
function measureParseAndFilter(
  body: Buffer,
  globs: readonly string[],
): { parseMs: number; totalMs: number; selected: number } {
  const text = body.toString('utf8');
  const feed = (onName: (name: string) => void): number => {
    const started = performance.now();
    const parser = createListingJsonParser((p) => onName(p.name));
    for (let at = 0; at < text.length; at += 65_536) parser.write(text.slice(at, at + 65_536));
    parser.end();
    return performance.now() - started;
  };
  const parseMs = feed(() => {});
  const filters = compileFilters(globs, []);
  let selected = 0;
  const totalMs = feed((name) => {
    if (filters.matchProject(name)) selected++;
  });
  return { parseMs, totalMs, selected };
}

/** A mirror state as if `selected` were synced at their listing serials (no pages needed: nothing changes). */
async function writeSyntheticState(
  root: string,
  scopeKey: string,
  selected: ReadonlyMap<string, { displayName: string; serial: number }>,
  lastSerial: number,
  viaChangelog: boolean,
): Promise<void> {
  await mkdir(join(root, '.pypimirror', 'projects'), { recursive: true });
  const projects: Record<string, { displayName: string; serial: number }> = {};
  for (const [name, p] of [...selected.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) projects[name] = p;
  const now = new Date().toISOString();
  const state = {
    formatVersion: 1,
    scopeKey,
    upstreamKey: null,
    lastSerial,
    listingCount: null,
    projects,
    lastRun: { startedAt: now, finishedAt: now, ok: true },
    discovery: {
      mode: viaChangelog ? 'changelog' : 'listing-serial',
      // Not via the changelog: as if the upstream had said it has none (so the listing is read at once).
      changelogUnsupportedAt: viaChangelog ? null : now,
      listingEtag: null,
      listingLastModified: null,
      pending: {},
      isListingDue: false,
    },
  };
  await writeFile(join(root, '.pypimirror', 'state.json'), `${JSON.stringify(state, null, 1)}\n`);
}

await main();
