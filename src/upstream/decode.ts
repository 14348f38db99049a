// PEP 691 JSON → ProjectPage / ProjectListing (docs/protocol.md §2), pure. Every error names the JSON path.
// Structural violations fail the page (UPSTREAM_PAYLOAD); an unsafe filename or project name only skips that entry.
import { UpstreamError, redactUrl } from '../errors.js';
import { whyUnstorableFilename } from '../model/layout.js';
import { isValidProjectName, normalizeName } from '../model/names.js';
import type {
  ListedProject,
  ProjectListing,
  ProjectPage,
  ProjectStatus,
  UpstreamFile,
} from '../model/upstream.js';

/** The parts of a ProjectPage that come from the body (the rest comes from response headers). */
export type PageBody = Pick<ProjectPage, 'name' | 'files' | 'versions' | 'status' | 'statusReason'>;
export type ListingBody = Pick<ProjectListing, 'projects' | 'serial' | 'format'>;

export interface Decoded<T> {
  readonly value: T;
  /** Skipped entries and soft problems (newer minor api-version, unknown status), for the log. */
  readonly warnings: readonly string[];
}

/** Files (entries) accepted on one project page: PyPI's largest projects have tens of thousands. */
export const MAX_PAGE_FILES = 500_000;
/** The longest token (HTML tag, attribute, comment or link text; JSON string) accepted, in characters. */
export const MAX_TOKEN_CHARS = 64 * 1024;
/** Warnings kept verbatim per page or listing; later ones are only counted. */
const MAX_WARNINGS = 20;

/** Warnings of one page or listing: the first MAX_WARNINGS kept, the rest counted (a hostile page has millions). */
export class Warnings {
  private readonly kept: string[] = [];
  private more = 0;
  push(message: string): void {
    if (this.kept.length < MAX_WARNINGS) this.kept.push(message);
    else this.more++;
  }
  /** The kept warnings, then `… and N more problems like these` when some were only counted. */
  list(): string[] {
    return this.more === 0 ? [...this.kept] : [...this.kept, `… and ${this.more} more problems like these`];
  }
}

/** The UPSTREAM_PAYLOAD error for a page with more than MAX_PAGE_FILES files. */
export function tooManyFiles(url: string | URL): UpstreamError {
  return payloadError(url, `more than ${MAX_PAGE_FILES} files on one page (the cap on entries per page)`);
}

/** The highest api-version minor this client knows (PEP 792 = 1.4). */
const KNOWN_API_MINOR = 4;

const HEX_LENGTHS: Readonly<Record<string, number>> = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
};
const STATUSES: readonly string[] = ['active', 'archived', 'quarantined', 'deprecated'];
const UPLOAD_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;

export function payloadError(url: string | URL, message: string, cause?: unknown): UpstreamError {
  const where = redactUrl(url);
  return new UpstreamError('UPSTREAM_PAYLOAD', `${where}: ${message}`, { url: where, cause });
}

/** Why a filename may not be written into the mirror, or null if it is safe. */
export function checkFilename(name: string): string | null {
  return whyUnstorableFilename(name); // the one rule for storable names (model/layout.ts)
}

/** Checks one digest; returns the lower-cased hex or a problem description. */
export function checkDigest(algo: string, value: unknown): { hex: string } | { problem: string } {
  const quoted = JSON.stringify(value) ?? String(value);
  if (typeof value !== 'string') return { problem: `expected a hex string, got ${quoted}` };
  const hex = value.toLowerCase();
  const length = HEX_LENGTHS[algo];
  if (length !== undefined) {
    return hex.length === length && /^[0-9a-f]+$/.test(hex)
      ? { hex }
      : { problem: `expected ${length} hex digits, got ${quoted}` };
  }
  return /^([0-9a-f]{2})+$/.test(hex) ? { hex } : { problem: `expected hex digits, got ${quoted}` };
}

/**
 * Checks a PEP 629 `Major.Minor` version: a larger major throws, a larger minor yields a warning.
 * `where` names the field (`meta.api-version`, `<meta name="pypi:repository-version">`).
 */
export function checkApiVersion(version: unknown, where: string, url: string | URL): string | null {
  const m = typeof version === 'string' ? /^(\d+)\.(\d+)$/.exec(version.trim()) : null;
  if (m === null) throw payloadError(url, `${where}: expected "Major.Minor", got ${JSON.stringify(version)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 1)
    throw payloadError(url, `${where}: unsupported major version in "${version}" (this client reads 1.x)`);
  return minor > KNOWN_API_MINOR
    ? `${where}: "${version}" is newer than 1.${KNOWN_API_MINOR}; reading it as 1.x`
    : null;
}

/** A PEP 792 status marker, or a warning for an unknown one. */
export function parseProjectStatus(
  value: string,
  where: string,
): { status: ProjectStatus } | { warning: string } {
  return STATUSES.includes(value)
    ? { status: value as ProjectStatus }
    : { warning: `${where}: unknown project status ${JSON.stringify(value)}, ignored` };
}

/** Resolves a link against the page; null for an unusable one. The fragment is removed. */
export function resolveFileUrl(href: string, base: string | URL): URL | null {
  let u: URL;
  try {
    u = new URL(href, base);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  u.hash = '';
  return u;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

class Reader {
  readonly warnings = new Warnings();
  constructor(readonly url: string | URL) {}

  fail(path: string, expected: string, got: unknown): never {
    throw payloadError(this.url, `${path}: expected ${expected}, got ${describe(got)}`);
  }
  object(v: unknown, path: string): Json {
    return isObject(v) ? v : this.fail(path, 'an object', v);
  }
  array(v: unknown, path: string): unknown[] {
    return Array.isArray(v) ? v : this.fail(path, 'an array', v);
  }
  string(v: unknown, path: string): string {
    return typeof v === 'string' ? v : this.fail(path, 'a string', v);
  }
  optString(v: unknown, path: string): string | null {
    return v === undefined || v === null ? null : this.string(v, path);
  }
  optCount(v: unknown, path: string): number | null {
    if (v === undefined || v === null) return null;
    return Number.isSafeInteger(v) && (v as number) >= 0
      ? (v as number)
      : this.fail(path, 'an integer ≥ 0', v);
  }
  hashes(v: unknown, path: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.object(v, path))) {
      const algo = key.toLowerCase();
      const r = checkDigest(algo, value);
      if ('problem' in r) throw payloadError(this.url, `${path}.${key}: ${r.problem}`);
      out[algo] = r.hex;
    }
    return out;
  }
  meta(json: Json): void {
    if (json.meta === undefined) return;
    const meta = this.object(json.meta, 'meta');
    if (meta['api-version'] === undefined) return;
    const warning = checkApiVersion(meta['api-version'], 'meta.api-version', this.url);
    if (warning !== null) this.warnings.push(warning);
  }
}

function decodeCoreMetadata(r: Reader, entry: Json, path: string): Record<string, string> | null {
  for (const key of ['core-metadata', 'dist-info-metadata', 'data-dist-info-metadata']) {
    const v = entry[key];
    if (v === undefined) continue;
    if (v === true) return {};
    if (v === false || v === null) return null;
    return r.hashes(v, `${path}.${key}`);
  }
  return null;
}

function decodeYanked(r: Reader, v: unknown, path: string): string | null {
  if (v === true) return '';
  if (v === undefined || v === null || v === false || v === '') return null;
  return typeof v === 'string' ? v : r.fail(path, 'a boolean or a reason string', v);
}

function decodeFile(r: Reader, raw: unknown, path: string, pageUrl: string | URL): UpstreamFile | null {
  const entry = r.object(raw, path);
  const filename = r.string(entry.filename, `${path}.filename`);
  const href = r.string(entry.url, `${path}.url`);
  const hashes = r.hashes(entry.hashes, `${path}.hashes`);
  const file: UpstreamFile = {
    filename,
    url: '',
    hashes,
    size: r.optCount(entry.size, `${path}.size`),
    requiresPython: r.optString(entry['requires-python'], `${path}.requires-python`),
    yanked: decodeYanked(r, entry.yanked, `${path}.yanked`),
    coreMetadata: decodeCoreMetadata(r, entry, path),
    uploadTime: r.optString(entry['upload-time'], `${path}.upload-time`),
  };
  const unsafe = checkFilename(filename);
  if (unsafe !== null) {
    r.warnings.push(`${path}.filename ${JSON.stringify(filename)}: ${unsafe}; file skipped`);
    return null;
  }
  const url = resolveFileUrl(href, pageUrl);
  if (url === null) {
    r.warnings.push(`${path}.url ${describe(href)}: not an http(s) URL; file skipped`);
    return null;
  }
  let uploadTime = file.uploadTime;
  if (uploadTime !== null && !UPLOAD_TIME.test(uploadTime)) {
    r.warnings.push(
      `${path}.upload-time ${describe(uploadTime)}: not yyyy-mm-ddThh:mm:ss[.ffffff]Z; ignored`,
    );
    uploadTime = null;
  }
  return { ...file, url: url.href, uploadTime };
}

/**
 * Assembles a PEP 691 project page from its parts as they arrive (the streaming decoder in page-stream.ts feeds
 * it entry by entry; decodeProjectJson feeds it a parsed object), so both decode alike. `name` is the
 * normalized name that was requested.
 */
export class ProjectPageAssembler {
  private readonly r: Reader;
  private readonly files: UpstreamFile[] = [];
  private readonly versions: string[] = [];
  private readonly seen = new Set<string>();
  private fileCount = 0;
  private hasFiles = false;
  private status: ProjectStatus | null = null;
  private statusReason: string | null = null;

  constructor(
    private readonly pageUrl: string | URL,
    private readonly name: string,
  ) {
    this.r = new Reader(pageUrl);
  }

  /** `meta`, `name` or `project-status` (other keys are ignored). */
  field(key: string, value: unknown): void {
    const r = this.r;
    if (key === 'meta') r.meta({ meta: value });
    else if (key === 'name') {
      if (value !== undefined && normalizeName(r.string(value, 'name')) !== normalizeName(this.name)) {
        throw payloadError(this.pageUrl, `name: expected the page of "${this.name}", got ${describe(value)}`);
      }
    } else if (key === 'project-status' && value !== undefined && value !== null) {
      const ps = r.object(value, 'project-status');
      // PEP 792 prose says `state`; its example, the spec text and PyPI use `status`.
      const marker = r.optString(ps.status ?? ps.state, 'project-status.status');
      if (marker !== null) {
        const s = parseProjectStatus(marker, 'project-status.status');
        if ('status' in s) this.status = s.status;
        else r.warnings.push(s.warning);
      }
      this.statusReason = r.optString(ps.reason, 'project-status.reason');
    }
  }

  /** The `files` array has started (it is required). */
  startFiles(): void {
    this.hasFiles = true;
  }

  /** The whole `files` value (what is not an array fails the page as decodeProjectJson does). */
  allFiles(value: unknown): void {
    this.startFiles();
    for (const raw of this.r.array(value, 'files')) this.file(raw);
  }

  /** The whole `versions` value (absent or null = none). */
  allVersions(value: unknown): void {
    if (value === undefined || value === null) return;
    for (const v of this.r.array(value, 'versions')) this.version(v);
  }

  /** `files[i]`, in order. */
  file(raw: unknown): void {
    const i = this.fileCount++;
    if (i >= MAX_PAGE_FILES) throw tooManyFiles(this.pageUrl);
    const file = decodeFile(this.r, raw, `files[${i}]`, this.pageUrl);
    if (file === null) return;
    if (this.seen.has(file.filename)) {
      this.r.warnings.push(
        `files[${i}].filename ${JSON.stringify(file.filename)}: listed twice; later entry skipped`,
      );
      return;
    }
    this.seen.add(file.filename);
    this.files.push(file);
  }

  /** `versions[i]`, in order. */
  version(raw: unknown): void {
    if (this.versions.length >= MAX_PAGE_FILES) {
      throw payloadError(this.pageUrl, `more than ${MAX_PAGE_FILES} versions (the cap on entries per page)`);
    }
    this.versions.push(this.r.string(raw, `versions[${this.versions.length}]`));
  }

  /** Files decoded so far (for the caller's bookkeeping). */
  get count(): number {
    return this.fileCount;
  }

  finish(): Decoded<PageBody> {
    if (!this.hasFiles) this.r.fail('files', 'an array', undefined);
    return {
      value: {
        name: normalizeName(this.name),
        files: this.files,
        versions: this.versions,
        status: this.status,
        statusReason: this.statusReason,
      },
      warnings: this.r.warnings.list(),
    };
  }
}

/** Decodes a PEP 691 project page. `name` is the normalized name that was requested. */
export function decodeProjectJson(json: unknown, pageUrl: string | URL, name: string): Decoded<PageBody> {
  const page = new ProjectPageAssembler(pageUrl, name);
  const r = new Reader(pageUrl);
  const root = r.object(json, '(root)');
  page.field('meta', root.meta);
  page.field('name', root.name);
  page.allFiles(root.files);
  page.allVersions(root.versions);
  page.field('project-status', root['project-status']);
  return page.finish();
}

/** Decodes a PEP 691 root listing; PyPI's `_last-serial` keys are read when present. */
export function decodeListingJson(json: unknown, url: string | URL): Decoded<ListingBody> {
  const r = new Reader(url);
  const root = r.object(json, '(root)');
  r.meta(root);
  const serial = isObject(root.meta) ? r.optCount(root.meta['_last-serial'], 'meta._last-serial') : null;
  const projects: ListedProject[] = [];
  r.array(root.projects, 'projects').forEach((raw, i) => {
    const entry = r.object(raw, `projects[${i}]`);
    const name = r.string(entry.name, `projects[${i}].name`);
    const projectSerial = r.optCount(entry['_last-serial'], `projects[${i}]._last-serial`);
    if (isValidProjectName(name)) projects.push({ name, serial: projectSerial });
    else r.warnings.push(`projects[${i}].name ${describe(name)}: not a valid project name; skipped`);
  });
  return { value: { projects, serial, format: 'json' }, warnings: r.warnings.list() };
}
