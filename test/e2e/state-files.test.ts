// A file under <root>/.pypimirror/ that is not what pypimirror wrote (a half-copied backup, a hand edit) is a
// user's problem, not a bug: the command that meets it exits 1 with one line naming the file, what is wrong
// with it and what was expected, and no stack trace (issue #13 part 5). One case per kind of file.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tree.js';

/** A mirror root pypimirror owns (root marker, empty state) and a config for it; the upstream is never asked. */
async function makeMirror(
  t: Parameters<typeof makeTempDir>[0],
  extra = '',
): Promise<{ dir: string; root: string; config: string; state: string }> {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const state = join(root, '.pypimirror');
  await mkdir(join(state, 'projects'), { recursive: true });
  await writeFile(
    join(state, 'root.json'),
    '{"formatVersion":1,"createdAt":"2026-12-01T00:00:00Z","foreign":[]}\n',
  );
  await writeFile(join(state, 'state.json'), '{"formatVersion":1,"projects":{}}\n');
  const config = join(dir, 'pypimirror.cfg');
  const lines = [
    '[mirror]',
    `mirror_file_path = ${root}`,
    'index_url = http://127.0.0.1:9/simple/',
    'package_matches = demo-lib',
    extra,
  ];
  await writeFile(config, `${lines.join('\n')}\n`);
  return { dir, root, config, state };
}

/** Runs `args`; asserts exit 1 and one error line naming `file` and matching `what`, with no stack trace. */
async function assertStateError(args: readonly string[], file: string, what: RegExp): Promise<void> {
  const r = await runCli(args, { timeoutMs: 60_000 });
  const output = r.stdout + r.stderr;
  assert.equal(r.code, 1, `${args.join(' ')}: ${output}`);
  const line = output.split('\n').find((l) => l.includes(file));
  assert.ok(line !== undefined, `no line names ${file}: ${output}`);
  assert.match(line, what);
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
}

/** Not JSON, then JSON of another shape, in `file` (under .pypimirror/): `commands` each exit 1 naming it. */
const NOT_JSON = /not JSON \(.+\); expected the JSON pypimirror writes there/;
const CASES = [
  {
    name: 'state.json',
    file: 'state.json',
    commands: ['sync', 'sync'],
    notJson: '{"formatVersion": 1, "projects": {',
    otherShape: '{"formatVersion": 2}\n',
    expected: /not what pypimirror writes there; expected a pypimirror state file \(formatVersion 1\)/,
  },
  {
    name: "a project's record",
    file: 'projects/demo-lib.json',
    commands: ['reindex', 'verify'],
    notJson: '{"formatVersion":1,"name":"demo-lib","files":[',
    otherShape: '{"formatVersion":1,"name":"other","files":[]}\n',
    expected: /expected a pypimirror project record for demo-lib \(formatVersion 1\)/,
  },
] as const;

for (const c of CASES) {
  test(`${c.name} that is not JSON, or JSON of another shape: ${c.commands.join(' and ')} exit 1 naming it`, async (t) => {
    const m = await makeMirror(t);
    const path = join(m.state, c.file);
    await writeFile(path, c.notJson);
    await assertStateError([c.commands[0], m.config], path, NOT_JSON);
    await writeFile(path, c.otherShape);
    await assertStateError([c.commands[1], m.config], path, c.expected);
  });
}

test('find-links.json of another shape: verify exits 1 naming it', async (t) => {
  const flat = join(await makeTempDir(t), 'flat');
  const m = await makeMirror(t, `find_links_dir = ${flat}`);
  const path = join(m.state, 'find-links.json');
  await writeFile(path, '{"formatVersion":1,"dir":42}\n');
  await assertStateError(
    ['verify', m.config],
    path,
    /expected a pypimirror find_links_dir record \(formatVersion 1\)/,
  );
});

test("the bundle export's state of another shape: export exits 1 naming it", async (t) => {
  const keys = join(await makeTempDir(t), 'keys');
  const keygen = await runCli(['keygen', keys]);
  assert.equal(keygen.code, 0, keygen.stderr);
  const m = await makeMirror(t, `bundle_private_key = ${join(keys, 'bundle.key')}`);
  const path = join(m.state, 'exports.json');
  await writeFile(path, '{"formatVersion":"one"}\n');
  await assertStateError(
    ['export', m.config, join(m.dir, 'outbox')],
    path,
    /expected a pypimirror bundle state file \(formatVersion 1\)/,
  );
});

test('root.json that is not JSON: the root is refused (exit 2), naming the file and the parse error', async (t) => {
  const m = await makeMirror(t);
  const path = join(m.state, 'root.json');
  await writeFile(path, 'formatVersion = 1\n');
  const r = await runCli(['sync', m.config]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(
    (r.stdout + r.stderr).includes(`has an unreadable ${path} (${path}: not JSON (`),
    r.stdout + r.stderr,
  );
});
