// A long-running CLI process (`pypimirror run`, a slow `sync`) for tests: output captured as it comes,
// bounded waits on it, and a kill in t.after so no process outlives its test.
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { CLI } from './run-cli.js';
import { repoRoot } from './repo-root.js';
import { waitFor } from './wait-for.js';

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() at exit. */
  readonly at: number;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr interleaved, as received so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (default timeout 10 s). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<CliExit>;
  /** Resolves with the exit, or rejects after `timeoutMs` (default 10 s). */
  waitForExit(timeoutMs?: number): Promise<CliExit>;
  kill(signal?: NodeJS.Signals): void;
}

export function startCli(
  t: TestContext,
  args: readonly string[],
  opts: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    /** Executes dist/src/pypimirror.cjs itself, through its #! line, as the installed command runs. */
    viaShebang?: boolean;
  } = {},
): CliProcess {
  const [command, argv] = opts.viaShebang === true ? [CLI, args] : [process.execPath, [CLI, ...args]];
  const child = spawn(command, argv, {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, JOURNAL_STREAM: undefined, PYPIMIRROR_CONFIG: undefined, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<CliExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  let exit: CliExit | null = null;
  void exited.then((e) => (exit = e)).catch(() => {});
  t.after(async () => {
    if (exit === null) {
      child.kill('SIGKILL');
      await exited.catch(() => {});
    }
  });
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  return {
    child,
    pid: child.pid,
    output: () => output,
    waitForOutput: (pattern, timeoutMs = 10_000) =>
      waitFor(
        `${JSON.stringify(pattern.source)} in the output of pypimirror ${args.join(' ')}`,
        () => {
          if (exit !== null && pattern.exec(output) === null) {
            throw new Error(
              `pypimirror ${args.join(' ')} exited (${exit.code ?? exit.signal}) without printing ${pattern}:\n${output}`,
            );
          }
          return pattern.exec(output);
        },
        { timeoutMs },
      ),
    exited,
    waitForExit: async (timeoutMs = 10_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`pypimirror ${args.join(' ')} still running after ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}
