// PEP 503 HTML and PEP 691 JSON pages (docs/protocol.md §1, §2, §6). Pure.
import { parseFileVersion } from '../plan/filenames.js';
import { localRelPath } from '../model/layout.js';
import type { LocalFile, ProjectRecord } from '../model/record.js';

/** The Simple API version our pages declare: we emit PEP 700's `versions` and `size`, nothing newer. */
const API_VERSION = '1.1';

/** A character escapeHtml replaces. */
const HTML_SPECIAL = /[&<>"']/;

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  // Most text has none (a project name never has): one scan instead of five replaces, 220 000 times for
  // the root page of 110 000 projects.
  if (!HTML_SPECIAL.test(text)) return text;
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A file name as the last segment of a relative URL: `+` → `%2B`, spaces and the like encoded. */
function fileHref(filename: string): string {
  return encodeURIComponent(filename);
}

/** The relative URL of a mirrored file from its page: `<filename>`, or `<dir>/<filename>` once replaced. */
function localFileHref(file: Pick<LocalFile, 'filename' | 'path'>): string {
  return localRelPath(file).split('/').map(fileHref).join('/');
}

function renderAnchor(file: LocalFile): string {
  const attrs = [`href="${escapeHtml(`${localFileHref(file)}#sha256=${file.sha256}`)}"`];
  if (file.requiresPython !== null) attrs.push(`data-requires-python="${escapeHtml(file.requiresPython)}"`);
  // Never a bare data-yanked: pip reads a valueless attribute as "not yanked" (docs/protocol.md §1).
  if (file.yanked !== null) attrs.push(`data-yanked="${escapeHtml(file.yanked)}"`);
  if (file.metadataSha256 !== null) {
    const value = `sha256=${file.metadataSha256}`;
    attrs.push(`data-core-metadata="${value}"`, `data-dist-info-metadata="${value}"`);
  }
  return `    <a ${attrs.join(' ')}>${escapeHtml(file.filename)}</a><br />`;
}

export function renderProjectHtml(record: ProjectRecord): string {
  const title = `Links for ${escapeHtml(record.name)}`;
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    `    <meta name="pypi:repository-version" content="${API_VERSION}">`,
    `    <title>${title}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${title}</h1>`,
    ...record.files.map(renderAnchor),
    '  </body>',
    '</html>',
    ...(record.serial === null ? [] : [`<!--SERIAL ${record.serial}-->`]),
    '',
  ].join('\n');
}

/** PEP 700: every file's version must be in `versions`. Upstream's list, plus what our files need. */
function collectVersions(record: ProjectRecord): string[] {
  const versions = new Set(record.versions);
  for (const file of record.files) {
    const version = parseFileVersion(file.filename, record.name);
    if (version !== null) versions.add(version);
  }
  return [...versions].sort();
}

export function renderProjectJson(record: ProjectRecord): string {
  const files = record.files.map((file) => {
    const entry: Record<string, unknown> = {
      filename: file.filename,
      url: localFileHref(file),
      hashes: { sha256: file.sha256 },
      'requires-python': file.requiresPython,
      size: file.size,
    };
    if (file.yanked !== null) entry['yanked'] = file.yanked === '' ? true : file.yanked;
    if (file.uploadTime !== null) entry['upload-time'] = file.uploadTime;
    if (file.metadataSha256 !== null) entry['core-metadata'] = { sha256: file.metadataSha256 };
    return entry;
  });
  const meta: Record<string, unknown> = { 'api-version': API_VERSION };
  if (record.serial !== null) meta['_last-serial'] = record.serial;
  return `${JSON.stringify({ meta, name: record.name, versions: collectVersions(record), files })}\n`;
}

export interface RootEntry {
  readonly name: string;
  readonly displayName: string;
}

export function renderRootHtml(projects: readonly RootEntry[], baseUrl: URL | null): string {
  const intro =
    baseUrl === null ? [] : [`    <p>pip install --index-url ${escapeHtml(baseUrl.toString())} PROJECT</p>`];
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    `    <meta name="pypi:repository-version" content="${API_VERSION}">`,
    '    <title>Simple index</title>',
    '  </head>',
    '  <body>',
    ...intro,
    ...projects.map((p) => `    <a href="${escapeHtml(p.name)}/">${escapeHtml(p.displayName)}</a><br />`),
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

export function renderRootJson(projects: readonly RootEntry[]): string {
  return `${JSON.stringify({
    meta: { 'api-version': API_VERSION },
    projects: projects.map((p) => ({ name: p.displayName })),
  })}\n`;
}
