// Change discovery (docs/architecture.md, docs/protocol.md §3): which selected projects to look at this run,
// which mirrored projects are no longer wanted, and whether deletions are safe. Cheapest first, per upstream:
//   changelog       PyPI XML-RPC changelog_since_serial(lastSerial): one call when nothing changed;
//   listing-serial  the PEP 691 root listing's `_last-serial` per project against the stored serials;
//   conditional     a plain PEP 503 index: the listing, then each selected page with its ETag / Last-Modified;
//   literal         every package_matches entry is a plain name: never a listing; the changelog when the
//                   upstream has one, else each page conditionally.
// The listing is itself asked for conditionally, and streamed (PyPI's has 700 000 names; it is never held).
import type { Config } from '../config/types.js';
import type { DiscoveryState, MirroredProject, MirrorState } from '../mirror/state.js';
import { compileFilters } from '../plan/filters.js';
import { normalizeName } from '../model/names.js';
import type { ConditionalHeaders, ListedProject } from '../model/upstream.js';
import { discoverChangelog } from './discover-changelog.js';
import { discoverLiteral } from './discover-literal.js';
import type { ProjectEntries } from './state-projects.js';
import { createStorableCheck } from './unstorable.js';
import {
  type Candidate,
  type DiscoverInput,
  type Discovery,
  errorText,
  holdDeletions,
  isChangelogWorthAsking,
  memoOf,
  NO_DISCOVERY_STATE,
  noGoneCheck,
  withoutListing,
  type Run,
  selectMirrored,
} from './discover-shared.js';

export { type Candidate, type DiscoverInput, type Discovery } from './discover-shared.js';

export async function discover(input: DiscoverInput): Promise<Discovery> {
  const { state, filters, isRescoped } = input;
  const previous = state.discovery ?? NO_DISCOVERY_STATE;
  const run: Run = {
    input,
    previous,
    now: input.now ?? new Date(),
    changelogUnsupportedAt: previous.changelogUnsupportedAt,
    requests: 0,
    isStorable: createStorableCheck(input.log),
  };
  const isFilesOnly = isRescoped && input.isFilesRescoped === true;
  const isTrusted = (!isRescoped || isFilesOnly) && input.isUpstreamChanged !== true;
  if (state.lastSerial !== null && isTrusted && !previous.isListingDue && isChangelogWorthAsking(run)) {
    const found = await discoverChangelog(run, state.lastSerial);
    if (found !== null) return isFilesOnly ? replanFromRecords(found, state) : found;
  }
  const literal = filters.literalProjects;
  return literal === null ? discoverListing(run) : discoverLiteral(run, literal);
}

/**
 * A files-only scope change (filename_matches, the selection keys, cleanup, release times) that the changelog
 * vouches for: the pages it names are fetched, and every other mirrored project is planned again from the
 * page its record holds (upstreamFiles), with no request. A project whose serial is unknown is fetched.
 */
function replanFromRecords(found: Discovery, state: MirrorState): Discovery {
  const fetched = new Set(found.toSync.map((c) => c.name));
  const replans: Candidate[] = [];
  for (const c of found.selected.values()) {
    if (!fetched.has(c.name) && state.projects[c.name]?.serial != null)
      replans.push({ ...c, isReplan: true });
  }
  return { ...found, toSync: [...found.toSync, ...replans] };
}

// ---- root listing -------------------------------------------------------------------------------------

async function discoverListing(run: Run): Promise<Discovery> {
  const { upstream, log, state, filters, isRescoped, signal } = run.input;
  const { previous } = run;
  const mirrored = state.projects;
  const canAskConditionally =
    !isRescoped &&
    run.input.isUpstreamChanged !== true &&
    !previous.isListingDue &&
    (previous.listingEtag !== null || previous.listingLastModified !== null);
  const conditional: ConditionalHeaders | null = canAskConditionally
    ? { etag: previous.listingEtag, lastModified: previous.listingLastModified }
    : null;
  // Only the selected entries are kept; the listing streams past.
  let selected = new Map<string, Candidate>();
  let hasSerials = false;
  const visitor = {
    project(p: ListedProject): void {
      const name = normalizeName(p.name);
      if (p.serial !== null) hasSerials = true;
      if (filters.matchNormalizedProject(name) && !selected.has(name) && run.isStorable(name)) {
        selected.set(name, { name, displayName: p.name, serial: p.serial });
      }
    },
    restart(): void {
      selected = new Map();
      hasSerials = false;
    },
  };
  let answer;
  try {
    run.requests++;
    answer = await upstream.streamListing(visitor, conditional, signal);
  } catch (err) {
    signal.throwIfAborted();
    log.error('upstream listing failed', { error: errorText(err) });
    return listingFailed(run);
  }

  if ('notModified' in answer) return listingUnchanged(run, answer.serial);

  const mirroredSelected = selectMirrored(state, filters);
  const kept = [...mirroredSelected.keys()].filter((name) => selected.has(name)).length;
  const toSync: Candidate[] = [];
  for (const c of selected.values()) {
    const before = mirrored[c.name];
    // A page found stale last run is wanted at (at least) the serial that made us fetch it.
    const owed = previous.pending[c.name]?.serial ?? null;
    const candidate = owed !== null && c.serial !== null && owed > c.serial ? { ...c, serial: owed } : c;
    const isUnchanged =
      !isRescoped && before !== undefined && c.serial !== null && before.serial === c.serial;
    if (!isUnchanged) toSync.push(candidate);
  }
  return {
    mode: hasSerials ? 'listing-serial' : 'conditional',
    selected,
    toSync,
    toRemove: Object.keys(mirrored).filter((name) => !selected.has(name)),
    deletionsHeld: holdDeletions(answer.count, kept, mirroredSelected.size),
    isListingFailed: false,
    listingCount: answer.count,
    lastSerial: answer.serial,
    requests: run.requests,
    memo: { ...memoOf(run), listingEtag: answer.etag, listingLastModified: answer.lastModified },
    checkGone: noGoneCheck,
  };
}

/** Without a listing, still refresh what we have (conditionally), but add and delete nothing. */
function listingFailed(run: Run): Discovery {
  const { state, filters } = run.input;
  const { previous } = run;
  const mirrored = state.projects;
  // Last run's failures too: the stored serial may already be past the change that named them.
  const fallback = selectMirrored(state, filters);
  const toSync: Candidate[] = [...fallback.values()].map((c) => ({ ...c, serial: null }));
  for (const [name, p] of Object.entries(previous.pending)) {
    if (fallback.has(name) || !filters.matchNormalizedProject(name)) continue;
    const c = { name, displayName: p.displayName, serial: p.serial };
    fallback.set(name, c);
    toSync.push(c);
  }
  return {
    mode: 'mirrored-only',
    selected: fallback,
    toSync,
    toRemove: Object.keys(mirrored).filter((name) => !fallback.has(name)),
    deletionsHeld: holdDeletions(null, 0, 0),
    isListingFailed: true,
    listingCount: null,
    lastSerial: null,
    requests: run.requests,
    memo: memoOf(run),
    checkGone: noGoneCheck,
  };
}

/**
 * Unchanged since the last full listing: the selection is what we hold. Fetch only what is owed: last run's
 * failures and stale pages, and pages with no serial (every page on a plain index).
 */
function listingUnchanged(run: Run, lastSerial: number | null): Discovery {
  const { state, filters } = run.input;
  const { previous } = run;
  const known = selectMirrored(state, filters);
  const toSync = new Map<string, Candidate>();
  for (const [name, p] of Object.entries(previous.pending)) {
    if (!filters.matchNormalizedProject(name)) continue;
    const c = { name, displayName: p.displayName, serial: p.serial };
    known.set(name, c);
    toSync.set(name, c);
  }
  for (const c of known.values()) if (c.serial === null && !toSync.has(c.name)) toSync.set(c.name, c);
  const isSerialMode = previous.mode === 'listing-serial' || previous.mode === 'changelog';
  return withoutListing(
    run,
    isSerialMode ? 'listing-serial' : 'conditional',
    known,
    [...toSync.values()],
    lastSerial,
  );
}

// ---- after the run ------------------------------------------------------------------------------------

/** How the run ended, as settleDiscovery needs it (not the daemon's RunOutcome, a round's result). */
export interface RunEnd {
  /** Projects in state after the run. */
  readonly projects: ProjectEntries;
  /** Projects that failed or whose page was stale this run, with the serial that was wanted. */
  readonly retryLater: readonly Candidate[];
  readonly isAborted: boolean;
  /** Removals were due but held this run. */
  readonly isDeletionHeld: boolean;
}

/** The state.discovery to store after a run. */
export function settleDiscovery(found: Discovery, state: MirrorState, outcome: RunEnd): DiscoveryState {
  const previous = state.discovery ?? NO_DISCOVERY_STATE;
  const pending: Record<string, MirroredProject> = {};
  if (outcome.isAborted) {
    // The stored serial does not move, so what was not reached is found again; keep what was owed too.
    for (const [name, p] of Object.entries(previous.pending))
      if (!outcome.projects.has(name)) pending[name] = p;
  }
  for (const c of outcome.retryLater) pending[c.name] = { displayName: c.displayName, serial: c.serial };
  // An interrupted run's listing validators are not kept: the next run reads the listing in full.
  const isComplete = !outcome.isAborted && !outcome.isDeletionHeld;
  return {
    mode: found.mode,
    changelogUnsupportedAt: found.memo.changelogUnsupportedAt,
    listingEtag: isComplete ? found.memo.listingEtag : null,
    listingLastModified: isComplete ? found.memo.listingLastModified : null,
    pending,
    isListingDue: outcome.isDeletionHeld,
  };
}

// ---- check --------------------------------------------------------------------------------------------

const MODE_TEXT: Readonly<Record<string, string>> = {
  changelog: 'the XML-RPC changelog',
  'listing-serial': "the root listing's serials",
  conditional: 'conditional requests',
  literal: 'every page conditionally',
  'mirrored-only': 'nothing (the listing failed; mirrored projects were refreshed)',
};

/** Lines for `check`: how this config discovers changes, and what the last run did. Pure. */
export function describeDiscovery(cfg: Config, state: MirrorState | null): string[] {
  const closure = cfg.requirements.length > 0 ? { specifiers: new Map<string, string[]>() } : null;
  const isLiteral = compileFilters(cfg.packageMatches, [], undefined, closure).literalProjects !== null;
  let last = 'no run yet';
  const d = state?.discovery;
  if (state?.lastRun != null) {
    const mode = d?.mode ?? (state.lastSerial !== null ? 'listing-serial' : 'conditional');
    const text = MODE_TEXT[mode] ?? mode;
    last =
      state.lastSerial !== null && mode !== 'conditional' ? `${text} (serial ${state.lastSerial})` : text;
  }
  const lines = [
    isLiteral
      ? '# discovery: literal names (no listing): the XML-RPC changelog when the upstream answers it, else ' +
        `each project page with its ETag / Last-Modified; last run used: ${last}`
      : "# discovery: automatic: XML-RPC changelog when the upstream answers it, else the root listing's " +
        `serials, else conditional requests; last run used: ${last}`,
  ];
  if (d?.changelogUnsupportedAt != null) {
    lines.push(
      `#   (the upstream had no XML-RPC changelog at ${d.changelogUnsupportedAt}; asked again daily)`,
    );
  }
  if (d?.isListingDue === true)
    lines.push('#   (deletions were held last run: the next run reads the listing)');
  const pending = Object.keys(d?.pending ?? {}).length;
  if (pending > 0)
    lines.push(`#   (${pending} projects failed or were stale last run and are fetched again)`);
  return lines;
}
