// The dependency closure wired into a sync (issue #11 part 3; docs/selection.md "The closure"). The pure
// step function (plan/closure.ts) is fed from what the mirror holds: each project's releases from its
// record (the page as last fetched), each kept release's dependencies from the cache in state.json, else
// from the files the sync mirrored: the PEP 658 `.metadata` (fetched from the upstream and verified against
// the page's hash by the sync), else the METADATA inside the wheel, else an sdist's PKG-INFO. So reading
// dependencies costs no request, and a run reads the metadata of new releases only. run.ts syncs what the
// closure asks for (pages of projects it pulls in, projects whose specifiers changed) in rounds, until the
// closure stops growing.
import type { Config } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { readSdistPkgInfo, readWheelMetadata } from '../mirror/archive.js';
import type { LocalFile, ProjectRecord } from '../model/record.js';
import { type ClosureState, EMPTY_STATE, type MirrorState, readRecord } from '../mirror/state.js';
import { fileKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import {
  computeClosure,
  formatReason,
  rootsFromPackageMatches,
  type ClosureInput,
  type ClosureResult,
  type KnownDependencies,
  type ReleaseRef,
  type Root,
} from '../plan/closure.js';
import { chooseMetadataSource, dependenciesFromMetadata, parseCoreMetadata } from '../plan/core-metadata.js';
import { compileFileSelection, selectProjectFiles, type FileSelection } from '../plan/file-selection.js';
import { parseFileVersion } from '../plan/filenames.js';
import { binarySdistName, fileKind } from '../plan/filetypes.js';
import { compileFilters, type Filters } from '../plan/filters.js';
import { targetEnvironments } from '../plan/markers.js';
import { canonicalVersion, type Release } from '../plan/versions.js';
import type { Candidate } from './discover.js';
import type { ProjectOutcome } from './project.js';
import { parseRequirement } from '../plan/requirements.js';
import { parseStored, readVerified } from './closure-sources.js';
import { createStorableCheck, type StorableCheck } from './unstorable.js';

/** Passes of compute → read what is on disk → compute again, per resolve: each pass reads something new. */
const MAX_PASSES = 10_000;

/** Closure rounds in a run, at most (each adds a level of dependencies, at least). */
export const MAX_CLOSURE_ROUNDS = 1000;

/** A project to sync in a round: its page fetched, or (`isReplan`) its record's page planned again. */
export interface ClosureTask extends Candidate {
  readonly isReplan?: boolean;
}

type Dependencies = Record<string, readonly string[] | 'unknown'>;

/** The specifiers' identity, to tell whether a project was selected with the closure's current ones. */
function specifierKey(specifiers: readonly string[]): string {
  return JSON.stringify(specifiers);
}

function releaseKey(ref: ReleaseRef): string {
  return `${ref.project} ${canonicalVersion(ref.version)}`;
}

/**
 * The closure over one run. `start` computes it from the records and the cache alone (discovery selects
 * with it); after each round of syncing, `resolve` reads the metadata the round mirrored and `tasks` says
 * what the next round must sync. Every project is fetched at most once a run and re-planned at most once
 * per set of specifiers, so the rounds end.
 */
export class DependencyClosure {
  private readonly roots: readonly Root[];
  private readonly fileSelection: FileSelection;
  /** package_matches alone (for filename_matches and the `!` exclusions). */
  private readonly base: Filters;
  private readonly input: ClosureInput;
  /** Names from Requires-Dist are untrusted: one that cannot be stored is skipped (warned once). */
  private readonly isStorable: StorableCheck;
  private readonly records = new Map<string, ProjectRecord | null>();
  private readonly releaseCache = new Map<string, readonly Release[]>();
  private readonly wheelCache = new Map<string, ReadonlySet<string>>();
  /** Projects whose page cannot be had this run (gone, failed, not ours): no releases. */
  private readonly unavailable = new Set<string>();
  /** Requirement strings per project and canonical version (persisted), and their parsed form. */
  private readonly cache = new Map<string, Dependencies>();
  private readonly parsed = new Map<string, KnownDependencies>();
  /** Releases whose files are not on disk after all this run: unknown until the next run (not persisted). */
  private readonly unreadable = new Set<string>();
  /** Per project: the specifiers its files were last selected with. */
  private readonly planned = new Map<string, readonly string[]>();
  /** The projects the last run's closure pulled in. */
  private readonly wasPulledIn: ReadonlySet<string>;
  private readonly fetched = new Set<string>();
  private readonly tried = new Set<string>();
  private readonly roundSpecifiers = new Map<string, readonly string[]>();
  private result: ClosureResult | null = null;
  /** Something could not be read this run: projects that seem to leave the closure stay. */
  private isDegraded = false;
  /** Releases whose metadata was read from disk this run. */
  metadataRead = 0;

  private constructor(
    private readonly cfg: Config,
    private readonly storage: Storage,
    private readonly log: Logger,
    state: ClosureState | undefined,
  ) {
    const roots: Root[] = [];
    for (const root of cfg.requirementRoots) {
      roots.push({ requirement: parseRequirement(root.requirement), origin: root.origin });
    }
    this.roots = [...roots, ...rootsFromPackageMatches(cfg.packageMatches)];
    this.isStorable = createStorableCheck(log);
    this.fileSelection = compileFileSelection(cfg);
    this.base = compileFilters(cfg.packageMatches, cfg.filenameMatches, cfg);
    for (const [project, versions] of Object.entries(state?.dependencies ?? {})) {
      this.cache.set(project, { ...versions });
    }
    for (const [project, specifiers] of Object.entries(state?.planned ?? {}))
      this.planned.set(project, specifiers);
    this.wasPulledIn = new Set(this.planned.keys());
    const environments = targetEnvironments(
      this.fileSelection.python.versions,
      this.fileSelection.platforms.platforms.map((p) => p.markers),
    );
    this.input = {
      roots: this.roots,
      environments,
      policy: cfg,
      releases: (project) => this.releases(project),
      dependencies: (project, version) => this.dependencies(project, version),
    };
  }

  /** The closure as the mirror knows it before this run fetches anything (no request). */
  static async start(
    cfg: Config,
    storage: Storage,
    log: Logger,
    state: MirrorState,
  ): Promise<DependencyClosure> {
    const closure = new DependencyClosure(cfg, storage, log, state.closure);
    await closure.resolve(false);
    return closure;
  }

  /** The selection: package_matches plus every project the closure pulls in, with its specifiers. */
  filters(): Filters {
    const specifiers = new Map<string, readonly string[]>();
    for (const [name, p] of this.current().projects) {
      if (!this.base.isExcluded(name) && this.isStorable(name)) specifiers.set(name, p.specifiers);
    }
    return compileFilters(this.cfg.packageMatches, this.cfg.filenameMatches, this.cfg, { specifiers });
  }

  /** Is the project in the closure (and not excluded)? */
  isPulledIn(name: string): boolean {
    return this.current().projects.has(name) && !this.base.isExcluded(name) && this.isStorable(name);
  }

  /**
   * What the next round must sync: closure projects with no record yet, closure projects discovery would
   * remove (to see whether they are still upstream), and projects whose specifiers changed since their
   * files were selected. Each at most once per run (re-plans once per set of specifiers).
   */
  tasks(
    toRemove: readonly string[],
    known: ReadonlyMap<string, { readonly displayName: string }>,
    already: readonly Candidate[] = [],
  ): ClosureTask[] {
    const tasks: ClosureTask[] = [];
    const taken = new Set(already.map((c) => c.name));
    const displayName = (name: string): string =>
      known.get(name)?.displayName ?? this.records.get(name)?.displayName ?? name;
    const fetch = (name: string): void => {
      if (this.fetched.has(name) || this.unavailable.has(name) || taken.has(name)) return;
      tasks.push({ name, displayName: displayName(name), serial: null, isReplan: false });
    };
    for (const name of toRemove) if (this.isPulledIn(name)) fetch(name);
    for (const [name, p] of this.current().projects) {
      if (!this.isPulledIn(name) || tasks.some((t) => t.name === name)) continue;
      const record = this.records.get(name) ?? null;
      if (record === null) fetch(name);
      else if (
        !this.isSelectedWith(name, p.specifiers) &&
        !this.tried.has(`${name} ${specifierKey(p.specifiers)}`)
      ) {
        if (!taken.has(name))
          tasks.push({ name, displayName: displayName(name), serial: null, isReplan: true });
      }
    }
    return tasks;
  }

  /** Before a round: which projects it syncs, and with which specifiers. */
  noteRound(names: Iterable<{ readonly name: string; readonly isReplan?: boolean }>): void {
    for (const { name, isReplan } of names) {
      if (isReplan !== true) this.fetched.add(name);
      const specifiers = this.current().projects.get(name)?.specifiers ?? [];
      this.roundSpecifiers.set(name, specifiers);
      this.tried.add(`${name} ${specifierKey(specifiers)}`);
    }
  }

  /** After a project of a round: its record is read again; what it means for the closure. */
  noteOutcome(name: string, outcome: ProjectOutcome, hadRecord: boolean): void {
    this.records.delete(name);
    this.releaseCache.delete(name);
    this.wheelCache.delete(name);
    const kind = outcome.kind;
    if (kind === 'synced' || kind === 'empty' || kind === 'planned') {
      this.planned.set(name, this.roundSpecifiers.get(name) ?? []);
    } else if (kind === 'gone' || kind === 'skipped') {
      this.unavailable.add(name);
    } else if (kind === 'failed' || kind === 'stale') {
      if (!hadRecord) this.unavailable.add(name);
      if (this.isPulledIn(name)) this.isDegraded = true;
    }
  }

  /**
   * May a project no longer selected be removed? Not one the closure still pulls in (fetched this run and
   * found upstream), nor one the last run's closure held while something could not be read this run: the
   * closure may then only seem smaller.
   */
  mayRemove(name: string): boolean {
    if (this.isPulledIn(name) && this.fetched.has(name) && !this.unavailable.has(name)) return false;
    return !this.wasPulledIn.has(name) || this.isSettledWhole;
  }

  /** Everything the closure needed was read this run. */
  get isSettledWhole(): boolean {
    return !this.isDegraded && this.current().isComplete;
  }

  /**
   * Computes the closure again from the records and the metadata on disk, until reading more changes
   * nothing. `isSettling` (after a round): a kept release whose files are still not on disk although its
   * project was synced with the current specifiers counts as unknown for this run.
   */
  async resolve(isSettling: boolean): Promise<ClosureResult> {
    for (let pass = 0; pass < MAX_PASSES; pass += 1) {
      const result = computeClosure(this.input);
      this.result = result;
      let isProgress = false;
      for (const name of result.needPages) {
        if (this.records.has(name)) continue;
        const record = await readRecord(this.storage, name).catch(() => null);
        this.records.set(name, record);
        if (record !== null) isProgress = true;
      }
      for (const ref of result.needMetadata) {
        if (await this.readDependencies(ref)) isProgress = true;
        else if (isSettling && this.isSettled(ref.project)) {
          this.unreadable.add(releaseKey(ref));
          this.isDegraded = true;
          isProgress = true;
        }
      }
      if (!isProgress) return result;
    }
    throw new Error('dependency closure: too many passes');
  }

  /** Warns once per project whose dependencies no metadata states, or could not be read this run. */
  warnUnknown(): void {
    const byProject = new Map<string, { unknown: string[]; unread: string[] }>();
    for (const ref of this.current().unknownDependencies) {
      const entry = byProject.get(ref.project) ?? { unknown: [], unread: [] };
      (this.unreadable.has(releaseKey(ref)) ? entry.unread : entry.unknown).push(ref.version);
      byProject.set(ref.project, entry);
    }
    for (const [project, { unknown, unread }] of byProject) {
      if (unknown.length > 0) {
        this.log.warn(
          `dependencies of ${project} unknown: no metadata states them (no wheel, and no sdist PKG-INFO of ` +
            'Metadata-Version 2.2 or later without Dynamic Requires-Dist); the closure does not follow them',
          { project, versions: unknown.join(' ') },
        );
      }
      if (unread.length > 0) {
        this.log.warn(`dependencies of ${project} not read this run: its files are not mirrored; next run`, {
          project,
          versions: unread.join(' '),
        });
      }
    }
  }

  /** For state.json: the dependency cache of the projects in the closure, and what each was selected with. */
  toState(): ClosureState {
    const projects = this.current().projects;
    const dependencies: Record<string, Dependencies> = {};
    const planned: Record<string, readonly string[]> = {};
    for (const name of [...projects.keys()].sort()) {
      const deps = this.cache.get(name);
      if (deps !== undefined) dependencies[name] = deps;
      const specifiers = this.planned.get(name);
      if (specifiers !== undefined) planned[name] = specifiers;
    }
    return { dependencies, planned };
  }

  /** `check`: one line per project in the closure, with why it is there. */
  describe(): string[] {
    const result = this.current();
    const lines = [`# dependency closure of requirements: ${result.projects.size} projects`];
    for (const [name, p] of result.projects) {
      const [first, ...more] = p.reasons;
      let line = first === undefined ? name : formatReason(name, first);
      if (more.length > 0) line += ` (and ${more.length} more)`;
      if (this.base.isExcluded(name)) line += '; excluded by a "!" entry of package_matches: not mirrored';
      else if (this.records.get(name) == null) line += '; its page is read by the next sync';
      lines.push(`#   ${line}`);
    }
    const pending = result.needMetadata.length;
    if (pending > 0)
      lines.push(`#   (${pending} releases not mirrored yet: the next sync reads their dependencies)`);
    return lines;
  }

  private current(): ClosureResult {
    if (this.result === null) throw new Error('dependency closure: not resolved');
    return this.result;
  }

  private isSelectedWith(name: string, specifiers: readonly string[]): boolean {
    const planned = this.planned.get(name);
    return planned !== undefined && specifierKey(planned) === specifierKey(specifiers);
  }

  private isSettled(name: string): boolean {
    if (this.unavailable.has(name)) return true;
    const specifiers = this.current().projects.get(name)?.specifiers ?? [];
    return this.isSelectedWith(name, specifiers) || this.tried.has(`${name} ${specifierKey(specifiers)}`);
  }

  private releases(project: string): readonly Release[] | undefined {
    if (this.base.isExcluded(project) || this.unavailable.has(project) || !this.isStorable(project)) {
      return [];
    }
    const cached = this.releaseCache.get(project);
    if (cached !== undefined) return cached;
    const record = this.records.get(project);
    if (record === undefined || record === null) return undefined;
    const files = record.status === 'quarantined' ? [] : record.upstreamFiles;
    const named = files.filter((f) => this.base.matchFile(f.filename));
    const releases = selectProjectFiles(project, named, this.fileSelection, [], this.cfg).releases;
    this.releaseCache.set(project, releases);
    return releases;
  }

  private dependencies(project: string, version: string): KnownDependencies | undefined {
    const canonical = canonicalVersion(version);
    const key = `${project} ${canonical}`;
    if (this.unreadable.has(key)) return 'unknown';
    const stored = this.cache.get(project)?.[canonical];
    if (stored === undefined) return undefined;
    // An sdist's metadata did not say; a wheel of the release mirrored since (they often come minutes
    // after the sdist) does: read it.
    if (stored === 'unknown') return this.wheelReleases(project).has(canonical) ? undefined : 'unknown';
    const parsed = this.parsed.get(key);
    if (parsed !== undefined) return parsed;
    const known = { requirements: parseStored(stored) };
    this.parsed.set(key, known);
    return known;
  }

  /** The canonical versions of the project that have a mirrored wheel (from its record as loaded). */
  private wheelReleases(project: string): ReadonlySet<string> {
    const cached = this.wheelCache.get(project);
    if (cached !== undefined) return cached;
    const versions = new Set<string>();
    for (const file of this.records.get(project)?.files ?? []) {
      if (fileKind(file.filename).packageType !== 'bdist_wheel') continue;
      const version = parseFileVersion(file.filename, project);
      if (version !== null) versions.add(canonicalVersion(version));
    }
    if (this.records.has(project)) this.wheelCache.set(project, versions);
    return versions;
  }

  /** Reads a kept release's dependencies from the mirrored files; false when none of its files is on disk. */
  private async readDependencies(ref: ReleaseRef): Promise<boolean> {
    const record = this.records.get(ref.project);
    if (record === undefined || record === null) return false;
    const canonical = canonicalVersion(ref.version);
    const files = record.files.filter((f) => {
      const version = parseFileVersion(binarySdistName(f.filename), ref.project);
      return version !== null && canonicalVersion(version) === canonical;
    });
    const choice = chooseMetadataSource(
      files.map((f) => ({
        filename: f.filename,
        coreMetadata: f.metadataSha256 === null ? null : { sha256: f.metadataSha256 },
      })),
    );
    if (choice === null) return false;
    const file = files.find((f) => f.filename === choice.filename) as LocalFile;
    const key = fileKey(ref.project, file);
    let bytes =
      choice.via === 'pep658'
        ? await readVerified(this.storage, `${key}.metadata`, file.metadataSha256)
        : null;
    let from = 'its .metadata file';
    if (bytes === null) {
      if ((await this.storage.stat(key)) === null) return false;
      bytes =
        choice.source === 'wheel'
          ? await readWheelMetadata(this.storage, key)
          : await readSdistPkgInfo(this.storage, key);
      from = choice.source === 'wheel' ? 'the METADATA in its wheel' : 'the PKG-INFO in its sdist';
    }
    const meta = bytes === null ? null : parseCoreMetadata(bytes.toString('utf8'));
    const deps = meta === null ? null : dependenciesFromMetadata(meta, choice.source);
    for (const bad of deps?.invalid ?? []) {
      this.log.warn('a Requires-Dist value is skipped', {
        ...ref,
        requirement: bad.text,
        reason: bad.reason,
      });
    }
    const stored = deps === null ? 'unknown' : deps.requirements.map((r) => r.text);
    this.cache.set(ref.project, { ...this.cache.get(ref.project), [canonical]: stored });
    this.metadataRead += 1;
    this.log.debug('release dependencies read', { ...ref, from: deps === null ? `${from} (unknown)` : from });
    return true;
  }
}

/**
 * `check`: the closure as the mirror knows it (records and the dependency cache; no request), one line per
 * project with why it is there; nothing when `requirements` is not set.
 */
export async function describeClosure(
  cfg: Config,
  storage: Storage,
  state: MirrorState | null,
): Promise<string[]> {
  if (cfg.requirements.length === 0) return [];
  return (await DependencyClosure.start(cfg, storage, silentLogger, state ?? EMPTY_STATE)).describe();
}
