// A mirror tree as a sorted listing, for golden comparisons (bandersnatch test_sync.py style).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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

/** Every link of every page resolves to a file on disk with the linked sha256; the root links only pages. */
export async function assertTreeConsistent(root: string, when = 'the tree'): Promise<void> {
  const tree = new Set(await listTree(root));
  const rootPage = await readFile(join(root, 'index.html'), 'utf8').catch(() => '');
  for (const [, dir] of rootPage.matchAll(/<a href="([^"]+)\/"/g)) {
    assert.ok(tree.has(`${dir}/index.html`), `${when}: the root page links ${dir}/, which has no page`);
  }
  for (const page of [...tree].filter((f) => /^[^/]+\/index\.html$/.test(f))) {
    const dir = page.slice(0, -'/index.html'.length);
    const html = await readFile(join(root, page), 'utf8');
    for (const [, href, hex] of html.matchAll(/href="([^"#]+)#sha256=([0-9a-f]{64})"/g)) {
      const file = `${dir}/${decodeURIComponent(href as string)}`;
      assert.ok(tree.has(file), `${when}: ${page} links ${file}, which is missing`);
      const sha = createHash('sha256')
        .update(await readFile(join(root, file)))
        .digest('hex');
      assert.equal(sha, hex, `${when}: ${file} does not have the linked sha256`);
    }
  }
}
