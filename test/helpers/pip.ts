// Runs the real pip (python3 -m pip) isolated from this machine's pip configuration and PIP_* variables
// (which add find-links and extra indexes here), and reads what it installed into a --target directory.
// PIP_CONFIG_FILE=/dev/null makes pip skip every config file, the global ones included (--isolated
// would still read /etc/pip.conf), so nothing but the given index can serve a package.
import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { devNull } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { skipOrFail } from './web-servers.js';

export interface PipResult {
  /** Exit code; 1 when pip could not be started or was killed. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** pip was killed by the timeout. */
  readonly timedOut: boolean;
}

interface PipIndexOptions {
  /** `http://127.0.0.1:<port>/`, `http://127.0.0.1:<port>/simple/` or `file:///<root>/`. */
  readonly indexUrl: string;
  /** Requirement specifiers, e.g. `demo-pkg==1.0`. */
  readonly packages: readonly string[];
  /** More pip options, e.g. `--no-deps`, `--only-binary=:all:`, `--trusted-host <host>`. */
  readonly extraArgs?: readonly string[];
  /** Default 120 s, then pip is killed (SIGKILL). */
  readonly timeoutMs?: number;
}

export interface PipInstallOptions extends PipIndexOptions {
  /** Directory to install into (`--target`), so no Python environment is touched. */
  readonly target: string;
}

export interface PipDownloadOptions extends PipIndexOptions {
  /** Directory the distributions are saved in (`--dest`). */
  readonly dest: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const QUIET_ARGS = ['--disable-pip-version-check', '--no-cache-dir', '--no-input'];

/** `python3 -m pip <args>` with no config files, no PIP_* env, no proxies; never rejects on exit code. */
export function runPip(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<PipResult> {
  return new Promise((resolve) => {
    execFile(
      'python3',
      ['-m', 'pip', ...args],
      {
        env: isolatedEnv(),
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        const timedOut = error !== null && error.killed === true;
        resolve({ code, stdout, stderr, timedOut });
      },
    );
  });
}

/** `pip install --index-url <url> --target <dir> <packages>` (plus --no-cache-dir and friends). */
export function pipInstall(o: PipInstallOptions): Promise<PipResult> {
  const args = ['install', ...QUIET_ARGS, '--index-url', o.indexUrl, '--target', o.target];
  return runPip([...args, ...(o.extraArgs ?? []), ...o.packages], withTimeout(o));
}

/** `pip download --index-url <url> --dest <dir> <packages>` (plus --no-cache-dir and friends). */
export function pipDownload(o: PipDownloadOptions): Promise<PipResult> {
  const args = ['download', ...QUIET_ARGS, '--index-url', o.indexUrl, '--dest', o.dest];
  return runPip([...args, ...(o.extraArgs ?? []), ...o.packages], withTimeout(o));
}

/** `pip --version`, or undefined when `python3 -m pip` does not run. */
export function pipVersion(): string | undefined {
  const result = spawnSync('python3', ['-m', 'pip', '--version'], {
    env: isolatedEnv(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * Skips the test when pip is missing, or fails it when the environment variable CI is set (as
 * requireTool does). Returns whether pip is there: `if (!requirePip(t)) return;`.
 */
export function requirePip(t: TestContext): boolean {
  if (pipVersion() !== undefined) return true;
  skipOrFail(t, 'python3 -m pip does not run (apt-get install python3 python3-pip)');
  return false;
}

/** A result, for an assertion message. */
export function describePipResult(result: PipResult): string {
  const status = result.timedOut ? 'timed out' : `exit code ${result.code}`;
  return `pip: ${status}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Normalised project name → version, from the `*.dist-info` directories pip wrote into `target`. */
export async function installedDists(target: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(target)) {
    if (!entry.endsWith('.dist-info')) continue;
    const metadata = await readFile(join(target, entry, 'METADATA'), 'utf8');
    const name = /^Name: (.+)$/m.exec(metadata)?.[1]?.trim();
    const version = /^Version: (.+)$/m.exec(metadata)?.[1]?.trim();
    if (name !== undefined && version !== undefined) {
      found[name.replace(/[-_.]+/g, '-').toLowerCase()] = version;
    }
  }
  return found;
}

function isolatedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PIP_|PYTHON|https?_proxy$|all_proxy$|no_proxy$)/i.test(key)) env[key] = value;
  }
  env['PIP_CONFIG_FILE'] = devNull;
  env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1';
  env['PIP_NO_INPUT'] = '1';
  env['NO_PROXY'] = '127.0.0.1,localhost';
  return env;
}

function withTimeout(o: PipIndexOptions): { timeoutMs?: number } {
  return o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
}
