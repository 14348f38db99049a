// The dependency closure (issue #11, part 3) as a pure step function: from the roots (requirements files
// and literal package_matches), the releases and dependencies known so far, the target environments
// and the version policy, which projects and versions the mirror keeps, why each project is there, and
// what the caller must still read (project pages, release metadata) before the answer is final. The
// caller reads what is missing and calls again; nothing is kept between calls, so a caller that caches
// dependencies per (project, version) re-reads only the metadata of releases it has not seen. Pure.
import { isMarkerPossible, type TargetEnvironment } from './markers.js';
import { parseRequirement, RequirementSyntaxError, type Requirement } from './requirements.js';
import { parsePackageMatch, selectVersions, type Release, type VersionPolicy } from './versions.js';

/** A requirement the mirror starts from, and where it was written (`reqs.txt:3`, `package_matches`). */
export interface Root {
  readonly requirement: Requirement;
  readonly origin: string;
}

/** The stated dependencies of one release, or 'unknown' when no metadata states them. */
export type KnownDependencies = { readonly requirements: readonly Requirement[] } | 'unknown';

export interface ClosureInput {
  readonly roots: readonly Root[];
  readonly environments: readonly TargetEnvironment[];
  readonly policy: VersionPolicy;
  /** The releases of a project that have a selected file, or undefined when its page is not read yet. */
  releases(project: string): readonly Release[] | undefined;
  /** The dependencies of a release: undefined = its metadata is not read yet. */
  dependencies(project: string, version: string): KnownDependencies | undefined;
}

/** Why a project is in the closure. */
export type Reason =
  | { readonly kind: 'root'; readonly origin: string; readonly requirement: string }
  | {
      readonly kind: 'dependency';
      readonly project: string;
      readonly version: string;
      readonly requirement: string;
    };

interface ClosureProject {
  readonly project: string;
  /** Kept versions, newest first (empty while the page is not read). */
  readonly versions: readonly string[];
  /** The specifier of every requirement on the project ('' = any version), sorted. */
  readonly specifiers: readonly string[];
  /** Extras requested of it, sorted. */
  readonly extras: readonly string[];
  readonly reasons: readonly Reason[];
}

export interface ReleaseRef {
  readonly project: string;
  readonly version: string;
}

export interface ClosureResult {
  /** Every project in the closure, by normalised name, in name order. */
  readonly projects: ReadonlyMap<string, ClosureProject>;
  /** Projects whose pages must be read before the closure can grow further. */
  readonly needPages: readonly string[];
  /** Kept releases whose metadata must be read. */
  readonly needMetadata: readonly ReleaseRef[];
  /** Kept releases whose dependencies no metadata states: warn once per project. */
  readonly unknownDependencies: readonly ReleaseRef[];
  /** True when nothing more needs reading: the closure is final. */
  readonly isComplete: boolean;
}

interface Incoming {
  readonly specifiers: Set<string>;
  readonly extras: Set<string>;
  readonly reasons: Map<string, Reason>;
}

/**
 * The literal `package_matches` entries (a name, with or without a specifier) as closure roots, origin
 * `package_matches`. Globs and exclusions are no roots; invalid entries are skipped (config validation
 * reports them).
 */
export function rootsFromPackageMatches(entries: readonly string[]): Root[] {
  const roots: Root[] = [];
  for (const entry of entries) {
    const match = parsePackageMatch(entry);
    if ('error' in match || match.isGlob || match.isExclude) continue;
    try {
      roots.push({
        requirement: parseRequirement(`${match.pattern}${match.specifier}`),
        origin: 'package_matches',
      });
    } catch (err) {
      if (!(err instanceof RequirementSyntaxError)) throw err;
    }
  }
  return roots;
}

/** `fakepkg-beta: fakepkg-alpha 1.1 requires fakepkg-beta>=1.0`, for `check`. */
export function formatReason(project: string, reason: Reason): string {
  return reason.kind === 'root'
    ? `${project}: ${reason.origin} requires ${reason.requirement}`
    : `${project}: ${reason.project} ${reason.version} requires ${reason.requirement}`;
}

/**
 * Computes the closure from what is known. Requirements are followed when their marker is true or maybe
 * in one target environment, for no extra or an extra requested of the requiring project. A project
 * keeps the versions selectVersions picks for the specifiers of the requirements on it. The result is
 * the least fixed point: iterate until no project gains a specifier or an extra.
 */
export function computeClosure(input: ClosureInput): ClosureResult {
  const incoming = new Map<string, Incoming>();
  const add = (requirement: Requirement, reason: Reason): boolean => {
    let entry = incoming.get(requirement.project);
    let changed = false;
    if (entry === undefined) {
      entry = { specifiers: new Set(), extras: new Set(), reasons: new Map() };
      incoming.set(requirement.project, entry);
      changed = true;
    }
    if (!entry.specifiers.has(requirement.specifier)) {
      entry.specifiers.add(requirement.specifier);
      changed = true;
    }
    for (const extra of requirement.extras) {
      if (!entry.extras.has(extra)) {
        entry.extras.add(extra);
        changed = true;
      }
    }
    entry.reasons.set(JSON.stringify(reason), reason);
    return changed;
  };
  for (const root of input.roots) {
    if (isMarkerPossible(root.requirement.marker, input.environments)) {
      add(root.requirement, { kind: 'root', origin: root.origin, requirement: root.requirement.text });
    }
  }
  const keptVersions = (project: string, entry: Incoming): string[] => {
    const releases = input.releases(project);
    return releases === undefined ? [] : selectVersions(releases, [...entry.specifiers].sort(), input.policy);
  };
  // Each pass adds at least one specifier or extra, and both are finite (they come from the metadata
  // read so far), so this ends; the bound only guards against a bug.
  for (let pass = 0, changed = true; changed; pass += 1) {
    if (pass > 100_000) throw new Error('dependency closure did not converge');
    changed = false;
    for (const [project, entry] of [...incoming]) {
      for (const version of keptVersions(project, entry)) {
        const deps = input.dependencies(project, version);
        if (deps === undefined || deps === 'unknown') continue;
        for (const requirement of deps.requirements) {
          if (!isMarkerPossible(requirement.marker, input.environments, entry.extras)) continue;
          const reason: Reason = { kind: 'dependency', project, version, requirement: requirement.text };
          if (add(requirement, reason)) changed = true;
        }
      }
    }
  }
  const projects = new Map<string, ClosureProject>();
  const needPages: string[] = [];
  const needMetadata: ReleaseRef[] = [];
  const unknownDependencies: ReleaseRef[] = [];
  for (const project of [...incoming.keys()].sort()) {
    const entry = incoming.get(project) as Incoming;
    if (input.releases(project) === undefined) needPages.push(project);
    const versions = keptVersions(project, entry);
    for (const version of versions) {
      const deps = input.dependencies(project, version);
      if (deps === undefined) needMetadata.push({ project, version });
      else if (deps === 'unknown') unknownDependencies.push({ project, version });
    }
    projects.set(project, {
      project,
      versions,
      specifiers: [...entry.specifiers].sort(),
      extras: [...entry.extras].sort(),
      reasons: [...entry.reasons.values()],
    });
  }
  return {
    projects,
    needPages,
    needMetadata,
    unknownDependencies,
    isComplete: needPages.length === 0 && needMetadata.length === 0,
  };
}
