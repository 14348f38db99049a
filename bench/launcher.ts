// The bench's launcher: the process that starts the commands whose time from spawn to exit the bench reports
// (the start-up lines, the command's no-op and first sync, bench:peers' rounds), as small as Node itself, as
// the process that starts them for a user is (cron, systemd, a shell). Started from the bench process, a
// child starts 25-35 ms later: the bench holds the fake upstream's catalogue, hundreds of MiB, and fork()
// copies the page tables of its parent. Measured on the development VM (2026-12-05, `node -e 0`, medians of
// 9): 63-69 ms from a parent of 44 MiB RSS, 88-96 ms from one of 395 MiB, 99 ms from one of 981 MiB.
//
// One JSON request per line on stdin, `{ id, command, args, env }` (env is the child's whole environment);
// one JSON answer per line on stdout, `{ id, ms, code, stderr }` (`code` null when a signal ended it, stderr's
// first 4 KiB). It exits when its stdin ends.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A request to the launcher. */
export interface LaunchRequest {
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The launcher's answer to the request of the same `id`. */
export interface LaunchAnswer {
  readonly id: number;
  /** Milliseconds from spawn to exit. */
  readonly ms: number;
  readonly code: number | null;
  readonly stderr: string;
}

const STDERR_KEPT = 4096;

function launch(request: LaunchRequest): Promise<LaunchAnswer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(request.command, request.args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: request.env,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_KEPT) stderr += d.toString();
    });
    const answer = (code: number | null, error = ''): void =>
      resolve({ id: request.id, ms: performance.now() - started, code, stderr: `${stderr}${error}` });
    child.once('error', (err) => answer(null, err.message));
    child.once('exit', (code) => answer(code));
  });
}

// One command at a time, in the order asked: a measured command never shares the launcher with another.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line) as LaunchRequest;
  queue = queue.then(async () => {
    process.stdout.write(`${JSON.stringify(await launch(request))}\n`);
  });
});
