// `npm run bench:peers -- --bandersnatch PATH`: pypimirror and bandersnatch side by side on the same work
// (issue #14's "Done means"). Both mirror the same selection from the same fake upstream (real wheels with
// PEP 658 metadata, and sdists, behind a round-trip delay), with the same number of workers, through their
// installed commands, in interleaved rounds; the table gives each one's medians: requests, wall time from
// spawn to exit, CPU and peak RSS (GNU time). Nothing here is part of the suite and no peer is shipped: the
// peer is whatever command `--bandersnatch` names (README "Benchmark: side by side with bandersnatch").
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { buildSdist, buildWheel, type BuiltDist } from '../test/helpers/dist-builder.js';
import { type FakeUpstream, startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { CLI } from '../test/helpers/run-cli.js';
import { findExecutable } from '../test/helpers/web-servers.js';
import { formatTable, runMeasured, type Check, type CommandRun } from './checks.js';

const run = promisify(execFile);

interface Options {
  readonly bandersnatch: string;
  readonly rounds: number;
  readonly delayMs: number;
  readonly workers: number;
  readonly selected: number;
  readonly others: number;
  readonly files: number;
  readonly changed: number;
  readonly out: string;
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      bandersnatch: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      'delay-ms': { type: 'string', default: '20' },
      workers: { type: 'string', default: '10' },
      selected: { type: 'string', default: '66' },
      others: { type: 'string', default: '34' },
      files: { type: 'string', default: '685' },
      changed: { type: 'string', default: '3' },
      out: { type: 'string', default: 'bench-peers.json' },
    },
  });
  const num = (name: string, v: string | undefined, least: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < least)
      throw new Error(`--${name}: expected an integer ≥ ${least}, got ${v}`);
    return n;
  };
  if (values.bandersnatch === undefined) {
    throw new Error('--bandersnatch: the bandersnatch command to run beside pypimirror is required');
  }
  return {
    bandersnatch: values.bandersnatch,
    rounds: num('rounds', values.rounds, 1),
    delayMs: num('delay-ms', values['delay-ms'], 0),
    workers: num('workers', values.workers, 1),
    selected: num('selected', values.selected, 1),
    others: num('others', values.others, 0),
    files: num('files', values.files, 1),
    changed: num('changed', values.changed, 0),
    out: values.out ?? 'bench-peers.json',
  };
}

/** Deterministic pseudo-random numbers (a tiny LCG), so every round serves the same bytes. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Project `i`'s name: `peer-p042`. */
function projectName(i: number): string {
  return `peer-p${String(i).padStart(3, '0')}`;
}

/** A real wheel (with its METADATA served as PEP 658 metadata) or sdist of 1-40 KiB of payload. */
function makeDist(name: string, n: number, random: () => number): BuiltDist {
  const version = `1.${Math.floor(n / 2)}`;
  if (n % 2 === 1) return buildSdist({ name, version });
  const size = 1024 + Math.floor(random() * 39 * 1024);
  let payload = '';
  while (payload.length < size) payload += random().toString(36).slice(2);
  return buildWheel({ name, version, files: { [`${name.replace(/-/g, '_')}/data.txt`]: payload } });
}

/** A fake upstream serving `selected` + `others` projects sharing `files` distributions each (the same every call). */
async function startPeerUpstream(o: Options): Promise<{ fake: FakeUpstream; selected: string[] }> {
  const fake = await startFakeUpstream({ latencyMs: o.delayMs, filePaths: 'packages' });
  const random = makeRandom(42);
  const selected = Array.from({ length: o.selected }, (_, i) => projectName(i));
  const others = Array.from({ length: o.others }, (_, i) => projectName(o.selected + i));
  const counts = new Map<string, number>();
  // Exactly `files` among the selected projects, and as many per project among the others.
  const spread = (names: readonly string[], files: number): void => {
    for (let f = 0; f < files; f++) {
      const name = names[f % names.length] as string;
      const n = counts.get(name) ?? 0;
      counts.set(name, n + 1);
      fake.addFile(name, makeDist(name, n, random));
    }
  };
  spread(selected, o.files);
  if (others.length > 0) spread(others, Math.round((o.files * o.others) / o.selected));
  return { fake, selected };
}

/** One peer: how to write its config for a mirror directory, and its command line. */
interface Peer {
  readonly name: string;
  config(dir: string, fake: FakeUpstream, selected: readonly string[], workers: number): string;
  command(config: string): { file: string; args: string[] };
}

function pypimirrorPeer(): Peer {
  return {
    name: 'pypimirror',
    config: (dir, fake, selected, workers) =>
      `[mirror]\nmirror_file_path = ${dir}\nindex_url = ${fake.url}\n` +
      `package_matches = ${selected.join(' ')}\nworkers = ${workers}\n`,
    command: (config) => ({ file: CLI, args: ['sync', config] }),
  };
}

function bandersnatchPeer(command: string): Peer {
  return {
    name: 'bandersnatch',
    config: (dir, fake, selected, workers) =>
      `[mirror]\ndirectory = ${dir}\nmaster = ${fake.baseOrigin}\nallow-non-https = true\njson = false\n` +
      'release-files = true\nhash-index = false\nsimple-format = ALL\ncompare-method = hash\n' +
      `stop-on-error = true\ntimeout = 10\nglobal-timeout = 1800\nworkers = ${workers}\nverifiers = 3\n` +
      'api-method = xmlrpc\nstorage-backend = filesystem\n' +
      `[plugins]\nenabled =\n    allowlist_project\n[allowlist]\npackages =\n${selected.map((n) => `    ${n}\n`).join('')}`,
    command: (config) => ({ file: command, args: ['-c', config, 'mirror'] }),
  };
}

interface Measured extends CommandRun {
  readonly requests: number;
  readonly bytes: number;
}

type Scenario = 'first sync' | 'no-op re-sync' | 'projects changed';

async function measure(
  peer: Peer,
  config: string,
  fake: FakeUpstream,
  timeTool: string,
  work: string,
): Promise<Measured> {
  fake.resetLog();
  const { file, args } = peer.command(config);
  const result = await runMeasured(
    file,
    args,
    { ...process.env, PYPIMIRROR_CONFIG: undefined },
    timeTool,
    join(work, 'time.out'),
  );
  return { ...result, requests: fake.requests.length, bytes: fake.bytesSent() };
}

interface RoundResult {
  readonly peer: string;
  readonly scenario: Scenario;
  readonly m: Measured;
}

/**
 * One round: each peer's first sync, no-op and re-sync after `changed` projects got a file, in `peers`'
 * order, each peer into a new directory of `work` (the round's own). No round deletes a mirror (main
 * removes them all at the end): on an ext4 without a journal (this bench's VM), allocating an inode scans
 * past every inode deleted in the last minutes, so a first sync right after the previous round's mirrors
 * were deleted spent 0.3-0.4 CPU s more (of 2.7) in the kernel, each peer in proportion to the files it
 * creates.
 */
async function runRound(
  o: Options,
  peers: readonly Peer[],
  work: string,
  timeTool: string,
): Promise<RoundResult[]> {
  const { fake, selected } = await startPeerUpstream(o);
  try {
    const configs = new Map<Peer, string>();
    for (const peer of peers) {
      const dir = join(work, peer.name);
      await mkdir(dir, { recursive: true });
      const config = join(work, `${peer.name}.cfg`);
      await writeFile(config, peer.config(join(dir, 'mirror'), fake, selected, o.workers));
      configs.set(peer, config);
    }
    const results: RoundResult[] = [];
    const each = async (scenario: Scenario): Promise<void> => {
      for (const peer of peers) {
        const m = await measure(peer, configs.get(peer) as string, fake, timeTool, work);
        results.push({ peer: peer.name, scenario, m });
      }
    };
    await each('first sync');
    await each('no-op re-sync');
    const random = makeRandom(7);
    for (const name of selected.slice(0, o.changed)) fake.addFile(name, makeDist(name, 100, random));
    await each('projects changed');
    return results;
  } finally {
    await fake.close();
  }
}

interface Summary {
  readonly requests: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssMiB: number;
  readonly rounds: readonly Measured[];
}

interface PeerRow extends Summary {
  readonly scenario: string;
  readonly peer: string;
  readonly checks: readonly Check[];
}

/** A peer's medians in one scenario, over every round. */
function summarize(all: readonly RoundResult[], peer: string, scenario: Scenario): Summary {
  const rounds = all.filter((r) => r.peer === peer && r.scenario === scenario).map((r) => r.m);
  return {
    requests: median(rounds.map((m) => m.requests)),
    wallSeconds: median(rounds.map((m) => m.seconds)),
    cpuSeconds: median(rounds.map((m) => m.cpuSeconds)),
    peakRssMiB: median(rounds.map((m) => m.peakRssMiB)),
    rounds,
  };
}

/** Issue #14's "Done means" for one scenario: no more requests than the peer, less wall time. */
function against(ours: Summary, theirs: Summary): Check[] {
  return [
    {
      target: 'requests ≤ bandersnatch',
      result: `${ours.requests} vs ${theirs.requests}`,
      isMet: ours.requests <= theirs.requests,
    },
    {
      target: 'wall < bandersnatch',
      result: `${ours.wallSeconds.toFixed(2)} s vs ${theirs.wallSeconds.toFixed(2)} s`,
      isMet: ours.wallSeconds < theirs.wallSeconds,
    },
  ];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? NaN;
}

async function main(): Promise<void> {
  const o = readOptions();
  const timeTool = findExecutable('time');
  if (timeTool === undefined)
    throw new Error('GNU time(1) is needed for peak RSS and CPU (apt-get install time)');
  const version = (await run(o.bandersnatch, ['--version'])).stdout.trim();
  const work = await mkdtemp(join(tmpdir(), 'pypimirror-peers-'));
  const peers = [pypimirrorPeer(), bandersnatchPeer(o.bandersnatch)];
  const all: RoundResult[] = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      process.stderr.write(`peers: round ${round + 1} of ${o.rounds}\n`);
      const order = round % 2 === 0 ? peers : [...peers].reverse();
      all.push(...(await runRound(o, order, join(work, `round-${round + 1}`), timeTool)));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const rows: PeerRow[] = [];
  for (const scenario of ['first sync', 'no-op re-sync', 'projects changed'] as const) {
    const ours = summarize(all, 'pypimirror', scenario);
    const theirs = summarize(all, 'bandersnatch', scenario);
    const label = scenario === 'projects changed' ? `${o.changed} projects changed` : scenario;
    rows.push({ scenario: label, peer: 'pypimirror', ...ours, checks: against(ours, theirs) });
    rows.push({ scenario: label, peer: version, ...theirs, checks: [] });
  }
  process.stdout.write(
    `\n${o.selected} projects selected of ${o.selected + o.others}, ${o.files} files selected, ` +
      `${o.delayMs} ms per request, ${o.workers} workers each, medians of ${o.rounds} interleaved rounds\n\n` +
      formatTable(
        ['peer', 'requests', 'wall s', 'cpu s', 'peak RSS'],
        rows.map((r) => ({
          scenario: r.scenario,
          cells: [
            r.peer,
            String(r.requests),
            r.wallSeconds.toFixed(2),
            r.cpuSeconds.toFixed(2),
            `${r.peakRssMiB.toFixed(0)} MiB`,
          ],
          checks: r.checks,
        })),
      ),
  );
  await writeFile(o.out, JSON.stringify({ options: o, peerVersion: version, rows }, null, 2) + '\n');
  process.stdout.write(`\nresults written to ${o.out}\n`);
}

await main();
