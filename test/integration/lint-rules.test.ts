// The two structural lint rules (issue #13 part 5), run as `npm run lint` runs them, on tiny temporary
// projects: `lint:cycles` (madge) fails on an import cycle, a type-only one included, and `lint:unused`
// (knip, with the repository's knip.json) fails on an export nothing imports; each names the files, and each
// passes once the fault is gone. The scripts come from package.json, so the test checks what lint runs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../helpers/repo-root.js';

/** madge and knip each take a few seconds on a project of three files; this bounds a hung one. */
const SCRIPT_TIMEOUT_MS = 120_000;

const { scripts, devDependencies } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};

const work = mkdtempSync(join(tmpdir(), 'pypimirror-lint-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * A project in a new directory under `work` holding `files` (path → text), the repository's tsconfig.json and
 * knip.json, its node_modules (linked) and a package.json whose only script is `script`, as package.json has it,
 * with the tool the script runs as its one devDependency.
 */
function makeProject(name: string, script: string, files: Readonly<Record<string, string>>): string {
  const dir = join(work, name);
  mkdirSync(dir);
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(repoRoot, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  copyFileSync(join(repoRoot, 'knip.json'), join(dir, 'knip.json'));
  const command = scripts[script];
  assert.ok(command, `package.json has no "${script}" script`);
  const tool = command.split(' ')[0] ?? '';
  const manifest = {
    name,
    private: true,
    type: 'module',
    scripts: { [script]: command },
    devDependencies: { [tool]: devDependencies[tool] },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  for (const dirName of ['src', 'test', 'bench']) mkdirSync(join(dir, dirName));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Runs the project's one script through npm, as `npm run lint` does; resolves with its exit code and output. */
function runScript(dir: string, script: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' };
    execFile(
      'npm',
      ['run', '--silent', script],
      { cwd: dir, env, timeout: SCRIPT_TIMEOUT_MS },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

test('lint:cycles fails on a type-only import cycle, naming its files, and passes once it is broken', async () => {
  const cyclic = makeProject('cycle', 'lint:cycles', {
    'src/types.ts':
      "import type { Row } from './rows.js';\nexport interface Page { readonly rows: readonly Row[] }\n",
    'src/rows.ts': "import type { Page } from './types.js';\nexport interface Row { readonly page: Page }\n",
  });
  const failed = await runScript(cyclic, 'lint:cycles');
  assert.notEqual(failed.code, 0, failed.output);
  assert.match(failed.output, /src\/rows\.ts > src\/types\.ts|src\/types\.ts > src\/rows\.ts/, failed.output);

  const acyclic = makeProject('no-cycle', 'lint:cycles', {
    'src/types.ts': 'export interface Row { readonly serial: number }\n',
    'src/rows.ts': "import type { Row } from './types.js';\nexport const rows: Row[] = [];\n",
  });
  const passed = await runScript(acyclic, 'lint:cycles');
  assert.equal(passed.code, 0, passed.output);
});

test('lint:unused fails on an export nothing imports, naming it, and counts a test file as a user', async () => {
  const library =
    'export const used = 1;\nexport const unused = 2;\nexport function onlyTested(): number {\n  return 3;\n}\n';
  const dead = makeProject('dead-export', 'lint:unused', {
    'src/lib.ts': library,
    'test/lib.test.ts':
      "import { onlyTested, used } from '../src/lib.js';\nconsole.log(used, onlyTested());\n",
  });
  const failed = await runScript(dead, 'lint:unused');
  assert.notEqual(failed.code, 0, failed.output);
  assert.match(failed.output, /unused\s+src\/lib\.ts/, failed.output);
  assert.doesNotMatch(failed.output, /onlyTested|\bused\s+src/, failed.output);

  const clean = makeProject('no-dead-export', 'lint:unused', {
    'src/lib.ts': library.replace('export const unused = 2;\n', ''),
    'test/lib.test.ts':
      "import { onlyTested, used } from '../src/lib.js';\nconsole.log(used, onlyTested());\n",
  });
  const passed = await runScript(clean, 'lint:unused');
  assert.equal(passed.code, 0, passed.output);
});

test('the repository itself has no import cycle and no unused export (CI runs npm test, not npm run lint)', async () => {
  for (const script of ['lint:cycles', 'lint:unused']) {
    const { code, output } = await runScript(repoRoot, script);
    assert.equal(code, 0, `npm run ${script}:\n${output.slice(-4000)}`);
  }
});
