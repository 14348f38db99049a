// Change discovery from PyPI's XML-RPC journal (docs/protocol.md §3): changelog_since_serial(lastSerial), paged past
// the 50 000-row cap, folded into one change per selected project. One call when nothing changed.
import { isValidProjectName, normalizeName } from '../model/names.js';
import {
  CHANGELOG_MAX_PAGES,
  type Candidate,
  type Discovery,
  errorText,
  withoutListing,
  type Run,
} from './discover-shared.js';
import type { MirroredProject } from '../mirror/state.js';
import { projectNames } from './state-projects.js';

/** Changes since `since`, or null when the changelog cannot say (unsupported, failed, too long, mass removal). */
export async function discoverChangelog(run: Run, since: number): Promise<Discovery | null> {
  const { upstream, log, state, filters, signal } = run.input;
  let result;
  try {
    result = await upstream.fetchChangelogSince(since, signal, { maxPages: CHANGELOG_MAX_PAGES });
  } catch (err) {
    signal.throwIfAborted();
    run.requests++;
    log.warn('upstream changelog failed; falling back', { since, error: errorText(err) });
    return null;
  }
  run.requests += result.requests ?? 1;
  if (!result.supported) {
    run.changelogUnsupportedAt = run.now.toISOString();
    log.info('upstream has no XML-RPC changelog; falling back (asked again in a day)');
    return null;
  }
  if (result.isTruncated === true) {
    log.info('upstream changelog is too long to page through; falling back', { since });
    return null;
  }
  run.changelogUnsupportedAt = null;
  // Fold the rows (ordered by serial) into the last event per selected project.
  let lastSerial = since;
  const changes = new Map<string, { displayName: string; serial: number; isRemoved: boolean }>();
  for (const row of result.rows) {
    if (row.serial > lastSerial) lastSerial = row.serial;
    if (!isValidProjectName(row.name)) continue;
    const name = normalizeName(row.name);
    if (!filters.matchNormalizedProject(name) || !run.isStorable(name)) continue;
    changes.set(name, {
      displayName: row.name,
      serial: row.serial,
      isRemoved: row.action === 'remove project',
    });
  }
  // One pass over the mirrored projects: the selection, what leaves it, and the serials not known.
  const mirrored = state.projects;
  const selected = new Map<string, Candidate>();
  const toRemove: string[] = [];
  const unknownSerial: Candidate[] = [];
  let removed = 0;
  const names = projectNames(mirrored);
  const mirroredCount = names.length;
  for (const name of names) {
    if (!filters.matchNormalizedProject(name)) {
      toRemove.push(name);
      continue;
    }
    // The journal is authoritative: no page to fetch. Deletion goes through the normal cleanup path.
    if (changes.get(name)?.isRemoved === true) {
      toRemove.push(name);
      removed++;
      continue;
    }
    const p = mirrored[name] as MirroredProject;
    const candidate = { name, displayName: p.displayName, serial: p.serial };
    selected.set(name, candidate);
    if (p.serial === null) unknownSerial.push(candidate);
  }
  const toSync = new Map<string, Candidate>();
  for (const [name, change] of changes) {
    const known = mirrored[name];
    if (change.isRemoved) continue;
    if (known !== undefined && known.serial !== null && known.serial >= change.serial) continue;
    const candidate = { name, displayName: known?.displayName ?? change.displayName, serial: change.serial };
    selected.set(name, candidate);
    toSync.set(name, candidate);
  }
  if (removed >= 2 && removed > mirroredCount / 2) {
    log.warn('upstream changelog removes most mirrored projects; checking before deleting', {
      removed,
      mirrored: mirroredCount,
    });
    return null;
  }
  // Last run's failures and stale pages (at the serial wanted then), and projects whose serial was forgotten.
  for (const [name, p] of Object.entries(run.previous.pending)) {
    if (toSync.has(name) || changes.get(name)?.isRemoved === true || !filters.matchNormalizedProject(name)) {
      continue;
    }
    const candidate = { name, displayName: p.displayName, serial: p.serial };
    selected.set(name, candidate);
    toSync.set(name, candidate);
  }
  for (const c of unknownSerial) if (selected.get(c.name) === c && !toSync.has(c.name)) toSync.set(c.name, c);
  return withoutListing(run, 'changelog', selected, [...toSync.values()], lastSerial, toRemove);
}
