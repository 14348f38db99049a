// Files are created 0644 and directories 0755 whatever the umask, with the fchmod only where the umask
// takes bits away (util/fs.ts openNewFile): a sync under umask 077 still publishes 0644 files, and the
// umask each process reads is the one it was started with.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import type { SyncChildRequest, SyncChildResult } from '../helpers/sync-child.js';
import { makeTempDir } from '../helpers/tree.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../helpers/sync-child.js', import.meta.url));
const FS_MODULE = fileURLToPath(new URL('../../src/util/fs.js', import.meta.url));

/** `node ARGS` started by a shell under `umask MASK`; its stdout. */
async function underUmask(mask: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('sh', ['-c', `umask ${mask}; exec "$@"`, 'sh', process.execPath, ...args], {
    timeout: 60_000,
  });
  return stdout;
}

test('readUmask reports the umask the process was started with', async () => {
  const script = `import(${JSON.stringify(FS_MODULE)}).then((m) => console.log(m.readUmask()))`;
  for (const mask of ['022', '002', '027', '077']) {
    const out = await underUmask(mask, ['--input-type=module', '-e', script]);
    assert.equal(Number(out.trim()), parseInt(mask, 8), `umask ${mask}`);
  }
});

test('a sync under umask 077 publishes every file 0644 and every directory 0755', async (t) => {
  const dir = await makeTempDir(t);
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('alpha');
  fake.addFile('alpha', { filename: 'alpha-1.0-py3-none-any.whl', bytes: Buffer.alloc(3000, 1) });
  fake.addFile('alpha', { filename: 'alpha-1.0.tar.gz', bytes: Buffer.alloc(2000, 2) });
  const root = join(dir, 'mirror');
  const request: SyncChildRequest = { mirrorRoot: root, indexUrl: fake.url, packageMatches: ['alpha'] };
  const out = await underUmask('077', [CHILD, JSON.stringify(request)]);
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SyncChildResult;
  assert.equal(result.report.failures.length, 0, JSON.stringify(result.report.failures));
  const modes = new Map<string, string>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      modes.set(
        path.slice(root.length),
        `${entry.isDirectory() ? 'd' : 'f'}${((await stat(path)).mode & 0o777).toString(8)}`,
      );
      if (entry.isDirectory()) await walk(path);
    }
  };
  await walk(root);
  assert.equal(modes.get('/alpha/alpha-1.0-py3-none-any.whl'), 'f644');
  assert.equal(modes.get('/alpha/alpha-1.0.tar.gz'), 'f644');
  assert.equal(modes.get('/alpha/index.html'), 'f644');
  for (const [path, mode] of modes) assert.ok(mode === 'f644' || mode === 'd755', `${path}: ${mode}`);
});
