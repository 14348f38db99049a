// The fake upstream's mutable catalogue: projects → files, a global serial, and a PyPI-style journal.
// Every mutation writes one journal row per event (like Warehouse) and bumps the serial once per row.
import { createHash } from 'node:crypto';
import type { BodySource } from './body-source.js';
import { bufferBody } from './body-source.js';

export type ProjectStatusValue = 'active' | 'archived' | 'quarantined' | 'deprecated';

/** A file to add. `BuiltDist` from dist-builder fits as is. */
export interface FileInput {
  readonly filename: string;
  readonly bytes: Buffer;
  /** Default: parsed from the filename. */
  readonly version?: string;
  readonly requiresPython?: string;
  /** PEP 658 core metadata, served at `<file-url>.metadata`. */
  readonly metadata?: string | Buffer;
  /** ISO 8601; default: the fake's clock at add time. */
  readonly uploadTime?: string;
  /** true = yanked without reason; a string = yanked with that reason. */
  readonly yanked?: boolean | string;
  /** Serve this file at most this fast. */
  readonly throttleBytesPerSec?: number;
}

export interface FakeFile {
  /** Normalised project name. */
  readonly project: string;
  readonly filename: string;
  readonly version: string;
  readonly size: number;
  /** Hex sha256 of the bytes. */
  readonly sha256: string;
  readonly requiresPython: string | undefined;
  /** false, true (no reason) or the reason. */
  yanked: boolean | string;
  readonly metadata: Buffer | undefined;
  readonly metadataSha256: string | undefined;
  /** `yyyy-mm-ddThh:mm:ss.ffffffZ`. */
  readonly uploadTime: string;
  readonly body: BodySource;
  readonly throttleBytesPerSec: number | undefined;
}

export interface FakeProject {
  /** Display name as added (`Zope.Interface`). */
  readonly name: string;
  readonly normalized: string;
  /** By filename, in insertion order. */
  readonly files: Map<string, FakeFile>;
  lastSerial: number;
  /**
   * Last-Modified of the project page, whole seconds. Once a client has seen a value, the next mutation moves
   * it forward by at least a second, so If-Modified-Since is exact (never a stale 304).
   */
  modifiedMs: number;
  /** A page carrying `modifiedMs` has been served. */
  modifiedSeen: boolean;
  status: { status: ProjectStatusValue; reason?: string } | undefined;
}

/** One `changelog_since_serial` row: `[name, version, timestamp, action, serial]`. */
export interface JournalEntry {
  readonly name: string;
  readonly version: string | null;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly action: string;
  readonly serial: number;
}

const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;
const SDIST_EXTENSIONS = ['.tar.gz', '.tar.bz2', '.tar.xz', '.tgz', '.tar', '.zip'];

/** PEP 503 normalisation (kept independent of src/ on purpose: the fake is the oracle). */
export function normalize(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export function formatUploadTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** Version from a wheel or sdist filename, for a project with this normalised name. */
export function versionFromFilename(normalized: string, filename: string): string {
  if (filename.endsWith('.whl')) {
    const version = filename.split('-')[1];
    if (version !== undefined && version !== '') return version;
  }
  const ext = SDIST_EXTENSIONS.find((e) => filename.endsWith(e)) ?? filename.slice(filename.lastIndexOf('.'));
  const stem = filename.slice(0, filename.length - ext.length);
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalize(stem.slice(0, i)) === normalized) return stem.slice(i + 1);
  }
  const last = stem.lastIndexOf('-');
  if (last > 0) return stem.slice(last + 1);
  throw new Error(`fake upstream: cannot tell the version of ${filename}; pass version`);
}

function pythonTag(filename: string): string {
  return filename.endsWith('.whl') ? (filename.split('-').at(-3) ?? 'py3') : 'source';
}

export class UpstreamModel {
  serial: number;
  /** Last-Modified of the root page; same rule as FakeProject.modifiedMs. */
  rootModifiedMs: number;
  rootModifiedSeen = false;
  readonly projects = new Map<string, FakeProject>();
  readonly journal: JournalEntry[] = [];
  /** Every file by filename (PyPI file names are globally unique). */
  readonly filesByName = new Map<string, FakeFile>();
  /** Called after each mutation with the normalised project name. */
  onChange: (normalized: string) => void = () => {};

  constructor(
    initialSerial: number,
    private readonly now: () => number,
  ) {
    this.serial = initialSerial;
    this.rootModifiedMs = floorSeconds(now());
  }

  get(name: string): FakeProject | undefined {
    return this.projects.get(normalize(name));
  }

  require(name: string): FakeProject {
    const project = this.get(name);
    if (project === undefined) throw new Error(`fake upstream: no project ${name}`);
    return project;
  }

  requireFile(name: string, filename: string): FakeFile {
    const file = this.require(name).files.get(filename);
    if (file === undefined) throw new Error(`fake upstream: no file ${filename} in ${name}`);
    return file;
  }

  createProject(name: string): FakeProject {
    if (!VALID_NAME.test(name))
      throw new Error(`fake upstream: invalid project name ${JSON.stringify(name)}`);
    const normalized = normalize(name);
    if (this.projects.has(normalized)) throw new Error(`fake upstream: project ${name} exists`);
    const project: FakeProject = {
      name,
      normalized,
      files: new Map(),
      lastSerial: this.serial,
      modifiedMs: 0,
      modifiedSeen: false,
      status: undefined,
    };
    this.projects.set(normalized, project);
    this.record(project, null, 'create');
    return project;
  }

  /** Adds a file with a precomputed body (used for in-memory and generated files alike). */
  addFile(name: string, input: Omit<FileInput, 'bytes'>, body: BodySource, sha256: string): FakeFile {
    const project = this.get(name) ?? this.createProject(name);
    if (this.filesByName.has(input.filename)) {
      throw new Error(`fake upstream: file ${input.filename} exists`);
    }
    const version = input.version ?? versionFromFilename(project.normalized, input.filename);
    const metadata = input.metadata === undefined ? undefined : Buffer.from(input.metadata);
    const file: FakeFile = {
      project: project.normalized,
      filename: input.filename,
      version,
      size: body.size,
      sha256,
      requiresPython: input.requiresPython,
      yanked: input.yanked === '' ? true : (input.yanked ?? false),
      metadata,
      metadataSha256: metadata && createHash('sha256').update(metadata).digest('hex'),
      uploadTime: input.uploadTime ?? formatUploadTime(this.now()),
      body,
      throttleBytesPerSec: input.throttleBytesPerSec,
    };
    const isNewRelease = ![...project.files.values()].some((f) => f.version === version);
    if (isNewRelease) this.record(project, version, 'new release');
    project.files.set(file.filename, file);
    this.filesByName.set(file.filename, file);
    this.record(project, version, `add ${pythonTag(file.filename)} file ${file.filename}`);
    return file;
  }

  addBufferFile(name: string, input: FileInput): FakeFile {
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');
    return this.addFile(name, input, bufferBody(input.bytes), sha256);
  }

  removeFile(name: string, filename: string): void {
    const file = this.requireFile(name, filename);
    const project = this.require(name);
    project.files.delete(filename);
    this.filesByName.delete(filename);
    this.record(project, file.version, `remove file ${filename}`);
  }

  removeProject(name: string): void {
    const project = this.require(name);
    this.projects.delete(project.normalized);
    for (const filename of project.files.keys()) this.filesByName.delete(filename);
    this.record(project, null, 'remove project');
  }

  /**
   * Forgets every project, file and journal row, keeping the serial and Last-Modified: the upstream as a
   * client synced up to `serial` sees it through the changelog, nothing more held for what is not asked again.
   */
  forgetCatalogue(): void {
    this.projects.clear();
    this.filesByName.clear();
    this.journal.length = 0;
  }

  /** Yanks one file (`reason` omitted = yanked without reason); PyPI journals it as `yank release`. */
  yank(name: string, filename: string, reason?: string): void {
    const file = this.requireFile(name, filename);
    file.yanked = reason === undefined || reason === '' ? true : reason;
    this.record(this.require(name), file.version, 'yank release');
  }

  unyank(name: string, filename: string): void {
    const file = this.requireFile(name, filename);
    file.yanked = false;
    this.record(this.require(name), file.version, 'unyank release');
  }

  setStatus(name: string, status: ProjectStatusValue, reason?: string): void {
    const project = this.require(name);
    const wasQuarantined = project.status?.status === 'quarantined';
    project.status = reason === undefined ? { status } : { status, reason };
    const action =
      status === 'quarantined'
        ? 'project quarantined'
        : wasQuarantined
          ? 'project quarantine cleared'
          : `project status ${status}`;
    this.record(project, null, action);
  }

  /** A journal event that changes nothing visible on the pages except serials. */
  touch(name: string, action: string): void {
    this.record(this.require(name), null, action);
  }

  private record(project: FakeProject, version: string | null, action: string): void {
    this.serial += 1;
    project.lastSerial = this.serial;
    const nowMs = this.now();
    this.journal.push({
      name: project.name,
      version,
      timestamp: Math.floor(nowMs / 1000),
      action,
      serial: this.serial,
    });
    project.modifiedMs = nextModified(project.modifiedMs, project.modifiedSeen, nowMs);
    project.modifiedSeen = false;
    this.rootModifiedMs = nextModified(this.rootModifiedMs, this.rootModifiedSeen, nowMs);
    this.rootModifiedSeen = false;
    this.onChange(project.normalized);
  }
}

function nextModified(previousMs: number, seen: boolean, nowMs: number): number {
  return Math.max(floorSeconds(nowMs), seen ? previousMs + 1000 : previousMs);
}

function floorSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}
