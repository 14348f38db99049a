// What the upstream client hands to the rest of the program: decoded, validated, URLs absolute.
import type { Readable } from 'node:stream';

export interface UpstreamFile {
  readonly filename: string;
  /** Absolute download URL (fragment removed). */
  readonly url: string;
  /** Lower-case hex digests by hashlib name (`sha256`, `md5`, ...), as upstream gave them. */
  readonly hashes: Readonly<Record<string, string>>;
  /** Size in bytes, when upstream said (PEP 700); null otherwise. */
  readonly size: number | null;
  readonly requiresPython: string | null;
  /** null = not yanked; a string (possibly empty) = yanked with that reason. */
  readonly yanked: string | null;
  /**
   * PEP 658/714 core metadata: null = none advertised; `{}` = advertised without hash;
   * otherwise the hashes of the `.metadata` file.
   */
  readonly coreMetadata: Readonly<Record<string, string>> | null;
  /** ISO 8601 UTC upload time (JSON only), or null. */
  readonly uploadTime: string | null;
}

export type ProjectStatus = 'active' | 'archived' | 'quarantined' | 'deprecated';

export interface ProjectPage {
  /** Normalised name. */
  readonly name: string;
  readonly files: readonly UpstreamFile[];
  /** PEP 700 versions, when the upstream gave them (JSON); empty otherwise. */
  readonly versions: readonly string[];
  /** X-PyPI-Last-Serial of the response, or null. */
  readonly serial: number | null;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly status: ProjectStatus | null;
  readonly statusReason: string | null;
}

/** A conditional fetch of a project page that upstream answered 304 Not Modified. */
export interface NotModified {
  readonly notModified: true;
  readonly serial: number | null;
}

export interface ListedProject {
  /** Name as upstream lists it (display or normalised). */
  readonly name: string;
  /** PyPI's per-project `_last-serial`, or null. */
  readonly serial: number | null;
}

export interface ProjectListing {
  readonly projects: readonly ListedProject[];
  /** Global serial (`meta._last-serial` or X-PyPI-Last-Serial), or null. */
  readonly serial: number | null;
  readonly format: 'json' | 'html';
}

export interface ConditionalHeaders {
  readonly etag: string | null;
  readonly lastModified: string | null;
}

/** The upstream seen by the sync: everything async takes an AbortSignal. */
export interface Upstream {
  /** The root listing. */
  fetchListing(signal: AbortSignal): Promise<ProjectListing>;
  /** A project page; with `conditional`, may answer NotModified. Throws UpstreamError UPSTREAM_NOT_FOUND on 404/410. */
  fetchProject(
    name: string,
    conditional: ConditionalHeaders | null,
    signal: AbortSignal,
  ): Promise<ProjectPage | NotModified>;
  /**
   * Streams a file's body. The caller consumes `body` fully or destroys it.
   * Throws UpstreamError on non-2xx after retries.
   */
  fetchFile(url: string, signal: AbortSignal): Promise<{ body: Readable; size: number | null }>;
}
