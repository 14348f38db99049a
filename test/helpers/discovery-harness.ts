// In-process syncs for the discovery tests: sync-harness plus the request log as text and the state.
import type { TestContext } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { type MirrorState, readState } from '../../src/mirror/state.js';
import type { SyncReport } from '../../src/sync/report.js';
import type { RequestLogEntry } from './fake-upstream.js';
import { type Harness, type HarnessOptions, type SyncOptions, startHarness } from './sync-harness.js';
import { createLocalStorage } from '../../src/storage/local.js';

export type DiscoveryHarnessOptions = HarnessOptions;

export interface DiscoveryHarness extends Harness {
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
  const h = await startHarness(t, options);
  return {
    ...h,
    take() {
      const seen = h.fake.requests.map(describeRequest);
      h.fake.resetLog();
      return seen;
    },
    state: () => readState(createLocalStorage(h.root)),
  };
}
