// Change discovery's shared vocabulary (see discover.ts): what a discovery returns, the working state of one
// discovery, and the helpers every mode uses.
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { DiscoveryState, MirroredProject, MirrorState } from '../mirror/state.js';
import type { Filters } from '../plan/filters.js';
import type { Upstream } from '../model/upstream.js';
import type { StorableCheck } from './unstorable.js';

export interface Candidate {
  readonly name: string;
  readonly displayName: string;
  /** The serial upstream says the project is at (listing or changelog), or null when unknown. */
  readonly serial: number | null;
  /**
   * Plan the project again from its record's page, fetching no page (a files-only scope change the
   * changelog vouches for, or a closure round).
   */
  readonly isReplan?: boolean;
}

type DiscoveryMode = 'changelog' | 'listing-serial' | 'conditional' | 'literal' | 'mirrored-only';

/** Changelog support is asked about again this long after an upstream said it has none. */
const CHANGELOG_REPROBE_MS = 24 * 60 * 60 * 1000;
/** More changelog pages than this (50 000 rows each on PyPI) and one listing is cheaper. */
export const CHANGELOG_MAX_PAGES = 2;

export interface Discovery {
  readonly mode: DiscoveryMode;
  /** Every selected project known this run (for the count of projects checked). */
  readonly selected: ReadonlyMap<string, Candidate>;
  /** Selected projects whose page must be fetched (conditionally when we hold an ETag). */
  readonly toSync: readonly Candidate[];
  /** Mirrored projects no longer selected or no longer upstream. */
  readonly toRemove: readonly string[];
  /** Why deletions must wait this run, or null. */
  readonly deletionsHeld: string | null;
  readonly isListingFailed: boolean;
  /** For state.json: the listing's size and the global serial (null = keep the previous value). */
  readonly listingCount: number | null;
  readonly lastSerial: number | null;
  /** Upstream requests discovery made. */
  readonly requests: number;
  /** What the next run's state.discovery starts from (settleDiscovery completes it). */
  readonly memo: DiscoveryMemo;
  /**
   * After the pages were fetched, given the projects that answered 404: why deletions must wait, or null.
   * Literal mode only: when every literal project 404s at once, the upstream must first show it is healthy.
   */
  checkGone(gone: readonly string[], signal: AbortSignal): Promise<{ held: string | null; requests: number }>;
}

export interface DiscoveryMemo {
  readonly changelogUnsupportedAt: string | null;
  readonly listingEtag: string | null;
  readonly listingLastModified: string | null;
}

export interface DiscoverInput {
  readonly upstream: Upstream;
  readonly log: Logger;
  readonly cfg: Config;
  readonly state: MirrorState;
  readonly filters: Filters;
  /** The scope changed since the last run: every selected project is re-planned. */
  readonly isRescoped: boolean;
  /** The scope changed in what concerns files only (the same projects): see discover.ts replanFromRecords. */
  readonly isFilesRescoped?: boolean;
  readonly signal: AbortSignal;
  /** Stored ETags and serials belong to another upstream. */
  readonly isUpstreamChanged?: boolean;
  readonly now?: Date;
}

/**
 * Why deletions must wait (docs/architecture.md, settle), or null when they may go ahead (then the deletion guards,
 * guards.ts, still count what the run would remove). `kept` of the `mirrored` selected projects are listed:
 * a listing that lost most of the selection is held whatever its length (a padded one too).
 */
export function holdDeletions(listedCount: number | null, kept: number, mirrored: number): string | null {
  if (listedCount === null) return 'the upstream listing could not be fetched';
  if (listedCount === 0) return 'the upstream listing was empty';
  if (mirrored >= 2 && kept < mirrored / 2) {
    return `the upstream listing lists only ${kept} of the ${mirrored} selected projects mirrored here`;
  }
  return null;
}

export const NO_DISCOVERY_STATE: DiscoveryState = {
  mode: 'none',
  changelogUnsupportedAt: null,
  listingEtag: null,
  listingLastModified: null,
  pending: {},
  isListingDue: false,
};

export const noGoneCheck = async (): Promise<{ held: null; requests: number }> => ({
  held: null,
  requests: 0,
});

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Working state of one discovery. */
export interface Run {
  readonly input: DiscoverInput;
  readonly previous: DiscoveryState;
  readonly now: Date;
  changelogUnsupportedAt: string | null;
  requests: number;
  /** Whether a selected project's name can be stored (one warning per run per name that cannot). */
  readonly isStorable: StorableCheck;
}

export function isChangelogWorthAsking(run: Run): boolean {
  const at = run.changelogUnsupportedAt;
  return at === null || !(run.now.getTime() - Date.parse(at) < CHANGELOG_REPROBE_MS);
}

export function memoOf(run: Run): DiscoveryMemo {
  return {
    changelogUnsupportedAt: run.changelogUnsupportedAt,
    listingEtag: run.previous.listingEtag,
    listingLastModified: run.previous.listingLastModified,
  };
}

/**
 * A discovery that read no listing: `selected` as known, every mirrored project outside it to remove (given
 * when the caller has them already), no deletion held for the listing's sake.
 */
export function withoutListing(
  run: Run,
  mode: DiscoveryMode,
  selected: ReadonlyMap<string, Candidate>,
  toSync: readonly Candidate[],
  lastSerial: number | null,
  toRemove: readonly string[] = Object.keys(run.input.state.projects).filter((name) => !selected.has(name)),
): Discovery {
  return {
    mode,
    selected,
    toSync,
    toRemove,
    deletionsHeld: null,
    isListingFailed: false,
    listingCount: null,
    lastSerial,
    requests: run.requests,
    memo: memoOf(run),
    checkGone: noGoneCheck,
  };
}

export function selectMirrored(state: MirrorState, filters: Filters): Map<string, Candidate> {
  const selected = new Map<string, Candidate>();
  for (const name in state.projects) {
    if (filters.matchNormalizedProject(name)) {
      const p = state.projects[name] as MirroredProject;
      selected.set(name, { name, displayName: p.displayName, serial: p.serial });
    }
  }
  return selected;
}
