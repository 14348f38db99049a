// Change discovery when every package_matches entry is a literal name: never a root listing. Each page is
// fetched with its ETag / Last-Modified (the changelog takes over from the next run on an upstream with one).
import { packagePattern } from '../plan/filters.js';
import { normalizeName } from '../model/names.js';
import type { ListedProject } from '../model/upstream.js';
import {
  type Candidate,
  type DiscoverInput,
  type Discovery,
  errorText,
  isChangelogWorthAsking,
  withoutListing,
  type Run,
} from './discover-shared.js';

export async function discoverLiteral(run: Run, literals: readonly string[]): Promise<Discovery> {
  const literal = literals.filter(run.isStorable);
  const { cfg, state, upstream, log, signal } = run.input;
  // On an upstream with serials, note the global serial before the pages are read: from the next run on,
  // the changelog since then answers for all of them in one call.
  let lastSerial: number | null = null;
  const mirrored = Object.values(state.projects);
  const hasSerials = mirrored.length === 0 || mirrored.some((p) => p.serial !== null);
  if (hasSerials && isChangelogWorthAsking(run)) {
    try {
      run.requests++;
      lastSerial = await upstream.fetchLastSerial(signal);
      if (lastSerial === null) run.changelogUnsupportedAt = run.now.toISOString();
    } catch (err) {
      signal.throwIfAborted();
      log.warn('upstream changelog serial failed', { error: errorText(err) });
    }
  }
  // Display names as the admin wrote them, unless the project is mirrored already.
  const spelled = new Map<string, string>();
  for (const raw of cfg.packageMatches.map(packagePattern))
    if (!raw.startsWith('!')) spelled.set(normalizeName(raw), raw);
  const selected = new Map<string, Candidate>();
  for (const name of literal) {
    const displayName = state.projects[name]?.displayName ?? spelled.get(name) ?? name;
    selected.set(name, { name, displayName, serial: run.previous.pending[name]?.serial ?? null });
  }
  const literalSet = new Set(literal);
  return {
    ...withoutListing(run, 'literal', selected, [...selected.values()], lastSerial),
    toRemove: Object.keys(state.projects).filter((name) => !literalSet.has(name)),
    checkGone: (gone, goneSignal) => checkLiteralGone(run.input, literal, gone, goneSignal),
  };
}

/** Every literal project answered 404: believe it only if the upstream listing is healthy and lacks them. */
async function checkLiteralGone(
  input: DiscoverInput,
  literal: readonly string[],
  gone: readonly string[],
  signal: AbortSignal,
): Promise<{ held: string | null; requests: number }> {
  if (literal.length === 0 || gone.length < literal.length) return { held: null, requests: 0 };
  const goneSet = new Set(gone);
  let listed = 0;
  let stillListed = 0;
  const visitor = {
    project(p: ListedProject): void {
      listed++;
      if (goneSet.has(normalizeName(p.name))) stillListed++;
    },
    restart(): void {
      listed = 0;
      stillListed = 0;
    },
  };
  const what = 'every project in package_matches answered 404';
  try {
    await input.upstream.streamListing(visitor, null, signal);
  } catch (err) {
    signal.throwIfAborted();
    input.log.warn('upstream listing failed', { error: errorText(err) });
    return { held: `${what} and the upstream listing could not be fetched`, requests: 1 };
  }
  if (listed === 0) return { held: `${what} and the upstream listing is empty`, requests: 1 };
  if (stillListed > 0) return { held: `${what} but the upstream listing still lists them`, requests: 1 };
  return { held: null, requests: 1 };
}
