// The repository root: the nearest ancestor directory holding package.json. Compiled tests run from
// dist/test/..., so paths must not be computed relative to the test file.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Nearest ancestor of `from` (a file URL or path) that contains package.json. */
export function findRepoRoot(from: string = import.meta.url): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

export const repoRoot: string = findRepoRoot();
