// Whether the files a plan keeps are still in the tree (project.ts planPage), checked one of two ways:
//   size      an lstat (a HEAD on object storage) per file: a file gone or cut short is fetched again. Every
//             project whose page was fetched is checked so.
//   presence  one listing of the project's directory: a file gone is fetched again; one whose bytes were
//             changed in place keeps its name and is left to the next page fetch of its project (size) and
//             to `verify` (hashes). A re-plan from stored pages (every project of a filter change, issue
//             #14 part 4) is checked so: an lstat per file was a third of its time.
// The listing also tells whether the directory holds a crashed write's temp files, so the sweep before
// the downloads is skipped when it holds none.
import { isTempName } from '../model/layout.js';
import type { LocalFile } from '../model/record.js';
import { fileKey, projectKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import { settleWindowed, sizeAt } from './project-context.js';

/**
 * How the kept files are checked (see the module comment); `listed`: by presence, in the regular files of
 * the project's directory as already listed (replan-reads.ts).
 */
export type DiskCheck = 'size' | 'presence' | { readonly listed: readonly string[] };

export interface KeptOnDisk {
  /**
   * Per kept file, in order: its size in the tree, or null when it is not there. Checked by presence, a
   * file listed beside the page is taken to have its recorded size.
   */
  readonly sizes: readonly (number | null)[];
  /** False when the directory was listed and holds no temp file: its sweep can be skipped. */
  readonly mayHoldTempFiles: boolean;
}

/** Checks `files` of `project` against the tree (see the module comment); a disk error throws. */
export async function checkKeptFiles(
  storage: Storage,
  project: string,
  files: readonly LocalFile[],
  check: DiskCheck,
): Promise<KeptOnDisk> {
  let listed: ReadonlySet<string> | null = null;
  let mayHoldTempFiles = true;
  if (check !== 'size' && files.length > 0) {
    const names = check === 'presence' ? (await storage.list(projectKey(project))).files : check.listed;
    listed = new Set(names);
    // Only the local sweep removes what a listing shows (hidden temp files); object storage's aborts uploads.
    mayHoldTempFiles = storage.kind !== 'local' || names.some(isTempName);
  }
  // Files at a path of their own (a replaced file's `<16 hex>/` directory) are not in the listing.
  const isListed = (file: LocalFile): boolean => listed !== null && file.path === undefined;
  const statted = await settleWindowed(
    files.filter((file) => !isListed(file)),
    (file) => sizeAt(storage, fileKey(project, file)),
  );
  let next = 0;
  const sizes = files.map((file) => {
    if (isListed(file)) return listed?.has(file.filename) === true ? file.size : null;
    const r = statted[next++] as PromiseSettledResult<number | null>;
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  return { sizes, mayHoldTempFiles };
}
