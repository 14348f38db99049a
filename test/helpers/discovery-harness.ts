// In-process syncs for the discovery tests: like sync-harness, plus the client's changelog page size, an
// injectable clock, a base URL other than the fake's (a cache in front of it), and the request log as text.
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { type MirrorState, readState } from '../../src/mirror/state.js';
import type { SyncReport } from '../../src/sync/report.js';
import { runSync } from '../../src/sync/run.js';
import { createHttp } from '../../src/upstream/http.js';
import { createUpstream } from '../../src/upstream/simple-api.js';
import { type CaptureLogger, createCaptureLogger } from './capture-logger.js';
import { makeConfig } from './config.js';
import {
  type FakeUpstream,
  type FakeUpstreamOptions,
  type RequestLogEntry,
  startFakeUpstream,
} from './fake-upstream.js';
import { makeTempDir } from './tree.js';

export interface DiscoveryHarnessOptions {
  readonly fake?: FakeUpstreamOptions;
  /** The client's changelog page size (PyPI's cap is 50 000; set it to the fake's changelogCap). */
  readonly changelogPageSize?: number;
}

export interface SyncOptions {
  readonly signal?: AbortSignal;
  readonly now?: Date;
  /** Sync from this index URL instead of the fake's (e.g. a cache in front of it). */
  readonly indexUrl?: string;
}

export interface DiscoveryHarness {
  readonly fake: FakeUpstream;
  readonly root: string;
  readonly log: CaptureLogger;
  sync(over?: Partial<Config>, options?: SyncOptions): Promise<SyncReport>;
  /** The requests the fake saw since the last take() (or start), as `METHOD path status`; clears the log. */
  take(): string[];
  state(): Promise<MirrorState>;
}

/** `GET /simple/foo/ 200`. */
export function describeRequest(r: RequestLogEntry): string {
  return `${r.method} ${r.path} ${r.status}`;
}

export async function startDiscoveryHarness(
  t: TestContext,
  options: DiscoveryHarnessOptions = {},
): Promise<DiscoveryHarness> {
  const fake = await startFakeUpstream(options.fake ?? {});
  t.after(() => fake.close());
  const root = await makeTempDir(t);
  const log = createCaptureLogger();
  return {
    fake,
    root,
    log,
    async sync(over = {}, o = {}) {
      const cfg = makeConfig({ mirrorRoot: root, indexUrl: o.indexUrl ?? fake.url, ...over });
      const http = createHttp({
        timeoutMs: cfg.timeoutMs,
        workers: cfg.workers,
        log,
        env: {},
        keepAliveTimeoutMs: 10,
      });
      try {
        const upstream = createUpstream({
          indexUrl: cfg.indexUrl,
          http,
          log,
          retries: 1,
          minDelayMs: 1,
          maxDelayMs: 5,
          ...(options.changelogPageSize === undefined
            ? {}
            : { changelogPageSize: options.changelogPageSize }),
        });
        const now = o.now;
        const deps = {
          upstream,
          log,
          retry: { retries: 1, minMs: 1, maxMs: 5 },
          ...(now === undefined ? {} : { now: () => now }),
        };
        return await runSync(deps, cfg, o.signal ?? new AbortController().signal);
      } finally {
        await http.close();
      }
    },
    take() {
      const seen = fake.requests.map(describeRequest);
      fake.resetLog();
      return seen;
    },
    state: () => readState(root),
  };
}
