// What one run has learned so far, project by project (run.ts): the state entries it will write, the
// failures and deferrals, what the deletion guards must judge (projects gone or quarantined upstream, files
// their pages no longer link, suspect pages), and the counts of the report. Each project's outcome is noted
// here once (`note`); the guards and the end of the run read it back.
import type { Logger } from '../log.js';
import type { ProjectRecord } from '../model/record.js';
import type { SuspectPage } from '../plan/planner.js';
import type { ProjectPage, UpstreamFile } from '../model/upstream.js';
import type { Candidate } from './discover.js';
import type { ProjectOutcome } from './project.js';
import { formatBytes, type ProjectFailure } from './report.js';
import { RunProjects, type StoredProjects } from './state-projects.js';
import type { Route } from './upstreams.js';

/** Files a page no longer links, retained until the guards decide; `isWhole`: none would be left. */
export interface Unlinked {
  readonly c: Candidate;
  readonly files: readonly string[];
  readonly isWhole: boolean;
}

export class RunTally {
  /** The state's project entries as the run leaves them (those it read, and its changes over them). */
  readonly projects: RunProjects;
  readonly failures: ProjectFailure[] = [];
  /** Projects whose upstream page was stale: fetched again next run. */
  readonly deferred: string[] = [];
  /** Failed or deferred: discovery asks for them again next run. */
  readonly retryLater: Candidate[] = [];
  /** Projects upstream answered 404 for. */
  readonly gone: string[] = [];
  /** Mirrored projects that go if the guards allow it. */
  readonly removals = new Set<string>();
  /** Projects whose every file left the selection (with their previous record): their directory goes after the root page. */
  readonly emptied = new Map<string, ProjectRecord | null>();
  readonly unlinked = new Map<string, Unlinked>();
  readonly quarantined = new Map<string, { c: Candidate; page: ProjectPage }>();
  readonly suspects: (SuspectPage & { readonly project: string })[] = [];
  /** Projects whose record the run may have changed: the flat directory follows them at the end. */
  readonly touched = new Set<string>();
  projectsChanged = 0;
  filesFetched = 0;
  bytesFetched = 0;
  filesRemoved = 0;
  /** `sync --dry-run`: what the run would download. */
  wouldFetch = { files: 0, bytes: 0 };

  constructor(
    /** The state's project entries before the run. */
    readonly mirrored: StoredProjects,
    private readonly routeOf: (name: string) => Route,
    private readonly log: Logger,
    /** Where `sync --dry-run` prints what it would do. */
    private readonly print: (line: string) => void,
  ) {
    this.projects = new RunProjects(mirrored);
  }

  /** The project stays mirrored with `record`: its state entry. */
  keepProject(record: ProjectRecord, c: Candidate): void {
    const serial = Math.max(c.serial ?? -1, record.serial ?? -1);
    const section = this.routeOf(c.name).section;
    const entry = {
      displayName: c.displayName,
      serial: serial < 0 ? null : serial,
      files: record.files.length,
      ...(section === null ? {} : { upstream: section }),
      ...(record.quarantine === undefined ? {} : { quarantine: record.quarantine }),
    };
    this.projects.set(c.name, record.files.length === 0 ? { ...entry, isEmpty: true } : entry);
  }

  /** A project that failed or was deferred is fetched again next run, whatever the serials say. */
  forgetSerial(name: string): void {
    const previous = this.projects.get(name);
    if (previous !== undefined) this.projects.set(name, { ...previous, serial: null });
  }

  /** Was the project mirrored with a page before the run? */
  hasPage(name: string): boolean {
    const p = this.mirrored.get(name);
    return p !== undefined && p.isEmpty !== true;
  }

  private noteUnlinked(
    c: Candidate,
    files: readonly string[],
    left: number,
    suspect: SuspectPage | null,
  ): void {
    if (suspect !== null) this.suspects.push({ ...suspect, project: c.name });
    if (files.length > 0) this.unlinked.set(c.name, { c, files, isWhole: left === 0 });
    else this.unlinked.delete(c.name); // a closure round planned it again, and it keeps every file now
  }

  private fail(c: Candidate, reason: string): void {
    this.forgetSerial(c.name);
    this.retryLater.push(c);
    this.failures.push({ project: c.name, reason });
    this.log.error('project failed; its previous page stays', { project: c.name, error: reason });
  }

  /** One project's outcome; `record` is the record it had before. */
  note(c: Candidate, outcome: ProjectOutcome, record: ProjectRecord | null): void {
    const { log } = this;
    if (outcome.kind !== 'unchanged') this.touched.add(c.name);
    switch (outcome.kind) {
      case 'unchanged':
        this.keepProject(outcome.record, c);
        break;
      case 'synced': {
        this.keepProject(outcome.record, c);
        this.projectsChanged++;
        this.filesFetched += outcome.filesFetched;
        this.bytesFetched += outcome.bytesFetched;
        this.filesRemoved += outcome.filesRemoved;
        const left = outcome.record.files.length - outcome.unlinked.length;
        this.noteUnlinked(c, outcome.unlinked, left, outcome.suspect);
        log.info('project synced', { project: c.name, files: outcome.record.files.length });
        break;
      }
      case 'planned': {
        const left = (record?.files.length ?? 0) - outcome.unlinked.length + outcome.download.length;
        this.noteUnlinked(c, outcome.unlinked, left, outcome.suspect);
        this.wouldFetch = printDownloads(this.print, c.name, outcome.download, this.wouldFetch);
        break;
      }
      case 'quarantined':
        this.quarantined.set(c.name, { c, page: outcome.page });
        break;
      case 'empty':
        this.keepProject(outcome.record, c);
        if ((record?.files.length ?? 0) > 0) {
          this.emptied.set(c.name, record);
          this.projectsChanged++;
        }
        log.debug('no file selected; the project has no page', { project: c.name });
        break;
      case 'gone':
        // The dependency-confusion guard: a claimed project is never looked for elsewhere.
        if (this.routeOf(c.name).section !== null) this.fail(c, describeMissingClaim(this.routeOf(c.name)));
        else {
          this.gone.push(c.name);
          if (record !== null || this.mirrored.has(c.name)) this.removals.add(c.name);
          else log.warn('project listed upstream but its page is missing', { project: c.name });
        }
        break;
      case 'stale':
        this.forgetSerial(c.name);
        this.retryLater.push(c);
        this.deferred.push(c.name);
        log.warn('upstream page is stale; retrying next run', { project: c.name, ...outcome });
        break;
      case 'failed':
        this.fail(c, outcome.reason);
        break;
      case 'skipped':
        this.forgetSerial(c.name);
        log.warn('project skipped: its directory is not one pypimirror wrote', {
          project: c.name,
          reason: outcome.reason,
        });
        break;
    }
  }
}

/** Why a project claimed by an upstream section that answered 404 fails, rather than coming from elsewhere. */
function describeMissingClaim(route: Route): string {
  return (
    `${route.label} claims this project (package_matches ${route.packageMatches.join(' ')}) but does not ` +
    'have it (404); it is never taken from another upstream (dependency confusion): publish it there, or ' +
    'narrow that package_matches'
  );
}

/** `sync --dry-run`: the project's line and one line per file it would download; returns the running totals. */
function printDownloads(
  print: (line: string) => void,
  project: string,
  download: readonly UpstreamFile[],
  totals: { files: number; bytes: number },
): { files: number; bytes: number } {
  if (download.length === 0) return totals;
  print(`${project}: ${download.length} files to download`);
  let bytes = 0;
  for (const f of download) {
    print(`  + ${f.filename}${f.size === null ? '' : ` (${formatBytes(f.size)})`}`);
    bytes += f.size ?? 0;
  }
  return { files: totals.files + download.length, bytes: totals.bytes + bytes };
}
