// The keys of the served tree (storage/types.ts): where each thing lives, as a '/'-separated path relative
// to the root, built only from names layout.ts accepts, so no key climbs out of the tree. Pure.
import { isNormalizedName } from '../plan/names.js';
import { INDEX_HTML, INDEX_JSON, isSafeLocalPath, localRelPath, STATE_DIR } from '../mirror/layout.js';

/** A project's directory: its normalised name; anything else is refused. */
function projectKey(name: string): string {
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
  return `${STATE_DIR}/projects/${projectKey(name)}.json`;
}
