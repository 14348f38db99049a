// The installed command (npm links dist/src/pypimirror.cjs; systemd's ExecStart runs it) starts Node through
// the file's #! line, with the V8 flags it explains. Run here as the kernel runs it, not as `node pypimirror.cjs`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startCli } from '../helpers/cli-process.js';
import { writeMirrorConfig } from '../helpers/daemon-config.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { CLI } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const NODE_FLAGS = ['--single-threaded-gc'];
const TUNABLES = 'glibc.malloc.trim_threshold=33554432:glibc.malloc.arena_max=2';

test('the built entry point is executable and names its environment and Node flags on its #! line', async () => {
  const first = (await readFile(CLI, 'utf8')).split('\n', 1)[0];
  assert.equal(
    first,
    `#!/usr/bin/env -S GLIBC_TUNABLES=${TUNABLES}:\${GLIBC_TUNABLES} node ${NODE_FLAGS.join(' ')}`,
  );
  const { stdout } = await promisify(execFile)(CLI, ['--version'], { timeout: 20_000 });
  const { version } = JSON.parse(await readFile(join(CLI, '../../../package.json'), 'utf8')) as {
    version: string;
  };
  assert.match(stdout, new RegExp(version.replace(/\./g, '\\.')));
});

test('pypimirror run, started through the #! line, runs Node with those flags and tunables, and syncs', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  fake.addProject('small', [buildWheel({ name: 'small', version: '1.0' })]);
  const s = await writeMirrorConfig(await makeTempDir(t), fake.url, 'small');
  const run = startCli(t, ['run', s.config], { viaShebang: true, env: { GLIBC_TUNABLES: undefined } });
  await waitFor('the first sync', async () =>
    (await readFile(join(s.root, 'small', 'index.html'), 'utf8').catch(() => '')).includes('small-1.0'),
  );
  // env(1) execs node in place: same pid, and node's own argument list holds the flags.
  const argv = (await readFile(`/proc/${run.pid}/cmdline`, 'utf8')).split('\0');
  assert.deepEqual(argv.slice(1, 1 + NODE_FLAGS.length), NODE_FLAGS, argv.join(' '));
  assert.equal(argv[1 + NODE_FLAGS.length], CLI);
  // glibc (2.36) cuts the environment block it parsed after the first tunable, so /proc shows only that;
  // the next test asks Node for the whole value.
  const environ = (await readFile(`/proc/${run.pid}/environ`, 'utf8')).split('\0');
  assert.ok(
    environ.some((e) => e.startsWith(`GLIBC_TUNABLES=${TUNABLES.split(':')[0]}`)),
    environ.filter((e) => e.startsWith('GLIBC')).join(' '),
  );
  run.kill('SIGTERM');
  assert.equal((await run.waitForExit(15_000)).code, 0, run.output());
});

test('the #! line keeps the GLIBC_TUNABLES of the environment, after its own (the last setting wins)', async (t) => {
  // A script with the command's #! line that prints what Node got.
  const script = join(await makeTempDir(t), 'show-tunables');
  const first = (await readFile(CLI, 'utf8')).split('\n', 1)[0] as string;
  await writeFile(script, `${first}\nprocess.stdout.write(String(process.env.GLIBC_TUNABLES));\n`, {
    mode: 0o755,
  });
  const run = (env: Record<string, string | undefined>): Promise<string> =>
    promisify(execFile)(script, [], { env: { ...process.env, ...env }, timeout: 20_000 }).then(
      (r) => r.stdout,
    );
  assert.equal(await run({ GLIBC_TUNABLES: undefined }), `${TUNABLES}:`);
  assert.equal(
    await run({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576' }),
    `${TUNABLES}:glibc.malloc.trim_threshold=1048576`,
  );
});
