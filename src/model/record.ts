// What we keep per mirrored project under <root>/.pypimirror/projects/<name>.json. Types only.
import type { QuarantineHold } from './holds.js';
import type { ProjectStatus, UpstreamFile } from './upstream.js';

/** A file that is on disk in <root>/<project>/, verified, with what its page entry needs. */
export interface LocalFile {
  readonly filename: string;
  /**
   * Where the file is, relative to the project directory, when not `<filename>` beside the page: a file
   * replaced under its name (allow_replaced_files) lives at `<first 16 hex of its digest>/<filename>`
   * (layout.ts `replacedFileRelPath`). Absent in records written before replacements existed.
   */
  readonly path?: string;
  /** sha256 of the bytes on disk (verified against upstream when it was fetched). */
  readonly sha256: string;
  readonly size: number;
  /** The upstream entry's attributes (refreshed on every page fetch while the file is upstream). */
  readonly url: string;
  /** The upstream digests the bytes on disk were verified against (kept while a change is held, below). */
  readonly upstreamHashes: Readonly<Record<string, string>>;
  /**
   * Set while upstream serves other bytes under this name and they are not taken (allow_replaced_files off):
   * the digests upstream gives now. The file on disk and its page stay as they were; every run that plans
   * the project, or finds it unchanged, warns again. Absent otherwise.
   */
  readonly heldUpstreamHashes?: Readonly<Record<string, string>>;
  readonly requiresPython: string | null;
  readonly yanked: string | null;
  readonly uploadTime: string | null;
  /** sha256 of <filename>.metadata when that file is on disk, else null. */
  readonly metadataSha256: string | null;
}

export interface ProjectRecord {
  readonly formatVersion: 1;
  /** Normalised name = directory name. */
  readonly name: string;
  /** Name as upstream lists it (root page link text). */
  readonly displayName: string;
  readonly serial: number | null;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly status: ProjectStatus | null;
  readonly statusReason: string | null;
  /** PEP 700 versions from upstream (may be empty for HTML upstreams). */
  readonly versions: readonly string[];
  /** The whole upstream file list as last fetched: lets a scope change be re-planned without refetching. */
  readonly upstreamFiles: readonly UpstreamFile[];
  /** Files on disk, in page order. */
  readonly files: readonly LocalFile[];
  /** Files of the page min_release_age held back when it was planned (plan/quarantine.ts); absent: none. */
  readonly quarantine?: QuarantineHold;
}
