// A mirror tree as a sorted listing, for golden comparisons (bandersnatch test_sync.py style).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';

/** Every file below `root`, relative, sorted, one per line; `.pypimirror/` state left out unless asked. */
export async function listTree(root: string, opts: { withState?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === '.pypimirror' && opts.withState !== true) continue;
        await walk(path);
      } else {
        out.push(relative(root, path));
      }
    }
  };
  await walk(root);
  return out.sort();
}

/** A fresh temp dir, removed after the test. */
export async function makeTempDir(t: TestContext, prefix = 'pypimirror-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
