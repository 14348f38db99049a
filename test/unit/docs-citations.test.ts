// Every document the repository cites must be in the repository: a comment, a test, the README, a sample or
// a unit file that names a Markdown file (`docs/<name>`, the README, a link in a document) points at a file
// that exists, so a newcomer following a citation never lands nowhere. Another project's document is cited
// as `owner/repo:path` (or by URL), which this check leaves alone.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/repo-root.js';

/** Not the repository's own text: dependencies, build output, git's store, npm's lock file. */
const SKIPPED = new Set(['node_modules', 'dist', '.git', 'package-lock.json']);
/** Larger files are data, not prose. */
const MAX_TEXT_BYTES = 1024 * 1024;
/** A path ending in `.md` that does not continue another token (a URL, `owner/repo:path`). */
const CITATION = /(?<![\w/.:@-])((?:\.\.?\/)*[\w-]+(?:[./][\w-]+)*\.md)\b/g;

/** Every text file of the repository, relative to its root, bounded by the tree itself. */
function listTextFiles(dir = repoRoot): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    const stat = lstatSync(path); // a symlink (bin/pypimirror) is not text of ours
    if (stat.isDirectory()) files.push(...listTextFiles(path));
    else if (stat.isFile() && stat.size <= MAX_TEXT_BYTES) files.push(relative(repoRoot, path));
  }
  return files;
}

/** The `.md` files `text` cites, each with its line, when neither the root nor the citing file's directory has it. */
function findMissingCitations(file: string, text: string): string[] {
  const missing: string[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(CITATION)) {
      const cited = match[1] ?? '';
      const candidates = [join(repoRoot, cited), join(repoRoot, dirname(file), cited)];
      if (!candidates.some((path) => existsSync(path))) missing.push(`${file}:${index + 1}: ${cited}`);
    }
  });
  return missing;
}

/** `name` + `.md`, so that the examples below are not citations of this file. */
const md = (name: string): string => `${name}.md`;

test("the citation pattern finds our documents and leaves other projects' alone", () => {
  const cites = (text: string): string[] => [...text.matchAll(CITATION)].map((m) => m[1] ?? '');
  const text = `// (${md('DESIGN')} "One sync"), see ${md('docs/protocol')} §2 and [x](${md('../README')}#layout)`;
  assert.deepEqual(cites(text), [md('DESIGN'), md('docs/protocol'), md('../README')]);
  assert.deepEqual(cites(`(nodejs/undici:${md('docs/docs/api/Errors')}) https://example.org/${md('x')}`), []);
  assert.deepEqual(findMissingCitations('src/x.ts', `// see ${md('STYLE')} §4`), [
    `src/x.ts:1: ${md('STYLE')}`,
  ]);
  assert.deepEqual(findMissingCitations('docs/x', `[a](${md('architecture')})`), []);
});

test('every document cited anywhere in the repository exists', () => {
  const files = listTextFiles();
  assert.ok(files.includes(md('README')) && files.length > 100, `too few files found: ${files.join(' ')}`);
  const missing = files.flatMap((file) => {
    const bytes = readFileSync(join(repoRoot, file));
    return bytes.includes(0) ? [] : findMissingCitations(file, bytes.toString('utf8'));
  });
  assert.deepEqual(missing, [], `cited documents that do not exist:\n${missing.join('\n')}`);
});
