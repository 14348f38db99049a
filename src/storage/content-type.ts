// The Content-Type every key of the served tree is written with (an object store serves it as given; the
// web server samples set the same types for the local tree). Pure.
import { INDEX_HTML, INDEX_JSON } from '../model/layout.js';

/** PEP 691's JSON form of the Simple API. */
export const SIMPLE_JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
/** PEP 503 pages. */
const HTML_TYPE = 'text/html; charset=utf-8';

/** By ending, lower case, longest first where one ends another (`.tar.gz` before `.gz`). */
const BY_ENDING: readonly (readonly [string, string])[] = [
  ['.metadata', 'text/plain; charset=utf-8'], // PEP 658: the wheel's METADATA, RFC 822 headers in UTF-8
  ['.whl', 'application/zip'],
  ['.zip', 'application/zip'],
  ['.egg', 'application/zip'],
  ['.tar.gz', 'application/gzip'],
  ['.tgz', 'application/gzip'],
  ['.tar.bz2', 'application/x-bzip2'],
  ['.tar.xz', 'application/x-xz'],
  ['.tar', 'application/x-tar'],
  ['.json', 'application/json'], // state and records under .pypimirror/
];

/**
 * The Content-Type of `key`: `index.html` (and a key ending in `/`, where an object store serves the page
 * at the URL pip asks for) is HTML, `index.v1_json` PEP 691 JSON, `.metadata` text, distributions by their
 * archive type, anything else application/octet-stream.
 */
export function contentTypeFor(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name === '' || name === INDEX_HTML) return HTML_TYPE;
  if (name === INDEX_JSON) return SIMPLE_JSON_TYPE;
  const lower = name.toLowerCase();
  for (const [ending, type] of BY_ENDING) if (lower.endsWith(ending)) return type;
  return 'application/octet-stream';
}
