// In-process sync against a fake upstream: the real client, store and planner, a temp mirror root.
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config/types.js';
import type { SyncReport } from '../../src/sync/report.js';
import { type RunOptions, runSync } from '../../src/sync/run.js';
import { createHttp } from '../../src/upstream/http.js';
import { createUpstream } from '../../src/upstream/simple-api.js';
import { type CaptureLogger, createCaptureLogger } from './capture-logger.js';
import { makeConfig } from './config.js';
import { buildSdist, buildWheel } from './dist-builder.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream.js';
import { makeTempDir } from './tree.js';

export interface HarnessOptions {
  readonly fake?: FakeUpstreamOptions;
  /** The client's changelog page size (PyPI's cap is 50 000; set it to the fake's changelogCap). */
  readonly changelogPageSize?: number;
}

export interface SyncOptions {
  readonly signal?: AbortSignal;
  readonly now?: Date;
  /** Sync from this index URL instead of the fake's (e.g. a cache in front of it). */
  readonly indexUrl?: string;
  /** The client's environment (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, ...); default none. */
  readonly env?: Readonly<Record<string, string>>;
  /** `sync --allow-deletions`, `--dry-run`. */
  readonly run?: RunOptions;
}

export interface Harness {
  readonly fake: FakeUpstream;
  readonly root: string;
  readonly log: CaptureLogger;
  /** One sync with the given config overrides; a fresh client each time, retries fast. */
  sync(over?: Partial<Config>, options?: SyncOptions | AbortSignal): Promise<SyncReport>;
  config(over?: Partial<Config>): Config;
}

export async function startHarness(t: TestContext, opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await startFakeUpstream(opts.fake ?? {});
  t.after(() => fake.close());
  const root = await makeTempDir(t);
  const log = createCaptureLogger();
  const config = (over: Partial<Config> = {}): Config =>
    makeConfig({ mirrorRoot: root, indexUrl: fake.url, ...over });
  return {
    fake,
    root,
    log,
    config,
    async sync(over = {}, options = {}) {
      const o: SyncOptions = options instanceof AbortSignal ? { signal: options } : options;
      const cfg = config({ ...(o.indexUrl === undefined ? {} : { indexUrl: new URL(o.indexUrl) }), ...over });
      const http = createHttp({
        timeoutMs: cfg.timeoutMs,
        workers: cfg.workers,
        log,
        env: o.env ?? {},
        keepAliveTimeoutMs: 10,
        caFile: cfg.caFile,
      });
      try {
        const connect = (indexUrl: URL) =>
          createUpstream({
            indexUrl,
            http,
            log,
            retries: 2,
            minDelayMs: 1,
            maxDelayMs: 5,
            requestDeadlineMs: cfg.requestDeadlineMs,
            maxFileSize: cfg.maxFileSize,
            ...(opts.changelogPageSize === undefined ? {} : { changelogPageSize: opts.changelogPageSize }),
          });
        const upstream = connect(cfg.indexUrl);
        // One client per [upstream:NAME] section of the config (test/helpers/upstream-sections.ts).
        const upstreams = new Map(cfg.upstreams.map((u) => [u.name, connect(u.indexUrl)]));
        const now = o.now;
        const deps = {
          upstream,
          upstreams,
          log,
          retry: { retries: 2, minMs: 1, maxMs: 5 },
          ...(now === undefined ? {} : { now: () => now }),
        };
        return await runSync(deps, cfg, o.signal ?? new AbortController().signal, o.run);
      } finally {
        await http.close();
      }
    },
  };
}

/**
 * A small catalogue: demo-app → demo-lib>=1.0 → foo_bar; Zope.Interface with wheel + sdist + zip;
 * a yanked file; requires-python; names that need normalising.
 */
export function seedCatalogue(fake: FakeUpstream): void {
  fake.addProject('foo_bar', [
    buildWheel({ name: 'foo_bar', version: '1.0' }),
    buildSdist({ name: 'foo_bar', version: '1.0' }),
  ]);
  fake.addProject('demo-lib', [
    buildWheel({ name: 'demo-lib', version: '1.0', requiresDist: ['foo_bar'] }),
    buildWheel({ name: 'demo-lib', version: '0.9', requiresDist: ['foo_bar'] }),
  ]);
  fake.yank('demo-lib', 'demo_lib-0.9-py3-none-any.whl', 'broken <build>');
  fake.addProject('demo-app', [
    buildWheel({
      name: 'demo-app',
      version: '2.0',
      requiresDist: ['demo-lib>=1.0'],
      requiresPython: '>=3.8',
    }),
  ]);
  fake.addProject('Zope.Interface', [
    buildWheel({ name: 'Zope.Interface', version: '5.0' }),
    buildSdist({ name: 'Zope.Interface', version: '5.0' }),
    buildSdist({ name: 'Zope.Interface', version: '4.0', format: 'zip' }),
  ]);
  fake.addProject('unrelated', [buildWheel({ name: 'unrelated', version: '1.0' })]);
}
