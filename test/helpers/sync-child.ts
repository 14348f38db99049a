// One sync in a process of its own, for tests that kill a run mid-way and for the bench (peak RSS of a run).
// Usage: node dist/test/helpers/sync-child.js '<json SyncChildRequest>'; prints one JSON line
// (SyncChildResult) on stdout when the run ends. SIGTERM/SIGINT abort the run gracefully, as in the CLI.
import { readFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { Config } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import type { SyncReport } from '../../src/sync/report.js';
import { runSync } from '../../src/sync/run.js';
import { createHttp, type Http } from '../../src/upstream/http.js';
import { createUpstream } from '../../src/upstream/simple-api.js';
import type { Upstream } from '../../src/model/upstream.js';
import { keepWasmBaseline } from '../../src/util/wasm-tier.js';
import { makeConfig } from './config.js';

export interface SyncChildRequest {
  readonly mirrorRoot: string;
  readonly indexUrl: string;
  readonly packageMatches?: readonly string[];
  readonly filenameMatches?: readonly string[];
  readonly workers?: number;
  readonly timeoutMs?: number;
  /** Sync into this bucket (`storage = s3://...`) instead of mirrorRoot; credentials from the environment. */
  readonly s3?: {
    readonly bucket: string;
    readonly prefix: string;
    readonly endpoint: string;
    readonly region: string;
  };
}

export interface SyncChildResult {
  readonly report: SyncReport;
  /** Wall time of runSync alone (no process start-up). */
  readonly wallMs: number;
  /** Peak resident set size of this process (bytes). */
  readonly maxRssBytes: number;
  /** CPU time of the run (user + system), seconds. */
  readonly cpuSeconds: number;
}

/**
 * Peak RSS of this process. Linux: VmHWM of /proc/self/status, because getrusage's ru_maxrss survives exec and
 * so counts the parent's memory at fork time; elsewhere ru_maxrss.
 */
function peakRssBytes(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** An HTTP client and the upstream client over it for `cfg`'s index_url, logging nothing (close `http`). */
export function connectSilently(cfg: Config): { http: Http; upstream: Upstream } {
  keepWasmBaseline(); // as the command does (commands.ts)
  const http = createHttp({
    timeoutMs: cfg.timeoutMs,
    workers: cfg.workers,
    log: silentLogger,
    env: {},
    caFile: cfg.caFile,
  });
  const upstream = createUpstream({
    indexUrl: cfg.indexUrl,
    http,
    log: silentLogger,
    requestDeadlineMs: cfg.requestDeadlineMs,
    maxFileSize: cfg.maxFileSize,
  });
  return { http, upstream };
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as SyncChildRequest;
  const over: Partial<Config> = {
    ...(request.packageMatches === undefined ? {} : { packageMatches: request.packageMatches }),
    ...(request.filenameMatches === undefined ? {} : { filenameMatches: request.filenameMatches }),
    ...(request.workers === undefined ? {} : { workers: request.workers }),
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.s3 === undefined
      ? {}
      : {
          s3Storage: { ...request.s3, endpoint: new URL(request.s3.endpoint) },
          mirrorRoot: `s3://${request.s3.bucket}/${request.s3.prefix}`,
        }),
  };
  const cfg = makeConfig({ mirrorRoot: request.mirrorRoot, indexUrl: request.indexUrl, ...over });
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per request in flight
  const stop = (): void => controller.abort(new Error('signal received'));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const { http, upstream } = connectSilently(cfg);
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const report = await runSync({ upstream, log: silentLogger }, cfg, controller.signal);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    const result: SyncChildResult = { report, wallMs, maxRssBytes: peakRssBytes(), cpuSeconds };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await http.close();
  }
}

// Only when started as a child with a request (the test runner also loads every file under test/).
if (process.argv[2] !== undefined && process.argv[1]?.endsWith('sync-child.js') === true) await main();
