// Where the lock and the flat directory may be, given the mirror's root: never where they would collide with
// a project, a root page or pypimirror's state, or be served as part of the index. Pure.
import path from 'node:path';
import {
  FIND_LINKS_DIRTY,
  FIND_LINKS_RECORD,
  INDEX_HTML,
  INDEX_JSON,
  isSystemDirectory,
  ROOT_MARKER,
  STATE_DIR,
} from '../model/layout.js';
import { isNormalizedName } from '../model/names.js';

/** pypimirror's own entries in <root>/.pypimirror/ (mirror/state.ts, status.ts, ownership.ts, find-links.ts). */
const STATE_ENTRIES: readonly string[] = [
  'state.json',
  'status.json',
  ROOT_MARKER,
  'projects',
  FIND_LINKS_RECORD,
  FIND_LINKS_DIRTY,
];

/**
 * Why the flat directory cannot be at `dir`, or null when it can: not inside the mirror (the web server would
 * serve it as part of the index, and the root's entries are projects), not holding the mirror, and not a
 * system directory.
 */
export function checkFindLinksPlace(dir: string, root: string): string | null {
  const expected = 'expected a directory of its own outside the mirror, like /srv/pypimirror-find-links';
  if (isWithin(dir, root)) {
    return (
      `is inside mirror_file_path (${root}): the web server would serve it as part of the index, and ` +
      `pypimirror would take it for a project directory; ${expected}`
    );
  }
  if (isWithin(root, dir)) return `holds mirror_file_path (${root}); ${expected}`;
  if (isSystemDirectory(dir)) return `is a system directory; ${expected}`;
  return null;
}

/**
 * Why the lock (a directory while held, with `.owner` and `.acquiring` siblings) could collide with a project
 * directory, a root page, the root or the state, or null when it cannot. Inside the root, its first path
 * segment must not be a normalised project name or a root page, nor be or hold pypimirror's own state.
 */
export function checkLockPlace(lockFile: string, root: string): string | null {
  const expected =
    "expected a name no project can have (with a '.', like .pypimirror.lock) or a path outside the mirror";
  if (isWithin(root, lockFile)) return `is the mirror root or a folder above it; ${expected}`;
  if (!isWithin(lockFile, root)) return null;
  const [first = '', second, ...deeper] = path.relative(root, lockFile).split(path.sep);
  if (isNormalizedName(first) || first === INDEX_HTML || first === INDEX_JSON) {
    return `could collide with the project directory or page "${first}"; ${expected}`;
  }
  if (first !== STATE_DIR) return null;
  if (second === undefined) return `is pypimirror's state directory; ${expected}`;
  const isOwn = (name: string): boolean => STATE_ENTRIES.includes(name);
  const clashes =
    deeper.length > 0 ? isOwn(second) : [second, `${second}.owner`, `${second}.acquiring`].some(isOwn);
  return clashes ? `collides with pypimirror's own files in ${STATE_DIR}/; ${expected}` : null;
}

/** Whether `inner` is `outer` or lies beneath it (both absolute and normalised). */
function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
