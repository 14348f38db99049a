// min_release_age, quarantine_exempt and exclude_newer for one project (issue #12): the policy the planner
// applies (plan/quarantine.ts), and the upload times it needs. A page without them (PEP 503 HTML) is
// completed from the upstream's JSON API; a file that still has none is an error for its project, naming
// the upstream and the key, never a file let through or silently dropped.
import { UpstreamError } from '../errors.js';
import { compileFilters, type Filters } from '../plan/filters.js';
import type { MirrorState } from '../mirror/state.js';
import {
  formatHold,
  isReleaseTimePolicyActive,
  mergeHolds,
  type ReleaseTimePolicy,
} from '../plan/quarantine.js';
import type { ProjectPage, Upstream } from '../model/upstream.js';
import type { Pool } from '../util/pool.js';

/** The release-time keys of one route, as the sync applies them. */
export interface ReleaseTimes {
  /** `[upstream:NAME]` or `[mirror] index_url`, for the error naming the upstream. */
  readonly label: string;
  /** The policy for one project (normalised name). */
  policyFor(project: string): ReleaseTimePolicy;
}

/** The release-time keys of a route whose quarantine is `minReleaseAgeMs`, at `now`. */
export function createReleaseTimes(
  label: string,
  minReleaseAgeMs: number | null,
  quarantineExempt: readonly string[],
  excludeNewer: string | null,
  now: Date,
): ReleaseTimes {
  // compileFilters selects every project when given no glob: no exemption then.
  const exempt: Filters | null = quarantineExempt.length === 0 ? null : compileFilters(quarantineExempt, []);
  return {
    label,
    policyFor: (project) => ({
      minReleaseAgeMs: exempt?.matchNormalizedProject(project) === true ? null : minReleaseAgeMs,
      excludeNewer,
      now,
    }),
  };
}

/** What completing a page's upload times needs of the project's context (project.ts ProjectContext). */
export interface UploadTimeContext {
  readonly upstream: Upstream;
  readonly pool: Pool;
  readonly signal: AbortSignal;
  readonly filters: Pick<Filters, 'matchFile'>;
  readonly releaseTimes?: ReleaseTimes;
  countRequest(): void;
}

/**
 * `page` with an upload time on every file the mirror may want, when a release-time key applies to it:
 * from the JSON API for files the page gives none. Throws UPSTREAM_NO_UPLOAD_TIME when some still lack one.
 */
export async function withUploadTimes(ctx: UploadTimeContext, page: ProjectPage): Promise<ProjectPage> {
  const releaseTimes = ctx.releaseTimes;
  if (releaseTimes === undefined || !isReleaseTimePolicyActive(releaseTimes.policyFor(page.name)))
    return page;
  const isUndated = (f: { filename: string; uploadTime: string | null }): boolean =>
    f.uploadTime === null && ctx.filters.matchFile(f.filename);
  if (!page.files.some(isUndated)) return page;
  const fetchTimes = ctx.upstream.fetchUploadTimes;
  let times: ReadonlyMap<string, string> | null = null;
  if (fetchTimes !== undefined) {
    ctx.countRequest();
    times = await ctx.pool.run(page.name, () => fetchTimes(page.name, ctx.signal));
  }
  const files = page.files.map((f) =>
    f.uploadTime === null ? { ...f, uploadTime: times?.get(f.filename) ?? null } : f,
  );
  const undated = files.filter(isUndated);
  if (undated.length > 0) {
    const first = undated.slice(0, 3).map((f) => f.filename);
    const more = undated.length > first.length ? ` and ${undated.length - first.length} more` : '';
    const where = times === null ? 'and it has no JSON API (/pypi/<project>/json)' : 'nor does its JSON API';
    throw new UpstreamError(
      'UPSTREAM_NO_UPLOAD_TIME',
      `${releaseTimes.label} gives no upload time for ${first.join(', ')}${more} of ${page.name}: its page ` +
        `has none (PEP 700 upload-time), ${where}; min_release_age and exclude_newer cannot judge these ` +
        `files, so they are not mirrored: remove min_release_age from ${releaseTimes.label} (and ` +
        'exclude_newer), or exempt the project with quarantine_exempt',
      { url: page.name },
    );
  }
  return { ...page, files };
}

/** `check`'s line on the files the last run held back (state.json), or none. */
export function describeHeldFiles(state: MirrorState | null): string[] {
  const hold = mergeHolds(Object.values(state?.projects ?? {}).map((p) => p.quarantine));
  return hold === null ? [] : [`# quarantine: last run: ${formatHold(hold)}`];
}
