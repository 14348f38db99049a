// Reads back the pages we publish (render.ts's own output), so that `verify` can check what a page links
// against the bytes on disk. Only our format is read: anything else is reported, not guessed at. Pure.
import { isSafeLocalPath } from '../model/layout.js';

/** One file link of a published project page. */
export interface PublishedLink {
  /** The href (HTML) or url (JSON) as written, without the fragment. */
  readonly href: string;
  /** The path it names relative to the project directory, or null when it is not one we could write. */
  readonly rel: string | null;
  /** The sha256 the page gives, or null when it gives none. */
  readonly sha256: string | null;
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};

function unescapeHtml(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);
}

/**
 * The path a relative link names inside the project directory (`<filename>` or `<16 hex>/<filename>`,
 * percent-decoded), or null for anything else: absolute, with a scheme, `..`, or a name we never write.
 */
export function linkedRelPath(href: string): string | null {
  if (href === '' || href.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(href)) return null;
  let segments: string[];
  try {
    segments = href.split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
  const rel = segments.join('/');
  const filename = segments[segments.length - 1] ?? '';
  return segments.length <= 2 && isSafeLocalPath(filename, rel) ? rel : null;
}

function link(href: string, sha256: string | null): PublishedLink {
  return {
    href,
    rel: linkedRelPath(href),
    sha256: sha256 !== null && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : null,
  };
}

/** The file links of a project page in our HTML (`<a href="<path>#sha256=<hex>" …>`). */
export function readHtmlLinks(html: string): PublishedLink[] {
  const links: PublishedLink[] = [];
  for (const match of html.matchAll(/<a\s[^>]*?href="([^"]*)"/g)) {
    const value = unescapeHtml(match[1] ?? '');
    const hash = value.indexOf('#');
    const href = hash < 0 ? value : value.slice(0, hash);
    const fragment = hash < 0 ? '' : value.slice(hash + 1);
    links.push(link(href, fragment.startsWith('sha256=') ? fragment.slice('sha256='.length) : null));
  }
  return links;
}

/** The file links of a project page in our PEP 691 JSON; throws on JSON that is not such a page. */
export function readJsonLinks(text: string): PublishedLink[] {
  const json = JSON.parse(text) as { files?: unknown };
  if (!Array.isArray(json.files)) throw new Error('no "files" list');
  return json.files.map((entry: unknown) => {
    const file = (entry ?? {}) as { url?: unknown; hashes?: { sha256?: unknown } };
    const url = typeof file.url === 'string' ? file.url : '';
    const sha256 = file.hashes?.sha256;
    return link(url, typeof sha256 === 'string' ? sha256 : null);
  });
}

/** The project directory names the root page links, HTML (`<a href="<name>/">`) or JSON (`projects[].name`). */
export function readRootHtmlProjects(html: string): string[] {
  return [...html.matchAll(/<a\s[^>]*?href="([^"]*)"/g)].map((m) =>
    unescapeHtml(m[1] ?? '').replace(/\/$/, ''),
  );
}

export function readRootJsonProjects(text: string): string[] {
  const json = JSON.parse(text) as { projects?: unknown };
  if (!Array.isArray(json.projects)) throw new Error('no "projects" list');
  return json.projects.map((p: unknown) => String((p as { name?: unknown } | null)?.name ?? ''));
}
