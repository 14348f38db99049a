// The keys of the served tree (storage/types.ts): where each thing lives, as a '/'-separated path relative
// to the root, built only from names layout.ts accepts, so no key climbs out of the tree. Pure.
import { isNormalizedName } from '../model/names.js';
import {
  INDEX_HTML,
  INDEX_JSON,
  isSafeLocalPath,
  localRelPath,
  ROOT_MARKER,
  STATE_DIR,
} from '../model/layout.js';

/** `.pypimirror/projects`: one record per project. */
export const RECORDS_DIR_KEY = `${STATE_DIR}/projects`;
export const STATE_KEY = `${STATE_DIR}/state.json`;
export const STATUS_KEY = `${STATE_DIR}/status.json`;
export const ROOT_MARKER_KEY = `${STATE_DIR}/${ROOT_MARKER}`;

/** The root's pages, HTML first (the order they are written in). */
export const ROOT_PAGE_KEYS: readonly [string, string] = [INDEX_HTML, INDEX_JSON];

/** A project's directory: its normalised name; anything else is refused. */
export function projectKey(name: string): string {
  if (!isNormalizedName(name)) throw new Error(`not a normalised project name: ${JSON.stringify(name)}`);
  return name;
}

/** A project's pages, HTML first. */
export function projectPageKeys(name: string): [string, string] {
  const dir = projectKey(name);
  return [`${dir}/${INDEX_HTML}`, `${dir}/${INDEX_JSON}`];
}

/** A mirrored file's key, from its record entry; refuses a path a record may not hold. */
export function fileKey(
  project: string,
  file: { readonly filename: string; readonly path?: string },
): string {
  const rel = localRelPath(file);
  if (!isSafeLocalPath(file.filename, rel)) {
    throw new Error(`unsafe path for ${JSON.stringify(file.filename)}: ${JSON.stringify(rel)}`);
  }
  return `${projectKey(project)}/${rel}`;
}

/** A project's record. */
export function recordKey(name: string): string {
  return `${RECORDS_DIR_KEY}/${projectKey(name)}.json`;
}

/** The directory part of a key ('' at the root). */
export function parentKey(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

/** `dir` and `name` as one key ('' is the root). */
export function joinKey(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
