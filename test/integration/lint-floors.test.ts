// The floors and sizes of eslint.config.js (issue #13 part 5, docs/architecture.md "Layers"), run through
// ESLint's own API with the repository's config on small probe sources placed (by name only) in src/: an
// upward import fails naming the rule and the floors, an import down or within a floor passes; a file over
// 450 lines and a function over 100 fail in src/ (not in test/). And src/ itself passes, since CI runs
// npm test, not npm run lint.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { repoRoot } from '../helpers/repo-root.js';

const eslint = new ESLint({ cwd: repoRoot });

/** The messages of `rule` when `code` is linted as if it were the repository file `path`. */
async function messagesOf(path: string, code: string, rule: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, path) });
  assert.ok(result !== undefined);
  return result.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
}

const importOf = (from: string, isTypeOnly = false): string =>
  `import ${isTypeOnly ? 'type ' : ''}{ probe } from '${from}';\nexport const probed = [probe];\n`;

test('an import from a higher floor fails, a type-only one too; down and within a floor pass', async () => {
  const upward: readonly (readonly [string, string])[] = [
    ['src/plan/probe.ts', '../mirror/store.js'],
    ['src/plan/probe.ts', '../upstream/simple-api.js'],
    ['src/mirror/probe.ts', '../sync/guards.js'],
    ['src/config/probe.ts', '../upstream/http.js'],
    ['src/model/probe.ts', '../plan/names.js'],
    ['src/util/probe.ts', '../mirror/state.js'],
    ['src/upstream/probe.ts', '../mirror/layout.js'],
    ['src/sync/probe.ts', '../bundle/apply.js'],
    ['src/sync/probe.ts', '../commands.js'],
    ['src/errors.ts', './mirror/state.js'],
  ];
  for (const [path, from] of upward) {
    for (const isTypeOnly of [false, true]) {
      const messages = await messagesOf(path, importOf(from, isTypeOnly), 'no-restricted-imports');
      assert.equal(messages.length, 1, `${path} importing ${from} (type-only: ${isTypeOnly})`);
      assert.match(messages[0] as string, /import(s)? only from .*docs\/architecture\.md "Layers"/);
    }
  }
  const allowed: readonly (readonly [string, string])[] = [
    ['src/plan/probe.ts', '../model/record.js'],
    ['src/plan/probe.ts', './filters.js'],
    ['src/plan/probe.ts', '../errors.js'],
    ['src/mirror/probe.ts', '../upstream/retry.js'],
    ['src/sync/probe.ts', '../mirror/state.js'],
    ['src/bundle/probe.ts', '../sync/guards.js'],
    ['src/probe.ts', './sync/run.js'],
  ];
  for (const [path, from] of allowed) {
    assert.deepEqual(await messagesOf(path, importOf(from), 'no-restricted-imports'), [], `${path}: ${from}`);
  }
});

test('a pure module still may not import an I/O library, besides the floors', async () => {
  const messages = await messagesOf('src/plan/probe.ts', importOf('node:fs'), 'no-restricted-imports');
  assert.deepEqual(messages, ["'node:fs' import is restricted from being used. pure module: no I/O"]);
});

test('a file over 450 lines and a function over 100 fail in src/, not in test/', async () => {
  const body = Array.from({ length: 101 }, (_, i) => `  total += ${i};`).join('\n');
  const longFunction = `export function long(): number {\n  let total = 0;\n${body}\n  return total;\n}\n`;
  assert.equal((await messagesOf('src/plan/probe.ts', longFunction, 'max-lines-per-function')).length, 1);
  assert.deepEqual(await messagesOf('test/unit/probe.test.ts', longFunction, 'max-lines-per-function'), []);
  const longFile = Array.from({ length: 451 }, (_, i) => `export const c${i} = ${i};`).join('\n') + '\n';
  assert.equal((await messagesOf('src/plan/probe.ts', longFile, 'max-lines')).length, 1);
  const shortFile = longFile.split('\n').slice(1).join('\n');
  assert.deepEqual(await messagesOf('src/plan/probe.ts', shortFile, 'max-lines'), []);
});

test('src/ passes every rule of eslint.config.js', async () => {
  const results = await eslint.lintFiles(['src']);
  const errors = results.flatMap((r) =>
    r.messages.filter((m) => m.severity === 2).map((m) => `${r.filePath}:${m.line}: ${m.message}`),
  );
  assert.deepEqual(errors, []);
});
