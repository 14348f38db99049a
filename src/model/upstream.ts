// What the upstream client hands to the rest of the program: decoded, validated, URLs absolute.
import type { Readable } from 'node:stream';

/** One journal entry: `[name, version, timestamp, action, serial]`. */
export interface ChangelogRow {
  readonly name: string;
  /** null for project-level events. */
  readonly version: string | null;
  /** Unix seconds, UTC. */
  readonly timestamp: number;
  /** `new release`, `add py3 file x.whl`, `remove project`, … */
  readonly action: string;
  readonly serial: number;
}

export interface Changelog {
  /** Ordered by serial; empty when unsupported. */
  readonly rows: readonly ChangelogRow[];
  /** false when the upstream has no XML-RPC endpoint or no such method. */
  readonly supported: boolean;
}

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
  /**
   * The page may have been cut short without the transport noticing: an HTML page whose body was delimited
   * by the connection closing (no Content-Length, not chunked) and that lacks its closing `</html>`. Such a
   * page may add files but never shrinks a project. Absent = false.
   */
  readonly isMaybeTruncated?: boolean;
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

/** What a streamed root listing reports once its last project has been delivered. */
export interface ListingSummary {
  /** Projects delivered to the visitor (valid names only). */
  readonly count: number;
  /** Global serial (`meta._last-serial` or X-PyPI-Last-Serial), or null. */
  readonly serial: number | null;
  readonly format: 'json' | 'html';
  /** Validators for a conditional listing next time. */
  readonly etag: string | null;
  readonly lastModified: string | null;
}

/** Receives a root listing project by project, so that nobody has to hold 700 000 entries. */
export interface ListingVisitor {
  /** One listed project, in listing order. */
  project(project: ListedProject): void;
  /** A retry starts the listing again from its first project: forget what was delivered so far. */
  restart(): void;
}

/** A `changelog_since_serial` result, with what the paging cost. */
export interface ChangelogResult extends Changelog {
  /** XML-RPC calls made (absent when unsupported). */
  readonly requests?: number;
  /** True when paging stopped at `maxPages` with more rows to come: resume from the last row's serial. */
  readonly isTruncated?: boolean;
}

export interface ConditionalHeaders {
  readonly etag: string | null;
  readonly lastModified: string | null;
}

export interface FileRequestOptions {
  /** The size the index declares (PEP 700), if any: it lengthens the request's deadline. */
  readonly size?: number | null;
}

export interface FileResponse {
  readonly body: Readable;
  /** Content-Length, or null when the upstream did not announce one. */
  readonly size: number | null;
  /** The largest body to accept (`max_file_size`); the reader refuses more. Absent = no limit. */
  readonly maxSize?: number;
}

/** The upstream seen by the sync: everything async takes an AbortSignal. */
export interface Upstream {
  /** The root listing, whole (small indexes and tests; discovery uses streamListing). */
  fetchListing(signal: AbortSignal): Promise<ProjectListing>;
  /**
   * The root listing, streamed project by project into `visitor` with bounded memory (PyPI's is 700 000
   * projects). With `conditional`, may answer NotModified (the listing is unchanged since those validators).
   */
  streamListing(
    visitor: ListingVisitor,
    conditional: ConditionalHeaders | null,
    signal: AbortSignal,
  ): Promise<ListingSummary | NotModified>;
  /**
   * PyPI XML-RPC `changelog_since_serial(serial)`, paged past the 50 000-row cap; `supported: false` when the
   * upstream has no XML-RPC endpoint or no such method. Stops after `maxPages` calls (isTruncated).
   */
  fetchChangelogSince(
    serial: number,
    signal: AbortSignal,
    options?: { readonly maxPages?: number },
  ): Promise<ChangelogResult>;
  /** PyPI XML-RPC `changelog_last_serial()`: the global serial now, or null when the upstream lacks it. */
  fetchLastSerial(signal: AbortSignal): Promise<number | null>;
  /** A project page; with `conditional`, may answer NotModified. Throws UpstreamError UPSTREAM_NOT_FOUND on 404/410. */
  fetchProject(
    name: string,
    conditional: ConditionalHeaders | null,
    signal: AbortSignal,
  ): Promise<ProjectPage | NotModified>;
  /**
   * Upload times from the index's JSON API (`/pypi/<project>/json`, src/upstream/json-api.ts), filename →
   * ISO 8601, for pages that carry none (PEP 503 HTML); null when the upstream has no JSON API (404).
   * Optional: an upstream without it gives no upload times beyond its pages.
   */
  fetchUploadTimes?(name: string, signal: AbortSignal): Promise<ReadonlyMap<string, string> | null>;
  /**
   * Streams a file's body. The caller consumes `body` fully or destroys it.
   * Throws UpstreamError on non-2xx after retries; IntegrityError INTEGRITY_TOO_LARGE when the declared or
   * announced size is above the client's largest file.
   */
  fetchFile(url: string, signal: AbortSignal, options?: FileRequestOptions): Promise<FileResponse>;
}
