// `npm run bench -- --scale --scale-dir DIR`: the scale mirror (scale.ts) kept in DIR between bench runs, so
// that its 750 s of writing is paid once. DIR holds the mirror, the state's project entries as written, and
// a marker of the parameters it was written with. A marker that does not match (other sizes, another way
// of writing it, a mirror missing records) has the mirror written afresh, never reused. A kept mirror is
// first put back as it was written: the projects a scenario added are moved aside (removed once the
// scenarios are done, see emptyTrash), the root pages and the state written again (re-keyed to this run's
// upstream URL), and the records read once, so the page cache holds them as it does after writing.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MirroredProject } from '../src/mirror/state.js';
import { INDEX_HTML, INDEX_JSON, STATE_DIR } from '../src/model/layout.js';
import { RECORDS_DIR_KEY } from '../src/storage/keys.js';
import { forEachWindowed } from '../src/util/pool.js';

/** Bump when scale.ts writes the mirror differently: a mirror written the old way is then rewritten. */
const SCALE_MIRROR_FORMAT = 1;
const MARKER = 'scale-mirror.json';
const PROJECTS = 'projects.json';
/** Where a restore moves what the last run's scenarios added, until emptyTrash. */
const TRASH = 'trash';
/** When emptyTrash last removed something (ms since the epoch). */
const TRASH_EMPTIED = 'trash-emptied-at';
/** ext4's window for recently deleted inodes: 60 s, plus 300 s while their inode table block is dirty. */
const RECENTLY_DELETED_MS = 360_000;

/**
 * Removes what the restore moved aside. Called once the scenarios are done: on ext4 without a journal (this
 * bench's VM), allocating an inode scans past the inodes deleted in the last 60-360 s (`recently_deleted`),
 * so removing the last run's 10 000 projects just before the first sync of 10 000 new ones would have it
 * pay for that scan (15-18 % of its CPU in bench:peers' first sync, README "Benchmark"), which a site whose
 * mirror did not just delete 10 000 projects does not pay.
 */
export async function emptyTrash(dir: string): Promise<void> {
  const trash = join(dir, TRASH);
  const names = async (d: string): Promise<string[]> => readdir(d).catch(() => []);
  const moved =
    (await names(trash)).filter((n) => n !== STATE_DIR).length +
    (await names(join(trash, RECORDS_DIR_KEY))).length;
  await rm(trash, { recursive: true, force: true });
  if (moved === 0) return;
  await writeFile(join(dir, TRASH_EMPTIED), `${Date.now()}\n`);
}

/**
 * Waits until RECENTLY_DELETED_MS have passed since the last emptyTrash (a bench run just before this one),
 * so that this run's first sync does not pay for the inodes that one freed either.
 */
async function waitPastRecentDeletes(dir: string, log: (msg: string) => void): Promise<void> {
  const at = Number((await readFile(join(dir, TRASH_EMPTIED), 'utf8').catch(() => '0')).trim());
  const waitMs = at + RECENTLY_DELETED_MS - Date.now();
  if (!(waitMs > 0)) return;
  log(`scale: waiting ${Math.ceil(waitMs / 1000)} s, until the last run's removals are 360 s old (ext4)`);
  await sleep(Math.min(waitMs, RECENTLY_DELETED_MS));
}

/** Records read at once while the page cache is warmed. */
const WARM_CONCURRENCY = 32;

/** What the kept mirror was written with: every field must match for it to be reused. */
export interface ScaleMirrorParameters {
  readonly projects: number;
  readonly files: number;
  /** The fake upstream's serial once seeded (the records' and state's serials follow from it). */
  readonly lastSerial: number;
}

/** What writes the mirror, and what puts the root pages and state in place from its project entries. */
export interface ScaleMirrorWriter {
  /** Writes the whole mirror at `root` (empty) and returns its project entries, sorted by name. */
  generate(root: string): Promise<Record<string, MirroredProject>>;
  /** Writes the root pages and state.json for `projects`, keyed to this run's upstream. */
  writeRootAndState(root: string, projects: Record<string, MirroredProject>): Promise<void>;
}

/**
 * The scale mirror under `dir` (created when absent), ready for the scenarios: reused when its marker
 * matches `params` and its records are all there, else written afresh. Returns the mirror's root.
 */
export async function keptScaleMirror(
  dir: string,
  params: ScaleMirrorParameters,
  writer: ScaleMirrorWriter,
  log: (msg: string) => void,
): Promise<string> {
  const root = join(dir, 'mirror');
  const wanted = { format: SCALE_MIRROR_FORMAT, ...params };
  const mismatch = await whyNotReusable(dir, root, wanted);
  if (mismatch === null) {
    const projects = JSON.parse(await readFile(join(dir, PROJECTS), 'utf8')) as Record<
      string,
      MirroredProject
    >;
    await restore(root, projects, writer);
    await waitPastRecentDeletes(dir, log);
    log(`scale: reusing the mirror in ${dir} (${params.projects} projects, ${params.files} files)`);
    return root;
  }
  log(`scale: writing the mirror in ${dir}: ${mismatch}`);
  // The marker goes first: a mirror whose writing is interrupted is never taken for a finished one.
  await rm(join(dir, MARKER), { force: true });
  await rm(root, { recursive: true, force: true });
  const projects = await writer.generate(root);
  await writeFile(join(dir, PROJECTS), JSON.stringify(projects));
  await writeFile(join(dir, MARKER), `${JSON.stringify(wanted)}\n`);
  return root;
}

/** Why the mirror in `dir` cannot be reused for `wanted`, or null when it can. */
async function whyNotReusable(
  dir: string,
  root: string,
  wanted: Record<string, number>,
): Promise<string | null> {
  let marker: unknown;
  try {
    marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8'));
  } catch {
    return 'no finished mirror there';
  }
  for (const [key, value] of Object.entries(wanted)) {
    const had = (marker as Record<string, unknown>)[key];
    if (had !== value) return `it was written with ${key} ${String(had)}, this run wants ${value}`;
  }
  const records = (await readdir(join(root, RECORDS_DIR_KEY)).catch(() => [])).filter((n) =>
    n.endsWith('.json'),
  );
  if (records.length < (wanted['projects'] ?? 0))
    return `it holds ${records.length} records of ${wanted['projects']}`;
  return null;
}

/** The mirror as written: what the scenarios added removed, root pages and state rewritten, records warmed. */
async function restore(
  root: string,
  projects: Record<string, MirroredProject>,
  writer: ScaleMirrorWriter,
): Promise<void> {
  const isKept = (name: string): boolean => Object.hasOwn(projects, name);
  const extraDirs = (await readdir(root)).filter(
    (n) => n !== STATE_DIR && n !== INDEX_HTML && n !== INDEX_JSON && !isKept(n),
  );
  const records = await readdir(join(root, RECORDS_DIR_KEY));
  const extraRecords = records.filter((n) => !isKept(n.replace(/\.json$/, '')));
  // Moved aside, not removed: see emptyTrash.
  const trash = join(dirname(root), TRASH);
  await emptyTrash(dirname(root)); // left by a run that was stopped
  await mkdir(join(trash, RECORDS_DIR_KEY), { recursive: true });
  await forEachWindowed(extraDirs, WARM_CONCURRENCY, WARM_CONCURRENCY, (n) =>
    rename(join(root, n), join(trash, n)),
  );
  await forEachWindowed(extraRecords, WARM_CONCURRENCY, WARM_CONCURRENCY, (n) =>
    rename(join(root, RECORDS_DIR_KEY, n), join(trash, RECORDS_DIR_KEY, n)),
  );
  await writer.writeRootAndState(root, projects);
  await forEachWindowed(Object.keys(projects), WARM_CONCURRENCY, WARM_CONCURRENCY, async (name) => {
    await readFile(join(root, RECORDS_DIR_KEY, `${name}.json`));
    await readdir(join(root, name));
  });
}
