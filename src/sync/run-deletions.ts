// The end of a run's project phase (run.ts): the deletion guards (guards.ts) judge, over the whole
// selection, what the run would remove (projects gone, deselected or quarantined upstream, files their pages
// no longer link); then either the removals go (each page re-planned with deletions allowed, through the
// publisher) or they are held and the projects concerned are re-planned next run.
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { readRecord, type MirrorState, writeRecord } from '../mirror/state.js';
import type { Storage } from '../storage/types.js';
import type { ProjectPage } from '../model/upstream.js';
import type { Candidate } from './discover.js';
import type { DeletionCounts, DeletionHold, RemovalEntry } from '../model/holds.js';
import { formatHold, formatSuspectHold, judgeDeletions, pruneHistory } from './guards.js';
import { applyPage, pageFromRecord } from './project.js';
import type { ProjectContext } from './project-context.js';
import type { RunTally } from './run-tally.js';

export interface DeletionInput {
  readonly cfg: Config;
  readonly storage: Storage;
  readonly log: Logger;
  readonly print: (line: string) => void;
  readonly tally: RunTally;
  readonly state: MirrorState;
  readonly started: Date;
  readonly isDryRun: boolean;
  /** `sync --allow-deletions` */
  readonly isReleased: boolean;
  readonly isAborted: boolean;
  /** What discovery says about deletions this run (an unsound listing, every literal page 404). */
  readonly discoveryHold: string | null;
  /** The context a project is synced in. */
  contextOf(name: string): ProjectContext;
}

export interface DeletionOutcome {
  /** Projects removed from the mirror: their directories go after the root page. */
  readonly removed: readonly string[];
  /** The run's held deletions, for the state and status.json, or null. */
  readonly hold: DeletionHold | null;
  /** Removals within max_deletions_window, with this run's. */
  readonly history: readonly RemovalEntry[];
  /** Why the guards held the removals, or null. */
  readonly cause: string | null;
  /** What the run would remove, in all (for `sync --dry-run`). */
  readonly removing: DeletionCounts;
}

/** The counts the guards judge: what is mirrored, what would go in all, and what they weigh (GuardInput). */
async function countDeletions(
  input: DeletionInput,
  isDue: boolean,
): Promise<{ before: DeletionCounts; removing: DeletionCounts; judged: DeletionCounts }> {
  const { tally, storage } = input;
  const counted = new Map<string, number>();
  /** Files a mirrored project had before the run (state.json, else its record: then remembered in state). */
  const filesOf = async (name: string): Promise<number> => {
    const known = tally.mirrored.get(name)?.files ?? counted.get(name);
    if (known !== undefined) return known;
    const count = (await readRecord(storage, name).catch(() => null))?.files.length ?? 0;
    counted.set(name, count);
    const entry = tally.projects.get(name);
    if (entry !== undefined && entry.files === undefined)
      tally.projects.set(name, { ...entry, files: count });
    return count;
  };
  const before = { projects: 0, files: 0 };
  const removing = { projects: 0, files: 0 };
  const judged = { projects: 0, files: 0 };
  if (isDue || (tally.suspects.length > 0 && !input.isAborted)) {
    for (const [name, p] of tally.mirrored) {
      if (p.isEmpty === true) continue;
      before.projects++;
      before.files += await filesOf(name);
    }
  }
  if (!isDue) return { before, removing, judged };
  for (const name of [...tally.removals, ...tally.quarantined.keys()]) {
    if (tally.hasPage(name)) removing.projects++;
    removing.files += await filesOf(name);
  }
  judged.projects = removing.projects;
  for (const [name, u] of tally.unlinked) {
    removing.files += u.files.length;
    if (!u.isWhole) judged.files += u.files.length;
    else if (tally.hasPage(name)) {
      judged.projects++;
      removing.projects++;
    }
  }
  return { before, removing, judged };
}

/** The guards allowed it: quarantined projects lose their page and files; the others, what their page no longer links. */
async function applyRemovals(input: DeletionInput): Promise<void> {
  const { tally, storage, log } = input;
  const replans: [Candidate, ProjectPage | null][] = [
    ...[...tally.quarantined.values()].map(({ c, page }): [Candidate, ProjectPage] => [c, page]),
    ...[...tally.unlinked.values()].map(({ c }): [Candidate, null] => [c, null]),
  ];
  for (const [c, page] of replans) {
    const record = await readRecord(storage, c.name);
    if (record === null) continue;
    const allowed = { ...input.contextOf(c.name), isDeletionAllowed: true, isReplan: true };
    const outcome = await applyPage(
      allowed,
      page ?? pageFromRecord(record, null),
      c.displayName,
      record,
    ).catch((err: unknown) => ({
      kind: 'failed' as const,
      reason: err instanceof Error ? err.message : String(err),
    }));
    if (outcome.kind === 'synced' || outcome.kind === 'empty') tally.keepProject(outcome.record, c);
    if (outcome.kind === 'synced') tally.filesRemoved += outcome.filesRemoved;
    else if (outcome.kind === 'empty') {
      tally.emptied.set(c.name, record);
      tally.projectsChanged++;
    } else if (outcome.kind === 'failed') {
      tally.failures.push({ project: c.name, reason: outcome.reason });
      log.error('project failed; its previous page stays', { project: c.name, error: outcome.reason });
    }
  }
}

/** Judges the run's removals and carries out the verdict (see the module comment). */
export async function settleDeletions(input: DeletionInput): Promise<DeletionOutcome> {
  const { cfg, tally, storage, log, isDryRun, isReleased, started } = input;
  const removed: string[] = [];
  const isDue = !input.isAborted && tally.removals.size + tally.quarantined.size + tally.unlinked.size > 0;
  const { before, removing, judged } = await countDeletions(input, isDue);
  let history: readonly RemovalEntry[] = isReleased
    ? []
    : pruneHistory(input.state.removals ?? [], started, cfg.maxDeletionsWindowMs);
  const cause =
    isDue && cfg.cleanup && !isReleased
      ? judgeDeletions({
          maxPercent: cfg.maxDeletionsPercent,
          windowMs: cfg.maxDeletionsWindowMs,
          now: started,
          mirrored: before,
          removing: judged,
          gone: tally.gone.filter((name) => tally.hasPage(name)).length,
          quarantined: tally.quarantined.size,
          history,
          discoveryHold: input.discoveryHold,
        })
      : null;
  /** A held project's page is fetched in full and re-planned next run, whatever its ETag and serial say. */
  const replanNextRun = async (name: string): Promise<void> => {
    tally.forgetSerial(name);
    if (isDryRun) return;
    const record = await readRecord(storage, name);
    if (record !== null)
      await writeRecord(storage, { ...record, etag: null, lastModified: null, serial: null });
  };
  /** The run's hold warnings (one per kind of hold), for status.json too. */
  const messages: string[] = [];
  const warnHold = (message: string, fields: Record<string, unknown>): void => {
    messages.push(message);
    log.warn(message, fields);
  };
  const heldCounts = { projects: 0, files: 0 };
  if (isDryRun && isDue && cfg.cleanup) await printRemovals(input);
  if (isDue && !cfg.cleanup) {
    log.info('cleanup is off; projects no longer selected or upstream are kept', {
      projects: [...tally.removals, ...tally.quarantined.keys()],
    });
  } else if (cause !== null) {
    warnHold(formatHold(cause, removing, before), { ...removing });
    Object.assign(heldCounts, removing);
    for (const name of [...tally.quarantined.keys(), ...tally.unlinked.keys()]) await replanNextRun(name);
  } else if (isDue && !isDryRun) {
    for (const name of tally.removals) {
      tally.projects.delete(name);
      removed.push(name);
    }
    if (!isReleased && judged.projects + judged.files > 0)
      history = [...history, { at: started.toISOString(), ...judged }];
    await applyRemovals(input);
  }
  if (tally.suspects.length > 0 && !input.isAborted) {
    warnHold(formatSuspectHold(tally.suspects), { projects: tally.suspects.length });
    for (const suspect of tally.suspects) {
      heldCounts.files += suspect.dropped;
      await replanNextRun(suspect.project);
    }
  }
  const hold: DeletionHold | null =
    messages.length === 0
      ? null
      : {
          message: messages.join(' / '),
          since: input.state.deletionsHeld?.since ?? started.toISOString(),
          ...heldCounts,
          selectedProjects: before.projects,
          mirroredFiles: before.files,
        };
  return { removed, hold, history, cause, removing };
}

/** `sync --dry-run`: one line per project that would lose files, then one per file (from its record). */
async function printRemovals({ print, storage, tally }: DeletionInput): Promise<void> {
  for (const name of [...tally.removals, ...tally.quarantined.keys()].sort()) {
    const files = (await readRecord(storage, name).catch(() => null))?.files ?? [];
    const why = tally.quarantined.has(name) ? 'quarantined upstream: ' : '';
    print(`${name}: ${why}project to remove (${files.length} files)`);
    for (const f of files) print(`  - ${f.filename}`);
  }
  for (const [name, u] of [...tally.unlinked].sort(([a], [b]) => (a < b ? -1 : 1))) {
    print(
      u.isWhole
        ? `${name}: project to remove (${u.files.length} files)`
        : `${name}: ${u.files.length} files to remove`,
    );
    for (const f of u.files) print(`  - ${f}`);
  }
}
