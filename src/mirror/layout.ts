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

/** Hex digits of a digest that name the directory of a replaced file. */
export const REPLACED_DIR_HEX = 16;

const REPLACED_DIR = new RegExp(`^[0-9a-f]{${REPLACED_DIR_HEX}}$`);

/** Is `name` a directory that holds replaced files (`<16 hex>`)? */
export function isReplacedDirName(name: string): boolean {
  return REPLACED_DIR.test(name);
}

/**
 * Where new bytes under an already published file name go, relative to the project directory:
 * `<first 16 hex of their digest>/<filename>`. No published file has that path, so nothing a page links is
 * overwritten; pip takes the file name from the URL's last segment, so it installs it as usual.
 */
export function replacedFileRelPath(filename: string, digestHex: string): string {
  const dir = digestHex.toLowerCase().slice(0, REPLACED_DIR_HEX);
  if (!isReplacedDirName(dir)) throw new Error(`not a hex digest: ${JSON.stringify(digestHex)}`);
  if (!isSafeFilename(filename)) throw new Error(`unsafe file name: ${JSON.stringify(filename)}`);
  return `${dir}/${filename}`;
}

/** Is `path` a place a record may put `filename`: `<filename>` itself or `<16 hex>/<filename>`? */
export function isSafeLocalPath(filename: string, path: string): boolean {
  if (!isSafeFilename(filename)) return false;
  if (path === filename) return true;
  const slash = path.indexOf('/');
  return slash > 0 && isReplacedDirName(path.slice(0, slash)) && path.slice(slash + 1) === filename;
}

/** A mirrored file's path relative to its project directory (`<filename>` unless it was replaced). */
export function localRelPath(file: { readonly filename: string; readonly path?: string }): string {
  return file.path ?? file.filename;
}

/** The absolute path of a mirrored file, from its record entry; refuses a path a record may not hold. */
export function localFilePath(
  root: string,
  project: string,
  file: { readonly filename: string; readonly path?: string },
): string {
  const rel = localRelPath(file);
  if (!isSafeLocalPath(file.filename, rel)) {
    throw new Error(`unsafe path for ${JSON.stringify(file.filename)}: ${JSON.stringify(rel)}`);
  }
  return join(projectDir(root, project), rel);
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
