// PEP 503 HTML → ProjectPage / ProjectListing (docs/protocol.md §1), pure, streamed: html-scan.ts tokenises (bounded,
// linear, no stack) and decodes entities; each link becomes a file as it is read, so a page is never held whole.
// Filenames come from the URL's last path segment, as pip and uv take them, not the link text.
import { isValidProjectName, normalizeName } from '../model/names.js';
import {
  checkApiVersion,
  checkDigest,
  checkFilename,
  MAX_PAGE_FILES,
  MAX_TOKEN_CHARS,
  payloadError,
  parseProjectStatus,
  resolveFileUrl,
  tooManyFiles,
  Warnings,
  type Decoded,
  type ListingBody,
  type PageBody,
} from './decode.js';
import { createHtmlScanner, type Attribs } from './html-scan.js';
import type { ListedProject, ProjectStatus, UpstreamFile } from '../model/upstream.js';

const PAGE_TAGS: ReadonlySet<string> = new Set(['a', 'meta', 'base']);
const LISTING_TAGS: ReadonlySet<string> = new Set(['a', 'meta']);

/** Fragment keys taken as hashes: pip's `_SUPPORTED_HASHES` plus uv's blake2b. */
const FRAGMENT_HASHES: readonly string[] = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'blake2b'];
const VERSION_META = 'pypi:repository-version';

interface Heads {
  version: string | null;
  status: string | null;
  statusReason: string | null;
}

function readMeta(attribs: Attribs, heads: Heads): void {
  const name = attribs.name?.toLowerCase();
  const content = attribs.content ?? null;
  if (name === VERSION_META && heads.version === null) heads.version = content;
  else if (name === 'pypi:project-status' && heads.status === null) heads.status = content;
  else if (name === 'pypi:project-status-reason' && heads.statusReason === null) heads.statusReason = content;
}

function checkVersion(heads: Heads, url: string | URL, warnings: Warnings): void {
  if (heads.version === null) return;
  const warning = checkApiVersion(heads.version, `<meta name="${VERSION_META}">`, url);
  if (warning !== null) warnings.push(warning);
}

function readFragmentHashes(fragment: string, where: string, url: string | URL): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const part of fragment.split('&')) {
    const eq = part.indexOf('=');
    const algo = part.slice(0, eq).toLowerCase();
    if (eq < 0 || !FRAGMENT_HASHES.includes(algo)) continue;
    const r = checkDigest(algo, part.slice(eq + 1));
    if ('problem' in r) throw payloadError(url, `${where} #${algo}: ${r.problem}`);
    hashes[algo] = r.hex;
  }
  return hashes;
}

/** data-core-metadata / data-dist-info-metadata: `true` (or empty) → {}, `algo=hex` → hashes, `false` → none. */
function readMetadataAttr(
  value: string | undefined,
  where: string,
  url: string | URL,
): Record<string, string> | null {
  if (value === undefined || value.trim().toLowerCase() === 'false') return null;
  const eq = value.indexOf('=');
  if (eq < 0) return {};
  const algo = value.slice(0, eq).trim().toLowerCase();
  const r = checkDigest(algo, value.slice(eq + 1).trim());
  if ('problem' in r) throw payloadError(url, `${where} ${algo}: ${r.problem}`);
  return { [algo]: r.hex };
}

function lastSegment(u: URL): string | null {
  const raw = u.pathname.slice(u.pathname.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function readAnchor(a: Attribs, i: number, base: string | URL, url: string | URL, warnings: Warnings) {
  const where = `<a> #${i + 1}`;
  const href = a.href;
  const fileUrl = href === undefined ? null : resolveFileUrl(href, base);
  if (href === undefined || fileUrl === null) {
    warnings.push(`${where}: href ${JSON.stringify(href ?? null)} is not an http(s) URL; skipped`);
    return null;
  }
  const fragment = href.includes('#') ? href.slice(href.indexOf('#') + 1) : '';
  const hashes = readFragmentHashes(fragment, `${where} href`, url);
  const filename = lastSegment(fileUrl);
  const unsafe = filename === null ? 'bad percent-encoding' : checkFilename(filename);
  if (filename === null || unsafe !== null) {
    warnings.push(`${where}: filename ${JSON.stringify(filename ?? href)} from the href: ${unsafe}; skipped`);
    return null;
  }
  const requiresPython = a['data-requires-python'];
  const file: UpstreamFile = {
    filename,
    url: fileUrl.href,
    hashes,
    size: null,
    requiresPython: requiresPython === undefined || requiresPython === '' ? null : requiresPython,
    yanked: a['data-yanked'] ?? null,
    coreMetadata: readMetadataAttr(
      a['data-core-metadata'] ?? a['data-dist-info-metadata'],
      `${where} data-core-metadata`,
      url,
    ),
    uploadTime: null,
  };
  return file;
}

export interface ProjectHtmlParser {
  /** Feeds the next decoded chunk. May throw UPSTREAM_PAYLOAD (a cap, a bad digest, repository-version 2.x). */
  write(chunk: string): void;
  /** The input is complete: the page. */
  end(): Decoded<PageBody>;
  /** True once a closing `</html>` was read (a close-delimited body without it may have been cut short). */
  readonly isClosed: boolean;
  /** Links read so far. */
  readonly count: number;
}

/**
 * A streaming PEP 503 project-page parser. `name` is the normalized name that was requested. Links resolve
 * against the first `<base href>` read before them (PEP 503 pages put it in the head, before any link).
 */
export function createProjectHtmlParser(
  pageUrl: string | URL,
  name: string,
  maxTokenChars: number = MAX_TOKEN_CHARS,
): ProjectHtmlParser {
  const heads: Heads = { version: null, status: null, statusReason: null };
  const warnings = new Warnings();
  const files: UpstreamFile[] = [];
  const seen = new Set<string>();
  let base: string | URL = pageUrl;
  let hasBase = false;
  let count = 0;
  let isClosed = false;
  const scanner = createHtmlScanner(
    PAGE_TAGS,
    {
      onOpenTag(tag, attribs) {
        if (tag === 'meta') {
          const before = heads.version;
          readMeta(attribs, heads);
          if (before === null && heads.version !== null) checkVersion(heads, pageUrl, warnings);
        } else if (tag === 'base') {
          if (hasBase || attribs.href === undefined) return;
          hasBase = true;
          try {
            base = new URL(attribs.href, pageUrl);
          } catch {
            warnings.push(`<base href=${JSON.stringify(attribs.href)}>: not a URL; ignored`);
          }
        } else {
          const i = count++;
          if (i >= MAX_PAGE_FILES) throw tooManyFiles(pageUrl);
          const file = readAnchor(attribs, i, base, pageUrl, warnings);
          if (file === null) return;
          if (seen.has(file.filename)) {
            warnings.push(`<a> #${i + 1}: filename ${JSON.stringify(file.filename)} listed twice; skipped`);
            return;
          }
          seen.add(file.filename);
          files.push(file);
        }
      },
      onCloseTag(tag) {
        if (tag === 'html') isClosed = true;
      },
    },
    pageUrl,
    maxTokenChars,
  );
  return {
    write: (chunk) => scanner.write(chunk),
    end() {
      scanner.end();
      let status: ProjectStatus | null = null;
      if (heads.status !== null) {
        const s = parseProjectStatus(heads.status, '<meta name="pypi:project-status">');
        if ('status' in s) status = s.status;
        else warnings.push(s.warning);
      }
      return {
        value: { name: normalizeName(name), files, versions: [], status, statusReason: heads.statusReason },
        warnings: warnings.list(),
      };
    },
    get isClosed() {
      return isClosed;
    },
    get count() {
      return count;
    },
  };
}

/** Parses a whole PEP 503 project page. `name` is the normalized name that was requested. */
export function parseProjectHtml(html: string, pageUrl: string | URL, name: string): Decoded<PageBody> {
  const parser = createProjectHtmlParser(pageUrl, name);
  parser.write(html);
  return parser.end();
}

export interface ListingHtmlParser {
  /** Feeds the next decoded chunk of the page. May throw UPSTREAM_PAYLOAD (repository-version 2.x). */
  write(chunk: string): void;
  end(): void;
  /** Skipped links and soft problems so far. */
  readonly warnings: readonly string[];
}

/**
 * A streaming root-page parser: calls `onProject` for every `<a>` whose text is a valid project name.
 * Link text longer than `maxTokenChars` is skipped with a warning, never kept.
 */
export function createListingHtmlParser(
  onProject: (project: ListedProject) => void,
  url: string | URL = '(root listing)',
  maxTokenChars: number = MAX_TOKEN_CHARS,
): ListingHtmlParser {
  const warnings = new Warnings();
  const heads: Heads = { version: null, status: null, statusReason: null };
  let text: string | null = null;
  let isLong = false;
  let count = 0;
  const flush = (): void => {
    if (text === null) return;
    const name = text.trim();
    text = null;
    count += 1;
    if (isLong) warnings.push(`<a> #${count}: link text longer than ${maxTokenChars} characters; skipped`);
    else if (isValidProjectName(name)) onProject({ name, serial: null });
    else
      warnings.push(
        `<a> #${count}: ${JSON.stringify(name.slice(0, 80))} is not a valid project name; skipped`,
      );
    isLong = false;
  };
  const scanner = createHtmlScanner(
    LISTING_TAGS,
    {
      onOpenTag(tag, attribs) {
        if (tag === 'a') {
          flush();
          text = '';
        } else {
          const before = heads.version;
          readMeta(attribs, heads);
          if (before === null && heads.version !== null) checkVersion(heads, url, warnings);
        }
      },
      onText(data) {
        if (text === null || isLong) return;
        text += data;
        if (text.length > maxTokenChars) {
          isLong = true;
          text = '';
        }
      },
      onCloseTag(tag) {
        if (tag === 'a') flush();
      },
    },
    url,
    maxTokenChars,
  );
  let finalWarnings: readonly string[] | null = null;
  return {
    write: (chunk) => scanner.write(chunk),
    end: () => {
      scanner.end();
      flush();
      finalWarnings = warnings.list();
    },
    get warnings() {
      return finalWarnings ?? warnings.list();
    },
  };
}

/** Parses a whole PEP 503 root page (link text = project name). */
export function parseListingHtml(html: string, url: string | URL): Decoded<ListingBody> {
  const projects: ListedProject[] = [];
  const parser = createListingHtmlParser((p) => projects.push(p), url);
  parser.write(html);
  parser.end();
  return { value: { projects, serial: null, format: 'html' }, warnings: parser.warnings };
}
