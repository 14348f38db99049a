// Running the CLI (or a shell line) as an unprivileged user, for the tests of what an ordinary user meets
// (`init`, the README's quick start). The tests run as root: the system user TEST_USER is created with
// useradd when missing (no home, no login shell; kept afterwards, so that parallel test files can share
// it), and commands run as it through runuser, or setpriv. Run by an ordinary user, the tests need
// neither: commands run as that user. Without useradd, or without both runuser and setpriv, the test is
// skipped (a failure when CI is set), and says which is missing.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { CLI } from './run-cli.js';
import { findExecutable, skipOrFail } from './web-servers.js';

export const TEST_USER = 'pypimirror-test';

/** What a shell line printed, and how it ended. */
export interface ShellResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** An unprivileged user the test can run commands as. */
export interface TestUser {
  readonly uid: number;
  readonly gid: number;
  /** A home directory of its own, inside the test's temp dir. */
  readonly home: string;
  /** PATH for its commands: the test's bin directory, then Node's and the system's directories. */
  readonly path: string;
  /** Runs `sh -ec line` as the user, with HOME, PATH and `env`, and nothing else of this environment. */
  sh(line: string, env?: Readonly<Record<string, string>>, timeoutMs?: number): Promise<ShellResult>;
}

/** A directory holding `pypimirror`, the built CLI, as `npm install -g` would put it on PATH. */
export async function makeBinDir(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { mode: 0o755 });
  await symlink(CLI, join(bin, 'pypimirror'));
  return bin;
}

function idOf(flag: '-u' | '-g', name: string): number | null {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

/** The user TEST_USER, created if missing; null (with the test skipped) when that cannot be done here. */
async function ensureSystemUser(t: TestContext): Promise<{ uid: number; gid: number } | null> {
  if (idOf('-u', TEST_USER) === null) {
    if (findExecutable('useradd') === undefined) {
      skipOrFail(t, `useradd is not installed: cannot create the unprivileged user ${TEST_USER}`);
      return null;
    }
    const args = [
      '--system',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
    ];
    const r = spawnSync('useradd', [...args, TEST_USER], { encoding: 'utf8' });
    // 9: created meanwhile by a test file running in parallel.
    if (r.status !== 0 && r.status !== 9) throw new Error(`useradd ${TEST_USER} failed: ${r.stderr}`);
  }
  const uid = idOf('-u', TEST_USER);
  const gid = idOf('-g', TEST_USER);
  if (uid === null || gid === null) throw new Error(`user ${TEST_USER} not found after useradd`);
  return { uid, gid };
}

/** The command prefix that runs a command as `name`: runuser, else setpriv. */
function switchUser(t: TestContext, name: string): string[] | null {
  if (findExecutable('runuser') !== undefined) return ['runuser', '-u', name, '--'];
  if (findExecutable('setpriv') !== undefined) {
    return ['setpriv', `--reuid=${name}`, `--regid=${name}`, '--init-groups', '--'];
  }
  skipOrFail(t, 'neither runuser nor setpriv is installed (util-linux): cannot run as an unprivileged user');
  return null;
}

/**
 * An unprivileged user with a fresh home under `dir` (which is opened to it: 0755) and `binDir` first on its
 * PATH. Null when the test was skipped.
 */
export async function startTestUser(t: TestContext, dir: string, binDir: string): Promise<TestUser | null> {
  const isRoot = process.getuid?.() === 0;
  const ids = isRoot
    ? await ensureSystemUser(t)
    : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  if (ids === null) return null;
  const prefix = isRoot ? switchUser(t, TEST_USER) : [];
  if (prefix === null) return null;
  const home = join(dir, 'home');
  await chmod(dir, 0o755);
  await mkdir(home, { mode: 0o755 });
  await chown(home, ids.uid, ids.gid);
  const path = [binDir, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  const sh = (line: string, env: Readonly<Record<string, string>> = {}, timeoutMs = 240_000) => {
    const assignments = Object.entries({ HOME: home, PATH: path, LANG: 'C.UTF-8', ...env });
    const argv = [...prefix, 'env', '-i', ...assignments.map(([k, v]) => `${k}=${v}`), 'sh', '-ec', line];
    return runCommand(argv, process.env, timeoutMs);
  };
  return { ...ids, home, path, sh };
}

/** Runs `argv` with the environment `env` (only that), bounded in time; never rejects on the exit code. */
export function runCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs: number,
): Promise<ShellResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand: no command');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
