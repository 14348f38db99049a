// `[upstream:NAME]` sections for in-process tests (issue #12), as validate.ts would build them.
import type { UpstreamSection } from '../../src/config/types.js';
import type { FakeUpstream } from './fake-upstream.js';

/** A section named `name` serving `packageMatches` from `fake`, with [mirror]'s test defaults otherwise. */
export function upstreamSection(
  name: string,
  fake: FakeUpstream | string,
  packageMatches: readonly string[],
  over: Partial<UpstreamSection> = {},
): UpstreamSection {
  return {
    name,
    indexUrl: new URL(typeof fake === 'string' ? fake : fake.url),
    packageMatches,
    timeoutMs: 5_000,
    requestDeadlineMs: 15 * 60_000,
    caFile: null,
    minReleaseAgeMs: null,
    ...over,
  };
}
