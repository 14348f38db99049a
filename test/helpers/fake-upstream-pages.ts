// Simple-API pages for the fake upstream: content negotiation (docs/protocol.md §2) and the PEP 503 HTML /
// PEP 691 JSON renderings of the root and project pages (docs/protocol.md §1-§2), PyPI-flavoured.
import type { FakeFile, FakeProject, UpstreamModel } from './fake-upstream-model.js';

export type PageFormat = 'json' | 'v1-html' | 'html';
export type FormatsOption = 'both' | 'html-only' | 'json-only';

export const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
export const V1_HTML_TYPE = 'application/vnd.pypi.simple.v1+html';

export const CONTENT_TYPES: Readonly<Record<PageFormat, string>> = {
  json: JSON_TYPE,
  'v1-html': `${V1_HTML_TYPE}; charset=utf-8`,
  html: 'text/html; charset=utf-8',
};

/** Offers in PyPI's tie-break order (WH-simple `_select_content_type`): text/html first. */
const OFFERS: readonly { format: PageFormat; type: string; aliases: readonly string[] }[] = [
  { format: 'html', type: 'text/html', aliases: [] },
  { format: 'v1-html', type: V1_HTML_TYPE, aliases: ['application/vnd.pypi.simple.latest+html'] },
  { format: 'json', type: JSON_TYPE, aliases: ['application/vnd.pypi.simple.latest+json'] },
];

/**
 * Picks the page format, or undefined for 406. `?format=` wins over Accept; no Accept means `*\/*`;
 * the highest q wins, ties go to the earlier offer; q=0 excludes.
 */
export function negotiateFormat(
  accept: string | undefined,
  formatParam: string | null,
  formats: FormatsOption,
): PageFormat | undefined {
  if (formats === 'html-only') return 'html';
  const offers = OFFERS.filter((o) => (formats === 'json-only' ? o.format === 'json' : true));
  if (formatParam !== null) {
    const wanted = formatParam.trim().toLowerCase();
    return offers.find((o) => o.type === wanted || o.aliases.includes(wanted))?.format;
  }
  const ranges = parseAccept(accept ?? '*/*');
  let best: { format: PageFormat; q: number } | undefined;
  for (const offer of offers) {
    const q = qualityOf(offer.type, offer.aliases, ranges);
    if (q > 0 && (best === undefined || q > best.q)) best = { format: offer.format, q };
  }
  return best?.format;
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type === '') continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    ranges.push({ type, q: Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 0 });
  }
  return ranges;
}

/** q of the most specific matching range (exact > type/* > *\/*), or 0. */
function qualityOf(type: string, aliases: readonly string[], ranges: readonly MediaRange[]): number {
  const major = type.split('/')[0] ?? '';
  const exact = ranges.filter((r) => r.type === type || aliases.includes(r.type));
  if (exact.length > 0) return Math.max(...exact.map((r) => r.q));
  const partial = ranges.filter((r) => r.type === `${major}/*`);
  if (partial.length > 0) return Math.max(...partial.map((r) => r.q));
  const any = ranges.filter((r) => r.type === '*/*');
  return any.length > 0 ? Math.max(...any.map((r) => r.q)) : 0;
}

export interface RenderContext {
  readonly apiVersion: string;
  /** PyPI's private serial keys/comments; off for a plain (html-only) index. */
  readonly withSerials: boolean;
  /** Link to a project page from the root page (relative or absolute). */
  projectHref(normalized: string): string;
  /** Link to a file from its project page, no fragment (relative or absolute). */
  fileHref(file: FakeFile): string;
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Projects listed on the root: sorted by normalised name, quarantined ones dropped (as PyPI does). */
export function listedProjects(model: UpstreamModel): FakeProject[] {
  return [...model.projects.values()]
    .filter((p) => p.status?.status !== 'quarantined')
    .sort((a, b) => (a.normalized < b.normalized ? -1 : a.normalized > b.normalized ? 1 : 0));
}

/** Files shown on a project page: none while quarantined, else sorted by filename. */
export function visibleFiles(project: FakeProject): FakeFile[] {
  if (project.status?.status === 'quarantined') return [];
  return [...project.files.values()].sort((a, b) => (a.filename < b.filename ? -1 : 1));
}

export function renderRootJson(model: UpstreamModel, ctx: RenderContext): string {
  const meta = ctx.withSerials
    ? { 'api-version': ctx.apiVersion, '_last-serial': model.serial }
    : { 'api-version': ctx.apiVersion };
  const projects = listedProjects(model).map((p) =>
    ctx.withSerials ? { name: p.name, '_last-serial': p.lastSerial } : { name: p.name },
  );
  return JSON.stringify({ meta, projects });
}

export function renderRootHtml(model: UpstreamModel, ctx: RenderContext): string {
  const links = listedProjects(model).map(
    (p) => `    <a href="${escapeHtml(ctx.projectHref(p.normalized))}">${escapeHtml(p.name)}</a><br />\n`,
  );
  return (
    '<!DOCTYPE html>\n<html>\n  <head>\n' +
    `    <meta name="pypi:repository-version" content="${escapeHtml(ctx.apiVersion)}">\n` +
    '    <title>Simple index</title>\n  </head>\n  <body>\n' +
    links.join('') +
    '  </body>\n</html>\n' +
    (ctx.withSerials ? `<!--SERIAL ${model.serial}-->\n` : '')
  );
}

export function renderProjectJson(project: FakeProject, ctx: RenderContext): string {
  const files = visibleFiles(project);
  const meta = ctx.withSerials
    ? { 'api-version': ctx.apiVersion, '_last-serial': project.lastSerial }
    : { 'api-version': ctx.apiVersion };
  const page: Record<string, unknown> = {
    meta,
    name: project.normalized,
    files: files.map((f) => ({
      filename: f.filename,
      url: ctx.fileHref(f),
      hashes: { sha256: f.sha256 },
      'requires-python': f.requiresPython ?? null,
      'core-metadata': f.metadataSha256 === undefined ? false : { sha256: f.metadataSha256 },
      yanked: f.yanked,
      size: f.size,
      'upload-time': f.uploadTime,
      provenance: null,
    })),
    versions: [...new Set(files.map((f) => f.version))],
  };
  if (project.status !== undefined) page['project-status'] = { ...project.status };
  return JSON.stringify(page);
}

/**
 * PyPI's JSON API document (`/pypi/<project>/json`), the fields mirrors read (bandersnatch builds its mirror
 * from them): `info`, `last_serial`, and per version in `releases` each file's absolute `url`, `size`,
 * `digests`, `packagetype`, `requires_python`, yank state and upload times.
 */
export function renderJsonApi(project: FakeProject, fileUrl: (file: FakeFile) => string): string {
  const releases: Record<string, unknown[]> = {};
  let latest = '';
  for (const f of visibleFiles(project)) {
    latest = f.version;
    (releases[f.version] ??= []).push({
      filename: f.filename,
      url: fileUrl(f),
      size: f.size,
      packagetype: f.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
      python_version: f.filename.endsWith('.whl') ? 'py3' : 'source',
      requires_python: f.requiresPython ?? null,
      yanked: f.yanked !== false,
      yanked_reason: typeof f.yanked === 'string' ? f.yanked : null,
      upload_time: f.uploadTime.slice(0, 19),
      upload_time_iso_8601: f.uploadTime,
      digests: { sha256: f.sha256 },
    });
  }
  const info = { name: project.name, version: latest };
  return JSON.stringify({ info, last_serial: project.lastSerial, releases, urls: releases[latest] ?? [] });
}

export function renderProjectHtml(project: FakeProject, ctx: RenderContext): string {
  const head = [`    <meta name="pypi:repository-version" content="${escapeHtml(ctx.apiVersion)}">\n`];
  if (project.status !== undefined) {
    head.push(`    <meta name="pypi:project-status" content="${escapeHtml(project.status.status)}">\n`);
    if (project.status.reason !== undefined) {
      head.push(
        `    <meta name="pypi:project-status-reason" content="${escapeHtml(project.status.reason)}">\n`,
      );
    }
  }
  const links = visibleFiles(project).map((f) => {
    const attrs = [`href="${escapeHtml(`${ctx.fileHref(f)}#sha256=${f.sha256}`)}"`];
    if (f.requiresPython !== undefined) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
    if (f.yanked !== false) attrs.push(`data-yanked="${f.yanked === true ? '' : escapeHtml(f.yanked)}"`);
    if (f.metadataSha256 !== undefined) {
      attrs.push(`data-core-metadata="sha256=${f.metadataSha256}"`);
      attrs.push(`data-dist-info-metadata="sha256=${f.metadataSha256}"`);
    }
    return `    <a ${attrs.join(' ')}>${escapeHtml(f.filename)}</a><br />\n`;
  });
  return (
    '<!DOCTYPE html>\n<html>\n  <head>\n' +
    head.join('') +
    `    <title>Links for ${escapeHtml(project.normalized)}</title>\n  </head>\n  <body>\n` +
    `    <h1>Links for ${escapeHtml(project.normalized)}</h1>\n` +
    links.join('') +
    '  </body>\n</html>\n' +
    (ctx.withSerials ? `<!--SERIAL ${project.lastSerial}-->\n` : '')
  );
}
