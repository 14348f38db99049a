// What a bundle says it carries (issue #16): the manifest, its canonical JSON (the bytes that are signed),
// the names of a bundle's files, and the change between the last export and the tree now. Pure.
import { createHash } from '../storage/hash.js';
import { isSafeLocalPath, localRelPath } from '../model/layout.js';
import type { ProjectRecord } from '../model/record.js';
import { isNormalizedName } from '../model/names.js';

/** One volume of a bundle: `<id>.vol<NNNN>.tar`. */
export interface VolumeEntry {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * One file the bundle carries: `<project>/<path>` in the tree (a distribution file or its `.metadata`). It is
 * one tar member, or `parts` members `<project>/<path>.part<N>` (N from 1) when it did not fit one volume.
 */
export interface BundleFile {
  readonly project: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly parts: number;
}

/** A project page the bundle changes, with the sha256 of the page the record renders. */
interface BundlePage {
  readonly path: string;
  readonly sha256: string;
}

export interface BundleManifest {
  readonly format: 'pypimirror-bundle';
  readonly formatVersion: 1;
  /** The outside mirror that made it (random, fixed at its first export). */
  readonly origin: string;
  readonly id: string;
  /** 1 for the first export, then one more per export. */
  readonly sequence: number;
  /** The bundle this one continues from (null for the first). */
  readonly follows: string | null;
  /** A full bundle carries the whole tree: it applies whatever was imported before it. */
  readonly isFull: boolean;
  readonly createdAt: string;
  /** The outside's upstream serial at the previous export and at this one (null when unknown). */
  readonly serials: { readonly from: number | null; readonly to: number | null };
  readonly volumes: readonly VolumeEntry[];
  /** In the order of the volumes' members. */
  readonly files: readonly BundleFile[];
  /** The changed projects' records, as the outside has them: their pages are rendered from them. */
  readonly projects: readonly ProjectRecord[];
  readonly pages: readonly BundlePage[];
  /** Projects that go, and files that go from projects that stay (`<project>/<path>`). */
  readonly removals: { readonly projects: readonly string[]; readonly files: readonly string[] };
}

/** JSON with every object's keys sorted, no spaces: the bytes that are signed and checked. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `pypimirror-<origin>-<sequence, 6 digits>`: bundles of one origin sort in their order. */
export function bundleId(origin: string, sequence: number): string {
  return `pypimirror-${origin}-${String(sequence).padStart(6, '0')}`;
}

export const manifestName = (id: string): string => `${id}.manifest.json`;
export const signatureName = (id: string): string => `${id}.manifest.sig`;
export const volumeName = (id: string, n: number): string => `${id}.vol${String(n).padStart(4, '0')}.tar`;
/** A bundle's manifest file name → its id, or null. */
export function idOfManifestName(name: string): string | null {
  const m = /^(pypimirror-[0-9a-f]{12}-\d{6})\.manifest\.json$/.exec(name);
  return m?.[1] ?? null;
}

/** The tar member names of a file, in order. */
export function memberNames(file: BundleFile): string[] {
  const base = `${file.project}/${file.path}`;
  if (file.parts <= 1) return [base];
  return Array.from({ length: file.parts }, (_, i) => `${base}.part${i + 1}`);
}

/** What the outside remembers of one exported project: its record's digest and its files' digests. */
export interface ExportedProject {
  readonly record: string;
  /** Path in the project directory (files and `.metadata`) → sha256. */
  readonly files: Readonly<Record<string, string>>;
}

/** The files of a record as the tree holds them: path → sha256, `.metadata` files included. */
export function recordFiles(record: ProjectRecord): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of record.files) {
    files[localRelPath(f)] = f.sha256;
    if (f.metadataSha256 !== null) files[`${localRelPath(f)}.metadata`] = f.metadataSha256;
  }
  return files;
}

export function exportedProject(record: ProjectRecord): ExportedProject {
  return { record: sha256Hex(canonicalJson(record)), files: recordFiles(record) };
}

/** What an export carries: changed records, files new since the last export, and removals. */
export interface ExportPlan {
  readonly projects: readonly ProjectRecord[];
  readonly files: readonly { readonly project: string; readonly path: string; readonly sha256: string }[];
  readonly removals: BundleManifest['removals'];
}

/**
 * The change from `previous` (what the last export carried, null for a full export) to `records` (the
 * tree now: projects with a page). Files are carried when the previous export did not have their bytes.
 */
export function planExport(
  previous: Readonly<Record<string, ExportedProject>> | null,
  records: readonly ProjectRecord[],
): ExportPlan {
  const projects: ProjectRecord[] = [];
  const files: { project: string; path: string; sha256: string }[] = [];
  const removedFiles: string[] = [];
  const now = new Set(records.map((r) => r.name));
  for (const record of records) {
    const before = previous?.[record.name];
    const after = exportedProject(record);
    if (before !== undefined && before.record === after.record) continue;
    projects.push(record);
    for (const [path, sha256] of Object.entries(after.files)) {
      if (before?.files[path] !== sha256) files.push({ project: record.name, path, sha256 });
    }
    for (const path of Object.keys(before?.files ?? {})) {
      if (after.files[path] === undefined) removedFiles.push(`${record.name}/${path}`);
    }
  }
  const removedProjects = Object.keys(previous ?? {}).filter((name) => !now.has(name));
  return { projects, files, removals: { projects: removedProjects.sort(), files: removedFiles.sort() } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks a (signed) manifest's shape and that everything in it names a place in the tree it may: project
 * names normalised, file paths those its records hold. Returns what is wrong, or null.
 */
export function whyManifestInvalid(json: unknown): string | null {
  if (!isObject(json) || json['format'] !== 'pypimirror-bundle' || json['formatVersion'] !== 1) {
    return 'not a pypimirror bundle manifest (format "pypimirror-bundle", formatVersion 1)';
  }
  const m = json as unknown as BundleManifest;
  if (typeof m.id !== 'string' || typeof m.origin !== 'string' || m.id !== bundleId(m.origin, m.sequence)) {
    return `its id ${JSON.stringify(m.id)} is not pypimirror-<origin>-<sequence>`;
  }
  if (!Array.isArray(m.volumes) || !Array.isArray(m.files) || !Array.isArray(m.projects)) {
    return 'it lacks its volumes, files or projects';
  }
  if (!isObject(m.removals) || !Array.isArray(m.removals.projects) || !Array.isArray(m.removals.files)) {
    return 'it lacks its removals';
  }
  for (const v of m.volumes) {
    if (!/^[\w.-]+\.tar$/.test(v.name) || !HEX64.test(v.sha256))
      return `bad volume entry ${JSON.stringify(v)}`;
  }
  const held = new Map<string, string>();
  for (const record of m.projects) {
    if (!isNormalizedName(record.name) || !Array.isArray(record.files)) {
      return `bad project record ${JSON.stringify(record.name)}`;
    }
    for (const f of record.files) {
      if (!isSafeLocalPath(f.filename, localRelPath(f)))
        return `unsafe path in ${record.name}: ${f.filename}`;
    }
    for (const [path, sha] of Object.entries(recordFiles(record))) held.set(`${record.name}/${path}`, sha);
  }
  for (const f of m.files) {
    if (held.get(`${f.project}/${f.path}`) !== f.sha256 || !Number.isSafeInteger(f.parts) || f.parts < 1) {
      return `file ${f.project}/${f.path} is not one its project's record holds with that sha256`;
    }
  }
  for (const name of m.removals.projects) {
    if (!isNormalizedName(name)) return `bad project name in removals: ${JSON.stringify(name)}`;
  }
  return null;
}
