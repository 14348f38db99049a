// The daemon in-process against a fake upstream: a config file in a temp dir, the real loader, client and
// watcher, a capturing logger, and every run's outcome with the time it ended. Stopped in t.after.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { type Daemon, type DaemonDeps, type RunOutcome, startDaemon } from '../../src/daemon.js';
import { createHttp } from '../../src/upstream/http.js';
import { createUpstream } from '../../src/upstream/simple-api.js';
import { type CaptureLogger, createCaptureLogger } from './capture-logger.js';
import { type ConfigValues, renderConfig } from './daemon-config.js';
import type { FakeUpstream } from './fake-upstream.js';
import { makeTempDir } from './tree.js';
import { waitFor } from './wait-for.js';

export interface RunRecord {
  readonly outcome: RunOutcome;
  /** performance.now() when the run ended. */
  readonly endedAt: number;
}

export interface DaemonHarness {
  readonly daemon: Daemon;
  readonly log: CaptureLogger;
  readonly runs: RunRecord[];
  readonly dir: string;
  readonly root: string;
  readonly configPath: string;
  /** The config values for `over` on top of the harness's own (mirror root, index URL). */
  values(over?: ConfigValues): ConfigValues;
  /** Upstream clients built so far (one per config that changed index_url, workers or timeout). */
  clientsBuilt(): number;
  /** Waits until `n` runs have ended in total. */
  waitForRuns(n: number, timeoutMs?: number): Promise<void>;
  /** Stops the daemon (as SIGTERM would) and waits for it. */
  stop(): Promise<void>;
}

export async function startDaemonHarness(
  t: TestContext,
  fake: FakeUpstream,
  values: ConfigValues,
  over: Partial<DaemonDeps> = {},
): Promise<DaemonHarness> {
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const configPath = join(dir, 'pypimirror.cfg');
  const withBase = (v: ConfigValues = {}): ConfigValues => ({
    mirror_file_path: root,
    index_url: fake.url,
    ...values,
    ...v,
  });
  await writeFile(configPath, renderConfig(withBase()));
  const load = (path: string): Promise<Config> => loadConfig(path, { cwd: dir });
  const cfg = await load(configPath);
  const log = createCaptureLogger();
  const runs: RunRecord[] = [];
  let clients = 0;
  const controller = new AbortController();
  const daemon = startDaemon(
    cfg,
    {
      log,
      version: '0.0.0-test',
      configPath,
      loadConfig: load,
      createClient: (c) => {
        clients++;
        const http = createHttp({
          timeoutMs: c.timeoutMs,
          workers: c.workers,
          log,
          env: {},
          keepAliveTimeoutMs: 10,
        });
        const upstream = createUpstream({
          indexUrl: c.indexUrl,
          http,
          log,
          retries: 1,
          minDelayMs: 1,
          maxDelayMs: 5,
        });
        return { upstream, close: () => http.close() };
      },
      onRunEnd: (outcome) => runs.push({ outcome, endedAt: performance.now() }),
      retry: { retries: 1, minMs: 1, maxMs: 5 },
      watchDebounceMs: 100,
      ...over,
    },
    controller.signal,
  );
  const stop = async (): Promise<void> => {
    controller.abort(new Error('test stop'));
    await daemon.done;
  };
  t.after(stop);
  await daemon.ready;
  return {
    daemon,
    log,
    runs,
    dir,
    root,
    configPath,
    values: withBase,
    clientsBuilt: () => clients,
    waitForRuns: (n, timeoutMs = 10_000) =>
      waitFor(`${n} runs`, () => runs.length >= n, { timeoutMs }).then(() => {}),
    stop,
  };
}
