// An import killed (SIGKILL) at several instants, while extracting and while publishing, leaves a consistent
// tree each time (every page links files that are there with the page's sha256; the root links only pages),
// and the next import completes it: the inside ends equal to the outside.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { snapshotTree, startBundlePair } from '../helpers/bundle-pair.js';
import { runCli, CLI } from '../helpers/run-cli.js';
import { assertTreeConsistent, listTree, makeTempDir } from '../helpers/tree.js';

/** Project pages in place. */
async function pages(root: string): Promise<number> {
  const names = await readdir(root).catch(() => [] as string[]);
  const tree = await listTree(root).catch(() => [] as string[]);
  return names.filter((n) => tree.includes(`${n}/index.html`)).length;
}

async function isStaging(root: string): Promise<boolean> {
  return (await readdir(join(root, '.pypimirror/incoming')).catch(() => [])).length > 0;
}

test('an import killed at several instants leaves a consistent tree, and the next import completes it', async (t) => {
  const pair = await startBundlePair(t);
  const { fake } = pair.outside;
  for (let p = 0; p < 40; p++) {
    for (let v = 0; v < 3; v++) {
      await fake.addBigFile(`bulk-${p}`, `bulk_${p}-1.${v}-py3-none-any.whl`, 96 * 1024);
    }
  }
  const { dir, code } = await pair.syncAndExport({}, { maxVolume: 1024 * 1024 });
  assert.equal(code, 0);
  const outside = await snapshotTree(pair.outside.root);

  const insideDir = await makeTempDir(t, 'pypimirror-inside-');
  const root = join(insideDir, 'mirror');
  const config = join(insideDir, 'pypimirror.cfg');
  await writeFile(
    config,
    `[mirror]\nmirror_file_path = ${root}\nindex_url = https://pypi.invalid/simple/\nbundle_public_key = ${pair.keys.publicKey}\n`,
  );
  // Instants: while the volumes are extracted, then after 3, 15 and 30 of the 45 pages are published.
  const instants: [string, () => Promise<boolean>][] = [
    ['extracting', () => isStaging(root)],
    ['3 pages', async () => (await pages(root)) >= 3],
    ['15 pages', async () => (await pages(root)) >= 15],
    ['30 pages', async () => (await pages(root)) >= 30],
  ];
  let killed = 0;
  for (const [when, reached] of instants) {
    const child = spawn(process.execPath, [CLI, 'import', config, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (c, signal) => resolve(signal ?? c)),
    );
    let isDone = false;
    void exited.then(() => (isDone = true));
    for (let i = 0; i < 20_000 && !isDone && !(await reached()); i++) await sleep(1);
    if (!isDone) {
      child.kill('SIGKILL');
      killed++;
    }
    const end = await exited;
    t.diagnostic(`${when}: ${end === 'SIGKILL' ? 'killed' : `exited ${String(end)} first`}`);
    await assertTreeConsistent(root, when);
  }
  assert.ok(killed >= 2, `at least two imports were killed mid-way (${killed})`);
  const last = await runCli(['import', config, dir]);
  assert.equal(last.code, 0, last.stdout + last.stderr);
  assert.deepEqual(await snapshotTree(root), outside);
  assert.deepEqual(await readdir(join(root, '.pypimirror')).then((n) => n.includes('incoming')), false);
});
