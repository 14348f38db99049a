// Where things live under the mirror root (DESIGN.md "Output layout"). Pure.
import { join } from 'node:path';
import { isNormalizedName } from '../plan/names.js';

export const STATE_DIR = '.pypimirror';
export const INDEX_HTML = 'index.html';
export const INDEX_JSON = 'index.v1_json';
export const TEMP_SUFFIX = '.tmp';

export function projectDir(root: string, name: string): string {
  if (!isNormalizedName(name)) throw new Error(`not a normalised project name: ${JSON.stringify(name)}`);
  return join(root, name);
}

/**
 * A distribution file name is a single, visible path segment that cannot collide with our own files:
 * the upstream decoder already refuses others; this is the last line of defence before a path is built.
 */
export function isSafeFilename(filename: string): boolean {
  return (
    /^[A-Za-z0-9][A-Za-z0-9._+!~-]*$/.test(filename) &&
    filename !== INDEX_HTML &&
    filename !== INDEX_JSON &&
    !filename.endsWith('.metadata') &&
    !filename.endsWith(TEMP_SUFFIX)
  );
}

export function filePath(root: string, project: string, filename: string): string {
  if (!isSafeFilename(filename)) throw new Error(`unsafe file name: ${JSON.stringify(filename)}`);
  return join(projectDir(root, project), filename);
}

export function stateDir(root: string): string {
  return join(root, STATE_DIR);
}

export function recordPath(root: string, name: string): string {
  if (!isNormalizedName(name)) throw new Error(`not a normalised project name: ${JSON.stringify(name)}`);
  return join(root, STATE_DIR, 'projects', `${name}.json`);
}

/** Hidden temp files live beside their target, so the final rename never crosses a file system. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TEMP_SUFFIX);
}
