// Where things live under the mirror root (README "Layout"), and the one rule for which names can be
// stored there (issue #10: one bad name affects only itself). Pure.
import { join, posix } from 'node:path';
import { isNormalizedName } from './names.js';

export const STATE_DIR = '.pypimirror';
export const INDEX_HTML = 'index.html';
export const INDEX_JSON = 'index.v1_json';
export const TEMP_SUFFIX = '.tmp';
/** `<root>/.pypimirror/root.json`: says the root is pypimirror's, and what was there before it (adopted). */
export const ROOT_MARKER = 'root.json';
/** `<root>/.pypimirror/find-links.json`: the flat directory (find_links_dir) and what pypimirror put there. */
export const FIND_LINKS_RECORD = 'find-links.json';
/** `<root>/.pypimirror/find-links.dirty`: a run changed the tree and has not yet brought the flat directory along. */
export const FIND_LINKS_DIRTY = 'find-links.dirty';

/**
 * Longest file name stored, in bytes. Every name derived from it must fit NAME_MAX (255): the temp file of
 * its `.metadata`, `.<name>.metadata.<12 hex>.tmp`, is 27 bytes longer.
 */
export const MAX_FILENAME_BYTES = 200;
/** Longest normalised project name stored: its record's temp file, `.<name>.json.<12 hex>.tmp`, is 23 longer. */
const MAX_PROJECT_NAME_BYTES = 200;

const STORABLE_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+!~-]*$/;

/**
 * Why a distribution file name cannot be stored, or null when it can: a single visible path segment of ASCII
 * letters, digits and `._+!~-`, starting with a letter or digit, at most MAX_FILENAME_BYTES, that cannot
 * collide with our own files (pages, `.metadata`, temp files). The upstream decoders skip what this refuses;
 * the path builders refuse it too.
 */
export function whyUnstorableFilename(filename: string): string | null {
  if (filename.length > MAX_FILENAME_BYTES) return `longer than ${MAX_FILENAME_BYTES} bytes`;
  if (!STORABLE_FILENAME.test(filename)) {
    return 'not made of ASCII letters, digits and ._+!~- (starting with a letter or digit)';
  }
  const lower = filename.toLowerCase();
  if (lower === INDEX_HTML || lower === INDEX_JSON) return 'clashes with an index page';
  if (lower.endsWith('.metadata')) return 'ends in .metadata';
  if (lower.endsWith(TEMP_SUFFIX)) return `ends in ${TEMP_SUFFIX}, like pypimirror's temp files`;
  return null;
}

export function isSafeFilename(filename: string): boolean {
  return whyUnstorableFilename(filename) === null;
}

/** Why a normalised project name cannot be stored (as a directory and a record), or null when it can. */
export function whyUnstorableProjectName(name: string): string | null {
  if (name.length > MAX_PROJECT_NAME_BYTES) return `longer than ${MAX_PROJECT_NAME_BYTES} bytes`;
  return isNormalizedName(name) ? null : 'not a normalised project name';
}

export function projectDir(root: string, name: string): string {
  if (!isNormalizedName(name)) throw new Error(`not a normalised project name: ${JSON.stringify(name)}`);
  return join(root, name);
}

export function filePath(root: string, project: string, filename: string): string {
  const unsafe = whyUnstorableFilename(filename);
  if (unsafe !== null) throw new Error(`unsafe file name ${JSON.stringify(filename)}: ${unsafe}`);
  return join(projectDir(root, project), filename);
}

/** Hex digits of a digest that name the directory of a replaced file. */
const REPLACED_DIR_HEX = 16;

const REPLACED_DIR = new RegExp(`^[0-9a-f]{${REPLACED_DIR_HEX}}$`);

/** Is `name` a directory that holds replaced files (`<16 hex>`)? */
function isReplacedDirName(name: string): boolean {
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

export function stateDir(root: string): string {
  return join(root, STATE_DIR);
}

/** Our temp files: `.<name>.<12 hex>.tmp` (util/fs.ts tempPathFor), beside their target. */
const TEMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Hidden temp files live beside their target, so the final rename never crosses a file system. */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Directories that are never a mirror root themselves: the system's own (after symlinks are resolved). */
const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '/',
  '/bin',
  '/boot',
  '/etc',
  '/home',
  '/lost+found',
  '/media',
  '/mnt',
  '/opt',
  '/root',
  '/run',
  '/sbin',
  '/snap',
  '/srv',
  '/tmp',
  '/usr',
  '/usr/bin',
  '/usr/include',
  '/usr/local',
  '/usr/local/bin',
  '/usr/local/sbin',
  '/usr/local/share',
  '/usr/sbin',
  '/usr/share',
  '/usr/src',
  '/var',
  '/var/backups',
  '/var/cache',
  '/var/lib',
  '/var/local',
  '/var/lock',
  '/var/log',
  '/var/mail',
  '/var/opt',
  '/var/run',
  '/var/spool',
  '/var/tmp',
]);
/** /lib, /lib64, /libx32, /usr/lib32, /usr/libexec, /usr/local/lib, ... */
const LIBRARY_DIR = /^(\/usr(\/local)?)?\/lib(32|64|x32|exec)?$/;
/** Kernel file systems: neither they nor anything beneath them is ever a mirror root. */
const VIRTUAL_TREES: readonly string[] = ['/proc', '/sys', '/dev'];

/** True when the absolute, normalised `path` is a system directory (or inside /proc, /sys, /dev). */
export function isSystemDirectory(path: string): boolean {
  const p = posix.normalize(path).replace(/(.)\/+$/, '$1');
  return (
    SYSTEM_DIRS.has(p) ||
    LIBRARY_DIR.test(p) ||
    VIRTUAL_TREES.some((tree) => p === tree || p.startsWith(`${tree}/`))
  );
}
