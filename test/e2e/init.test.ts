// `pypimirror init` on a machine with no config (issue #13 part 6): as root it writes the system's starter
// config (the mirror in /srv, the log in /var/log), as an ordinary user one under the home; on a config that
// exists, it creates the mirror root as before. Run through the built CLI, as root and as an unprivileged
// user (test/helpers/test-user.ts).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { runCli } from '../helpers/run-cli.js';
import { makeBinDir, startTestUser, type TestUser } from '../helpers/test-user.js';
import { makeTempDir } from '../helpers/tree.js';
import { skipOrFail } from '../helpers/web-servers.js';

/** An unprivileged user whose PATH has `pypimirror`, or null when the test was skipped. */
async function startUser(t: TestContext): Promise<TestUser | null> {
  const dir = await makeTempDir(t);
  const user = await startTestUser(t, dir, await makeBinDir(dir));
  if (user === null) return null;
  const node = await user.sh('node --version');
  if (node.code !== 0) {
    skipOrFail(t, `the unprivileged user cannot run Node (${process.execPath}): ${node.stderr}`);
    return null;
  }
  return user;
}

test('init as root writes the system starter config where CONFIG names, and says what to do next', async (t) => {
  if (process.getuid?.() !== 0)
    return skipOrFail(t, 'root only: run the tests as root to check the paths root gets');
  const dir = await makeTempDir(t);
  const config = join(dir, 'etc', 'pypimirror.cfg');
  const hadMirror = existsSync('/srv/pypimirror');
  const r = await runCli(['init', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith(`wrote a starter config to ${config}: it mirrors requests`), r.stdout);
  assert.match(r.stdout, /^ {2}pip install --index-url file:\/\/\/srv\/pypimirror\/ requests$/m);
  assert.ok(r.stdout.includes(`  pypimirror sync ${config} `), r.stdout);
  const text = await readFile(config, 'utf8');
  assert.match(text, /^mirror_file_path = \/srv\/pypimirror$/m);
  assert.match(text, /^log_filename = \/var\/log\/pypimirror\/pypimirror\.log$/m);
  assert.match(text, /^package_matches =\n {4}requests\n {4}urllib3\n/m);
  assert.equal((await stat(config)).mode & 0o777, 0o644);
  const check = await runCli(['check', config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /# would mirror from https:\/\/pypi\.org\/simple\/ into \/srv\/pypimirror:/);
  // The config only: the first sync creates the mirror.
  assert.equal(existsSync('/srv/pypimirror'), hadMirror);
  // --adopt needs a config naming the directory to adopt: with none, nothing is written.
  const adopt = await runCli(['init', join(dir, 'other.cfg'), '--adopt']);
  assert.equal(adopt.code, 2);
  assert.match(adopt.stderr, /--adopt needs one naming the directory to adopt/);
  assert.equal(existsSync(join(dir, 'other.cfg')), false);
});

test('init as an ordinary user: the config under ~/.config, the mirror and the log under ~', async (t) => {
  if (existsSync('/etc/pypimirror.cfg')) {
    return skipOrFail(
      t,
      '/etc/pypimirror.cfg exists here, and an ordinary user without a config reads that one',
    );
  }
  const user = await startUser(t);
  if (user === null) return;
  const config = join(user.home, '.config', 'pypimirror', 'pypimirror.cfg');
  const missing = await user.sh('pypimirror sync');
  assert.equal(missing.code, 2);
  assert.ok(missing.stderr.includes(`${config}: the config file does not exist; run "pypimirror init"`));

  const init = await user.sh('pypimirror init');
  assert.equal(init.code, 0, init.stderr);
  assert.ok(init.stdout.startsWith(`wrote a starter config to ${config}`), init.stdout);
  assert.ok(init.stdout.includes(`pip install --index-url file://${user.home}/pypimirror/ requests`));
  const text = await readFile(config, 'utf8');
  assert.ok(text.includes(`\nmirror_file_path = ${user.home}/pypimirror\n`), text);
  assert.ok(text.includes(`\nlog_filename = ${user.home}/.local/state/pypimirror/pypimirror.log\n`), text);
  assert.equal((await stat(config)).uid, user.uid);

  const check = await user.sh('pypimirror check');
  assert.equal(check.code, 0, check.stderr);
  assert.ok(check.stdout.startsWith(`# ${config}: valid`), check.stdout);
  assert.equal(existsSync(join(user.home, 'pypimirror')), false);

  // The config exists now: init creates the mirror root, as it always did.
  const root = await user.sh('pypimirror init');
  assert.equal(root.code, 0, root.stderr);
  assert.match(root.stdout, /pypimirror is ready: the first sync mirrors into it/);
  assert.equal((await stat(join(user.home, 'pypimirror', '.pypimirror', 'root.json'))).uid, user.uid);
  assert.equal(await readFile(config, 'utf8'), text);

  // A config where the user may not write: refused, and told what to run instead.
  const etc = await user.sh('pypimirror init /etc/pypimirror-by-a-user.cfg');
  assert.equal(etc.code, 2);
  assert.match(etc.stderr, /cannot write a starter config here: permission denied/);
  assert.ok(etc.stderr.includes(`run "pypimirror init" to write ${config}`), etc.stderr);
  assert.equal(existsSync('/etc/pypimirror-by-a-user.cfg'), false);
});
