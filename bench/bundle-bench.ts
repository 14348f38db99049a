// The bench's air-gapped pair lines (issue #16): `export` of a change of `bytes` (a fresh mirror, so the whole
// tree) and `import` of it into an empty inside mirror, with the built CLI, against GNU tar writing and
// reading the same files on the same disk. Both sides end with their bytes on disk: export and import fsync
// what they write, so the tar times include a `sync` of the archive / extracted tree.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Check, combine, type Row } from './checks.js';
import { generateKeys } from '../src/bundle/signing.js';
import type { LocalFile } from '../src/model/record.js';
import { EMPTY_STATE, writeRecord, writeState } from '../src/mirror/state.js';
import { emptyRecord } from '../src/sync/project.js';
import { createLocalStorage } from '../src/storage/local.js';

const COMMAND = fileURLToPath(new URL('../src/pypimirror.cjs', import.meta.url));
const MiB = 1024 * 1024;
const FILE_BYTES = 32 * MiB;
const FILES_PER_PROJECT = 8;
const run = promisify(execFile);

/** A mirror tree of `bytes` in 32 MiB wheels, 8 per project, with records and state, as a sync leaves it. */
async function makeTree(root: string, bytes: number): Promise<string[]> {
  const block = randomBytes(MiB);
  const projects: string[] = [];
  const count = Math.max(1, Math.round(bytes / FILE_BYTES));
  for (let p = 0; p * FILES_PER_PROJECT < count; p++) {
    const name = `bundle-bench-${p}`;
    projects.push(name);
    await mkdir(join(root, name), { recursive: true });
    const files: LocalFile[] = [];
    for (let f = 0; f < FILES_PER_PROJECT && p * FILES_PER_PROJECT + f < count; f++) {
      const filename = `bundle_bench_${p}-1.${f}-py3-none-any.whl`;
      const hash = createHash('sha256');
      const handle = await open(join(root, name, filename), 'w', 0o644);
      for (let i = 0; i < FILE_BYTES / MiB; i++) {
        block.writeUInt32LE(p * 1_000_000 + f * 1000 + i, 0); // every MiB differs
        hash.update(block);
        await handle.write(block);
      }
      await handle.close();
      const sha256 = hash.digest('hex');
      files.push({
        filename,
        sha256,
        size: FILE_BYTES,
        url: `https://files.invalid/${filename}`,
        upstreamHashes: { sha256 },
        requiresPython: null,
        yanked: null,
        uploadTime: null,
        metadataSha256: null,
      });
    }
    const upstreamFiles = files.map((f) => ({
      filename: f.filename,
      url: f.url,
      hashes: f.upstreamHashes,
      requiresPython: null,
      yanked: null,
      coreMetadata: null,
      size: f.size,
      uploadTime: null,
    }));
    await writeRecord(createLocalStorage(root), {
      ...emptyRecord(name, name),
      serial: 1,
      upstreamFiles,
      files,
    });
  }
  await writeState(createLocalStorage(root), {
    ...EMPTY_STATE,
    projects: Object.fromEntries(projects.map((name) => [name, { displayName: name, serial: 1, files: 8 }])),
  });
  return projects;
}

/** Runs `command args` to its end; its wall seconds. */
function timed(command: string, args: readonly string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 || (code === 3 && command === process.execPath)
        ? resolve((performance.now() - started) / 1000)
        : reject(new Error(`${command} ${args.join(' ')}: exit ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}

function row(scenario: string, bytes: number, seconds: number, tarSeconds: number, tar: string): Row {
  const check: Check = {
    target: `≤ 2 × ${tar} (issue #16)`,
    result: `${seconds.toFixed(2)} s; ${tar}: ${tarSeconds.toFixed(2)} s (${(bytes / MiB / seconds).toFixed(0)} vs ${(bytes / MiB / tarSeconds).toFixed(0)} MiB/s)`,
    isMet: seconds <= 2 * tarSeconds,
  };
  return {
    scenario,
    requests: 0,
    bytes,
    wallSeconds: seconds,
    processSeconds: seconds,
    peakRssMiB: 0,
    cpuSeconds: 0,
    lowerBoundSeconds: tarSeconds,
    checks: [check],
    ...combine([check]),
  };
}

/** Export and import of `bytes` against tar -c and tar -x; two rows. `work` is a scratch directory. */
export async function benchBundles(work: string, bytes: number, log: (msg: string) => void): Promise<Row[]> {
  const outside = join(work, 'bundle-outside');
  const inside = join(work, 'bundle-inside');
  const outbox = join(work, 'bundle-outbox');
  const tarDir = join(work, 'bundle-tar');
  await mkdir(outside, { recursive: true });
  await mkdir(tarDir, { recursive: true });
  log(`bundle: writing a ${(bytes / MiB).toFixed(0)} MiB mirror tree`);
  const projects = await makeTree(outside, bytes);
  const keys = await generateKeys(join(work, 'bundle-keys'));
  const config = (name: string, root: string, key: string): Promise<string> => {
    const path = join(work, `${name}.cfg`);
    return writeFile(
      path,
      `[mirror]\nmirror_file_path = ${root}\nindex_url = https://pypi.invalid/simple/\n${key}\n`,
    ).then(() => path);
  };
  const outsideCfg = await config('bundle-outside', outside, `bundle_private_key = ${keys.privateKey}`);
  const insideCfg = await config('bundle-inside', inside, `bundle_public_key = ${keys.publicKey}`);
  // Each reader follows its writer, as on a real pair: export then import, tar -c then tar -x.
  await run('sync');
  log('bundle: export');
  const exported = await timed(process.execPath, [COMMAND, 'export', outsideCfg, outbox]);
  log('bundle: import');
  const imported = await timed(process.execPath, [COMMAND, 'import', insideCfg, outbox]);
  await run('sync');
  log('bundle: tar -c');
  const archive = join(tarDir, 'all.tar');
  const tarC = await timed('sh', [
    '-c',
    `tar -cf "${archive}" -C "${outside}" ${projects.join(' ')} && sync "${archive}"`,
  ]);
  log('bundle: tar -x');
  const extracted = join(tarDir, 'x');
  await mkdir(extracted);
  const tarX = await timed('sh', ['-c', `tar -xf "${archive}" -C "${extracted}" && sync -f "${extracted}"`]);
  return [
    row(`bundle export ${(bytes / MiB / 1024).toFixed(1)} GiB`, bytes, exported, tarC, 'tar -c'),
    row(`bundle import ${(bytes / MiB / 1024).toFixed(1)} GiB`, bytes, imported, tarX, 'tar -x'),
  ];
}
