// Several upstreams in one tree (issue #12; docs/architecture.md "One sync", docs/protocol.md §3): each `[upstream:NAME]`
// section, in file order, then [mirror]'s index_url, is a route. A project belongs to the first route whose
// package_matches selects it and is fetched from that upstream only: a project an earlier upstream claims is
// never looked up on a later one (the dependency-confusion guard). Each route discovers its changes on its
// own (discover.ts, with its own serial, listing validators and pending projects in the state) and has its
// own scope, so an edit to one section re-plans only the projects that section's edit can move.
import { createHash } from 'node:crypto';
import type { Config, UpstreamSection } from '../config/types.js';
import type { Logger } from '../log.js';
import type { MirroredProject, MirrorState, UpstreamState } from '../mirror/state.js';
import { compileFilters, selectionScope, type Filters } from '../plan/filters.js';
import { normalizeName } from '../model/names.js';
import type { Upstream } from '../model/upstream.js';
import { type ProjectEntries, projectNames } from './state-projects.js';
import { type Candidate, describeDiscovery, discover, type Discovery, settleDiscovery } from './discover.js';

/** One upstream the run reads. */
export interface Route {
  /** The `[upstream:NAME]` section's NAME, or null for [mirror]'s index_url. */
  readonly section: string | null;
  /** `[upstream:NAME]` or `[mirror] index_url`, for messages. */
  readonly label: string;
  readonly upstream: Upstream;
  /** The projects this route serves: its package_matches, less what an earlier route claims. */
  readonly filters: Filters;
  /** Its package_matches as written (display names, `check`). */
  readonly packageMatches: readonly string[];
  readonly minReleaseAgeMs: number | null;
  /** Fingerprint of what decides this route's projects: a change re-plans them. */
  readonly scopeKey: string;
  /**
   * Fingerprint of the part of scopeKey that decides which projects the route serves (its index URL,
   * package_matches and what earlier sections claim). While it holds, a scope change concerns files only,
   * and a page the changelog vouches for is re-planned from its record (discover.ts).
   */
  readonly projectsKey: string;
  /** Fingerprint of its index URL: when it changes, its stored serials and validators mean nothing. */
  readonly upstreamKey: string;
}

export interface Routing {
  /** The sections in file order, then [mirror]'s index_url (always last). */
  readonly routes: readonly Route[];
  /** The route a project belongs to: the first that selects it, else [mirror]'s (which then drops it). */
  ownerOf(normalized: string): Route;
}

function fingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** Nothing while no release-time key is set, so a mirror without them keeps its scope key. */
function releaseTimeScope(cfg: Config, minReleaseAgeMs: number | null): unknown[] {
  const isOpen = minReleaseAgeMs === null && cfg.excludeNewer === null && cfg.quarantineExempt.length === 0;
  return isOpen ? [] : ['release-times', minReleaseAgeMs, cfg.quarantineExempt.join(' '), cfg.excludeNewer];
}

/** The package_matches of the sections before a route: they decide which projects are left to it. */
function claimsScope(earlier: readonly UpstreamSection[]): unknown[] {
  return earlier.length === 0 ? [] : ['claimed', ...earlier.map((s) => s.packageMatches.join('\n'))];
}

/** What decides which projects a route serves (Route.projectsKey). */
function routeProjectsScope(indexUrl: URL, packageMatches: readonly string[]): unknown[] {
  return [indexUrl.href, packageMatches.join('\n')];
}

function routeScope(cfg: Config, indexUrl: URL, packageMatches: readonly string[], index: number): unknown[] {
  const section = cfg.upstreams[index];
  return [
    ...routeProjectsScope(indexUrl, packageMatches),
    cfg.filenameMatches.join('\n'),
    cfg.cleanup,
    ...selectionScope(cfg),
    ...claimsScope(cfg.upstreams.slice(0, index)),
    ...releaseTimeScope(cfg, section === undefined ? cfg.minReleaseAgeMs : section.minReleaseAgeMs),
  ];
}

/** [mirror]'s route's scope key (kept at the top of state.json; unchanged for a mirror with one upstream). */
export function mainScopeKey(cfg: Config): string {
  return fingerprint(routeScope(cfg, cfg.indexUrl, cfg.packageMatches, cfg.upstreams.length));
}

/** Everything that decides what the tree holds, every route together (the daemon syncs at once on a change). */
export function wholeScopeKey(cfg: Config): string {
  if (cfg.upstreams.length === 0) return mainScopeKey(cfg);
  const sections = cfg.upstreams.map((s, i) => fingerprint(routeScope(cfg, s.indexUrl, s.packageMatches, i)));
  return fingerprint([mainScopeKey(cfg), ...sections]);
}

/** Route.projectsKey of the route at `index` (the sections in file order, then [mirror]'s). */
function projectsKeyOf(cfg: Config, indexUrl: URL, packageMatches: readonly string[], index: number): string {
  return fingerprint([
    ...routeProjectsScope(indexUrl, packageMatches),
    ...claimsScope(cfg.upstreams.slice(0, index)),
  ]);
}

/** The keys [mirror]'s route keeps at the top of state.json, as a run writes them (the bench's too). */
export function mainRouteKeys(
  cfg: Config,
): Required<Pick<UpstreamState, 'scopeKey' | 'projectsKey' | 'upstreamKey'>> {
  return {
    scopeKey: mainScopeKey(cfg),
    projectsKey: projectsKeyOf(cfg, cfg.indexUrl, cfg.packageMatches, cfg.upstreams.length),
    upstreamKey: upstreamKeyOf(cfg.indexUrl),
  };
}

function upstreamKeyOf(indexUrl: URL): string {
  return createHash('sha256').update(indexUrl.href).digest('hex').slice(0, 32);
}

/** `filters`, less every project one of `earlier` selects. */
function leftBy(filters: Filters, earlier: readonly Filters[]): Filters {
  if (earlier.length === 0) return filters;
  const isClaimed = (normalized: string): boolean =>
    earlier.some((f) => f.matchNormalizedProject(normalized));
  return {
    ...filters,
    matchProject: (name) => filters.matchProject(name) && !isClaimed(normalizeName(name)),
    matchNormalizedProject: (normalized) =>
      filters.matchNormalizedProject(normalized) && !isClaimed(normalized),
    literalProjects: filters.literalProjects?.filter((name) => !isClaimed(name)) ?? null,
  };
}

/**
 * The routes of `cfg`: `upstreams` has a client per section (by NAME), `main` is [mirror]'s. A section
 * without a client is a programming error.
 */
export function buildRouting(
  cfg: Config,
  main: Upstream,
  upstreams: ReadonlyMap<string, Upstream> = new Map(),
  closure: Filters | null = null,
): Routing {
  const claims: Filters[] = [];
  const routes: Route[] = [];
  const add = (section: UpstreamSection | null, upstream: Upstream, index: number): void => {
    const packageMatches = section?.packageMatches ?? cfg.packageMatches;
    const indexUrl = section?.indexUrl ?? cfg.indexUrl;
    // [mirror]'s route selects package_matches plus the dependency closure (sync/closure.ts) when there is one.
    const own =
      section === null && closure !== null
        ? closure
        : compileFilters(packageMatches, cfg.filenameMatches, cfg);
    routes.push({
      section: section?.name ?? null,
      label: section === null ? '[mirror] index_url' : `[upstream:${section.name}]`,
      upstream,
      filters: leftBy(own, [...claims]),
      packageMatches,
      minReleaseAgeMs: section === null ? cfg.minReleaseAgeMs : section.minReleaseAgeMs,
      scopeKey: fingerprint(routeScope(cfg, indexUrl, packageMatches, index)),
      projectsKey: projectsKeyOf(cfg, indexUrl, packageMatches, index),
      upstreamKey: upstreamKeyOf(indexUrl),
    });
    claims.push(own);
  };
  cfg.upstreams.forEach((section, i) => {
    const client = upstreams.get(section.name);
    if (client === undefined) throw new Error(`no upstream client for [upstream:${section.name}]`);
    add(section, client, i);
  });
  add(null, main, cfg.upstreams.length);
  const mainRoute = routes[routes.length - 1] as Route;
  const sectionRoutes = routes.slice(0, -1);
  return {
    routes,
    ownerOf: (normalized) =>
      sectionRoutes.find((r) => r.filters.matchNormalizedProject(normalized)) ?? mainRoute,
  };
}

/** Which route a mirrored project came from (absent: [mirror]'s, as in states written before routes). */
function sourceOf(p: MirroredProject): string | null {
  return p.upstream ?? null;
}

/** A route's own part of the state: [mirror]'s at the top of state.json, a section's under `upstreams`. */
function ownState(state: MirrorState, route: Route): UpstreamState {
  if (route.section === null) return state;
  return (
    state.upstreams?.[route.section] ?? {
      scopeKey: null,
      projectsKey: null,
      upstreamKey: null,
      lastSerial: null,
      listingCount: null,
    }
  );
}

/**
 * The state as one route sees it: its own serial, validators and pending projects, and the mirrored
 * projects it owns now. A project that came from another upstream has no serial here (its page is fetched
 * in full: that upstream's serials and validators say nothing about this one).
 */
function viewOf(state: MirrorState, route: Route, routing: Routing, moved: ReadonlySet<string>): MirrorState {
  const own = ownState(state, route);
  return {
    ...state,
    scopeKey: own.scopeKey,
    projectsKey: own.projectsKey ?? null,
    upstreamKey: own.upstreamKey,
    lastSerial: own.lastSerial,
    listingCount: own.listingCount,
    ...(own.discovery === undefined ? {} : { discovery: own.discovery }),
    projects: ownedProjects(state.projects, route, routing, moved),
  };
}

/**
 * The mirrored projects `route` owns now, each from that route or without its serial (`moved`: those
 * that came from another upstream). With one upstream and every project from it (the usual mirror), that
 * is the state's own object, not a copy of 100 000 entries.
 */
function ownedProjects(
  all: Readonly<Record<string, MirroredProject>>,
  route: Route,
  routing: Routing,
  moved: ReadonlySet<string>,
): Readonly<Record<string, MirroredProject>> {
  if (routing.routes.length === 1 && moved.size === 0) return all;
  const projects: Record<string, MirroredProject> = {};
  for (const name in all) {
    const p = all[name] as MirroredProject;
    if (routing.ownerOf(name) !== route) continue;
    projects[name] = sourceOf(p) === route.section ? p : { ...p, serial: null };
  }
  return projects;
}

interface RouteDiscovery {
  readonly route: Route;
  readonly found: Discovery;
  readonly view: MirrorState;
  readonly isRescoped: boolean;
  readonly isUpstreamChanged: boolean;
}

/** Discovery over every route, and what the run needs to treat each project as its route says. */
export interface RoutedDiscovery {
  /** Every route's discovery merged: what run.ts reads (`mode` and the serials are [mirror]'s). */
  readonly found: Discovery;
  readonly byRoute: readonly RouteDiscovery[];
  /** The route of a project, with its discovery. */
  of(normalized: string): RouteDiscovery;
  /** Mirrored projects that came from another upstream than the one that owns them now. */
  readonly moved: ReadonlySet<string>;
  /** Projects whose held files (min_release_age) come of age: re-planned even when their page is unchanged. */
  readonly due: ReadonlySet<string>;
}

export interface RoutedDiscoverInput {
  readonly routing: Routing;
  readonly log: Logger;
  readonly cfg: Config;
  readonly state: MirrorState;
  readonly signal: AbortSignal;
  readonly now: Date;
}

/** Runs discovery route by route (discover.ts), then merges the answers. */
export async function discoverRoutes(input: RoutedDiscoverInput): Promise<RoutedDiscovery> {
  const { routing, log, cfg, state, signal, now } = input;
  // One pass over the mirrored projects, copying none (a state of 100 000 entries is read once).
  const moved = new Set<string>();
  const due = new Set<string>();
  const only = routing.routes.length === 1 ? (routing.routes[0] as Route) : null;
  for (const name of projectNames(state.projects)) {
    const p = state.projects[name] as MirroredProject;
    if (sourceOf(p) !== (only ?? routing.ownerOf(name)).section) moved.add(name);
    if (p.quarantine !== undefined && Date.parse(p.quarantine.until) <= now.getTime()) due.add(name);
  }
  const byRoute: RouteDiscovery[] = [];
  for (const route of routing.routes) {
    const view = viewOf(state, route, routing, moved);
    const isRescoped = view.scopeKey !== route.scopeKey;
    // Only the files of the same projects may change: the changelog can still say which pages are current.
    const isFilesRescoped = isRescoped && view.projectsKey === route.projectsKey;
    const isUpstreamChanged = view.upstreamKey !== null && view.upstreamKey !== route.upstreamKey;
    const found = await discover({
      upstream: route.upstream,
      log: routing.routes.length === 1 ? log : log.child({ upstream: route.label }),
      cfg: { ...cfg, packageMatches: route.packageMatches },
      state: view,
      filters: route.filters,
      isRescoped,
      isFilesRescoped,
      isUpstreamChanged,
      signal,
      now,
    });
    byRoute.push({ route, found, view, isRescoped, isUpstreamChanged });
  }
  const of = (name: string): RouteDiscovery => {
    const owner = routing.ownerOf(name);
    return byRoute.find((r) => r.route === owner) as RouteDiscovery;
  };
  return { found: mergeDiscoveries(byRoute, routing, due), byRoute, of, moved, due };
}

function mergeDiscoveries(
  byRoute: readonly RouteDiscovery[],
  routing: Routing,
  due: ReadonlySet<string>,
): Discovery {
  const main = byRoute[byRoute.length - 1] as RouteDiscovery;
  const isSeveral = byRoute.length > 1;
  // One upstream's selection is taken as it is; several are merged into a new map.
  const merged = new Map<string, Candidate>();
  const selected: ReadonlyMap<string, Candidate> = isSeveral ? merged : main.found.selected;
  const toSync = new Map<string, Candidate>();
  const toRemove = new Set<string>();
  const holds: string[] = [];
  let requests = 0;
  for (const { route, found } of byRoute) {
    if (isSeveral) for (const [name, c] of found.selected) merged.set(name, c);
    for (const c of found.toSync) toSync.set(c.name, c);
    for (const name of found.toRemove) toRemove.add(name);
    if (found.deletionsHeld !== null)
      holds.push(isSeveral ? `${route.label}: ${found.deletionsHeld}` : found.deletionsHeld);
    requests += found.requests;
  }
  // Held files that come of age are looked at again, whatever the change discovery says.
  for (const name of due) {
    const c = selected.get(name);
    if (c !== undefined && !toSync.has(name)) toSync.set(name, c);
  }
  return {
    ...main.found,
    selected,
    toSync: [...toSync.values()],
    toRemove: [...toRemove],
    deletionsHeld: holds.length === 0 ? null : holds.join('; '),
    isListingFailed: byRoute.some((r) => r.found.isListingFailed),
    requests,
    async checkGone(gone, signal) {
      let held: string | null = null;
      let spent = 0;
      for (const { route, found } of byRoute) {
        const mine = gone.filter((name) => routing.ownerOf(name) === route);
        const check = await found.checkGone(mine, signal);
        spent += check.requests;
        if (check.held !== null) held ??= isSeveral ? `${route.label}: ${check.held}` : check.held;
      }
      return { held, requests: spent };
    },
  };
}

/** How the run ended, for each route's stored discovery (discover.ts RunEnd). */
export interface RoutedOutcome {
  readonly projects: ProjectEntries;
  readonly retryLater: readonly Candidate[];
  readonly isAborted: boolean;
  readonly isDeletionHeld: boolean;
}

/** The state's discovery fields after a run: [mirror]'s at the top, each section's under `upstreams`. */
export function settleRoutes(
  routed: RoutedDiscovery,
  outcome: RoutedOutcome,
): Pick<
  MirrorState,
  'scopeKey' | 'projectsKey' | 'upstreamKey' | 'lastSerial' | 'listingCount' | 'discovery' | 'upstreams'
> {
  const settled = routed.byRoute.map(({ route, found, view }): [Route, UpstreamState] => {
    const retryLater = outcome.retryLater.filter((c) => routed.of(c.name).route === route);
    return [
      route,
      {
        scopeKey: outcome.isAborted ? view.scopeKey : route.scopeKey,
        projectsKey: outcome.isAborted ? (view.projectsKey ?? null) : route.projectsKey,
        upstreamKey: route.upstreamKey,
        // An interrupted run keeps the old serial, so the changes it did not reach are found again.
        lastSerial: (outcome.isAborted ? null : found.lastSerial) ?? view.lastSerial,
        listingCount: found.listingCount ?? view.listingCount,
        discovery: settleDiscovery(found, view, { ...outcome, retryLater }),
      },
    ];
  });
  const [, main] = settled[settled.length - 1] as [Route, UpstreamState];
  const sections = settled.slice(0, -1).map(([route, s]) => [route.section as string, s] as const);
  return {
    scopeKey: main.scopeKey,
    projectsKey: main.projectsKey ?? null,
    upstreamKey: main.upstreamKey,
    lastSerial: main.lastSerial,
    listingCount: main.listingCount,
    ...(main.discovery === undefined ? {} : { discovery: main.discovery }),
    ...(sections.length === 0 ? {} : { upstreams: Object.fromEntries(sections) }),
  };
}

/**
 * `check`'s discovery lines of each `[upstream:NAME]` section (describeDiscovery's, from its own part of the
 * state); [mirror]'s are describeDiscovery's own.
 */
export function describeSectionDiscovery(cfg: Config, state: MirrorState | null): string[] {
  return cfg.upstreams.flatMap((section) => {
    const own = state?.upstreams?.[section.name];
    // A section that has not run yet reads as "no run yet", whatever [mirror]'s last run was.
    let view: MirrorState | null = null;
    if (state !== null && own !== undefined) {
      // eslint-disable-next-line @typescript-eslint/no-unused-vars
      const { discovery: _mirrors, ...rest } = state;
      view = {
        ...rest,
        lastSerial: own.lastSerial,
        ...(own.discovery === undefined ? {} : { discovery: own.discovery }),
      };
    }
    const lines = describeDiscovery({ ...cfg, packageMatches: section.packageMatches }, view);
    return lines.map((line) => line.replace(/^# discovery:/, `# discovery of [upstream:${section.name}]:`));
  });
}
