// `npm run bench -- --state-layout`: issue #14 part 4's choice of state layout, measured. The layout kept,
// one record file per project (.pypimirror/projects/<name>.json, written by state.ts's writeRecord and read
// by readRecord), against the alternative rejected: every record in one JSON file, which must be read,
// changed and rewritten whole (and made durable) whenever one project changes. Three operations each: write
// every record, a run that changes `changed` projects (the common case: each record is published durably),
// and reading every record back as a re-plan of every project reads them (bench --scale's filename_matches
// line: on the re-plan's reading thread, sync/replan-reads.ts).
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalFile, ProjectRecord } from '../src/model/record.js';
import { listRecords, readRecord, writeRecord } from '../src/mirror/state.js';
import { recordKey } from '../src/storage/keys.js';
import { createLocalStorage } from '../src/storage/local.js';
import { emptyRecord } from '../src/sync/project.js';
import type { UpstreamFile } from '../src/model/upstream.js';
import { ensureDir, writeFileAtomic } from '../src/util/fs.js';
import { forEachWindowed } from '../src/util/pool.js';
import { startReplanReads } from '../src/sync/replan-reads.js';
import { combine, type Row } from './checks.js';

export interface StateLayoutOptions {
  /** Projects recorded. */
  readonly projects: number;
  /** Files per project (each in upstreamFiles and files, as a mirrored wheel is). */
  readonly filesPerProject: number;
  /** Projects a run changes. */
  readonly changed: number;
}

/** Record writes and reads at once, as a sync's pool runs them. */
const CONCURRENCY = 64;

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function projectName(index: number): string {
  return `layout-p${String(index).padStart(6, '0')}`;
}

/** Project `index`'s record, with `files` wheels shaped like PyPI's entries (URL, sha256, upload time). */
function recordOf(index: number, files: number, serial: number): ProjectRecord {
  const name = projectName(index);
  const upstreamFiles: UpstreamFile[] = [];
  const local: LocalFile[] = [];
  for (let k = 0; k < files; k++) {
    const filename = `${name.replace(/-/g, '_')}-1.${k}-py3-none-any.whl`;
    const sha256 = hex(filename);
    const url = `https://files.pythonhosted.org/packages/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256.slice(4)}/${filename}`;
    const uploadTime = new Date(Date.UTC(2024, 0, 1) + index * 60_000 + k).toISOString();
    const hashes = { sha256 };
    const common = { filename, url, requiresPython: '>=3.8', yanked: null, uploadTime };
    upstreamFiles.push({ ...common, hashes, size: 100_000 + k, coreMetadata: { sha256: hex(url) } });
    local.push({ ...common, sha256, size: 100_000 + k, upstreamHashes: hashes, metadataSha256: hex(url) });
  }
  return { ...emptyRecord(name, name), serial, versions: [], upstreamFiles, files: local };
}

/** Wall and CPU seconds of `fn`. */
async function timed(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

/** The rejected layout: every record in one file, an object by project name, rewritten whole and durably. */
async function writeOneFile(path: string, records: ReadonlyMap<string, ProjectRecord>): Promise<void> {
  await writeFileAtomic(
    path,
    (function* pieces(): Generator<string> {
      let isFirst = true;
      for (const [name, record] of records) {
        yield `${isFirst ? '{' : ','}${JSON.stringify(name)}:${JSON.stringify(record)}\n`;
        isFirst = false;
      }
      yield isFirst ? '{}\n' : '}\n';
    })(),
  );
}

async function readOneFile(path: string): Promise<Map<string, ProjectRecord>> {
  return new Map(Object.entries(JSON.parse(await readFile(path, 'utf8')) as Record<string, ProjectRecord>));
}

/** The rejected layout's three operations, each a row through `row`. */
async function benchOneFile(
  o: StateLayoutOptions,
  work: string,
  log: (msg: string) => void,
  row: (scenario: string, t: { wall: number; cpu: number }, bytes: number, what: string) => void,
): Promise<void> {
  const indexes = Array.from({ length: o.projects }, (_, i) => i);
  const size = `${o.projects} projects × ${o.filesPerProject} files`;
  const dir = join(work, 'layout-one-file');
  await ensureDir(dir);
  const path = join(dir, 'records.json');
  log(`state layout: ${size}, every record in one file`);
  const all = new Map(indexes.map((i) => [projectName(i), recordOf(i, o.filesPerProject, 1)]));
  const write = await timed(() => writeOneFile(path, all));
  all.clear();
  const bytes = (await stat(path)).size;
  row(`state layout, one file: write ${size}`, write, bytes, 'reference (rejected)');
  const update = await timed(async () => {
    const records = await readOneFile(path);
    for (const i of indexes.slice(0, o.changed)) {
      const record = recordOf(i, o.filesPerProject, 2);
      records.set(record.name, record);
    }
    await writeOneFile(path, records);
  });
  row(`state layout, one file: a run changes ${o.changed}`, update, bytes, 'reference (rejected)');
  const read = await timed(async () => {
    if ((await readOneFile(path)).size !== o.projects) throw new Error('state layout: records lost');
  });
  row(`state layout, one file: read all ${o.projects}`, read, bytes, 'reference (rejected)');
}

/** The rows: each layout's three operations, with the bytes on disk. Reference figures (no target). */
export async function benchStateLayout(
  o: StateLayoutOptions,
  work: string,
  log: (msg: string) => void,
): Promise<Row[]> {
  const rows: Row[] = [];
  const row = (scenario: string, t: { wall: number; cpu: number }, bytes: number, what: string): void => {
    const check = { target: what, result: `${t.wall.toFixed(2)} s`, isMet: null };
    rows.push({
      scenario,
      requests: 0,
      bytes,
      wallSeconds: t.wall,
      processSeconds: t.wall,
      peakRssMiB: NaN,
      cpuSeconds: t.cpu,
      lowerBoundSeconds: 0,
      checks: [check],
      ...combine([check]),
    });
  };
  const indexes = Array.from({ length: o.projects }, (_, i) => i);
  const changedIndexes = indexes.slice(0, o.changed);
  const size = `${o.projects} projects × ${o.filesPerProject} files`;

  // Kept: one record file per project.
  const kept = join(work, 'layout-per-project');
  await ensureDir(kept);
  const keptStorage = createLocalStorage(kept);
  log(`state layout: ${size}, one record file per project`);
  const write = await timed(() =>
    forEachWindowed(indexes, CONCURRENCY, CONCURRENCY, (i) =>
      writeRecord(keptStorage, recordOf(i, o.filesPerProject, 1)),
    ),
  );
  let keptBytes = 0;
  const names = await listRecords(keptStorage);
  for (const name of names) keptBytes += (await stat(join(kept, recordKey(name)))).size;
  row(`state layout, one file per project: write ${size}`, write, keptBytes, 'reference');
  const update = await timed(() =>
    forEachWindowed(changedIndexes, 8, 8, (i) => writeRecord(keptStorage, recordOf(i, o.filesPerProject, 2))),
  );
  row(`state layout, one file per project: a run changes ${o.changed}`, update, keptBytes, 'reference');
  let read = 0;
  // As a re-plan of every project reads them: ahead, on the re-plan's reading thread (replan-reads.ts).
  const readAll = await timed(async () => {
    const all = await listRecords(keptStorage);
    const reads = startReplanReads(keptStorage, all);
    try {
      await forEachWindowed(all, CONCURRENCY, CONCURRENCY, async (name) => {
        const ahead = (await reads?.take(name)) ?? null;
        if ((ahead === null ? await readRecord(keptStorage, name) : ahead.record) !== null) read++;
      });
    } finally {
      await reads?.close();
    }
  });
  if (read !== o.projects) throw new Error(`state layout: read ${read} records of ${o.projects}`);
  row(`state layout, one file per project: read all ${o.projects}`, readAll, keptBytes, 'reference');

  // Rejected: one file holding every record. Past ~512 MiB of JSON (about 500 000 files' records, ~1 KiB
  // each) it cannot even be read back as one string (V8's limit): the row says so.
  try {
    await benchOneFile(o, work, log, row);
  } catch (err) {
    const check = {
      target: 'reference (rejected)',
      result: `failed: ${err instanceof Error ? err.message : String(err)}`,
      isMet: null,
    };
    rows.push({
      ...(rows.at(-1) as Row),
      scenario: `state layout, one file: ${size}`,
      checks: [check],
      ...check,
    });
  }
  return rows;
}
