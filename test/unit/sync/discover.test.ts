// Change discovery (src/sync/discover*.ts) without a server: an upstream held in memory answers the listing,
// the changelog and the last serial as a table says, and counts what it was asked. Each mode decides which
// projects to fetch and which to remove from the state alone: the first listing, a changelog that names
// two projects, a listing unchanged since its ETag, a listing that fails, and literal names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { EMPTY_STATE, type MirroredProject, type MirrorState } from '../../../src/mirror/state.js';
import type {
  ChangelogRow,
  ConditionalHeaders,
  ListedProject,
  Upstream,
} from '../../../src/model/upstream.js';
import { compileFilters } from '../../../src/plan/filters.js';
import { discover, type Discovery } from '../../../src/sync/discover.js';
import { makeConfig } from '../../helpers/config.js';

/** What the in-memory upstream answers. */
interface Table {
  readonly listing?: readonly ListedProject[] | 'fails' | 'unchanged';
  /** Changelog rows since any serial; absent: the upstream has no XML-RPC. */
  readonly changelog?: readonly ChangelogRow[];
  readonly lastSerial?: number;
}

/** An Upstream over `table`; `asked` lists the calls made, by method name. */
function memoryUpstream(table: Table): { upstream: Upstream; asked: string[] } {
  const asked: string[] = [];
  const unused = (what: string) => (): never => {
    throw new Error(`discovery does not ${what}`);
  };
  const upstream: Upstream = {
    fetchListing: unused('fetch the whole listing'),
    fetchProject: unused('fetch pages'),
    fetchFile: unused('fetch files'),
    fetchUploadTimes: unused('fetch upload times'),
    async streamListing(visitor, conditional: ConditionalHeaders | null) {
      asked.push(conditional === null ? 'listing' : 'listing (conditional)');
      const { listing = [] } = table;
      if (listing === 'fails') throw new Error('HTTP 503');
      if (listing === 'unchanged') return { notModified: true, serial: 900 };
      visitor.restart();
      for (const p of listing) visitor.project(p);
      return { count: listing.length, serial: 900, format: 'json', etag: '"e1"', lastModified: null };
    },
    async fetchChangelogSince(since) {
      asked.push(`changelog since ${since}`);
      if (table.changelog === undefined) return { rows: [], supported: false };
      return { rows: table.changelog.filter((r) => r.serial > since), supported: true, requests: 1 };
    },
    async fetchLastSerial() {
      asked.push('last serial');
      return table.lastSerial ?? null;
    },
  };
  return { upstream, asked };
}

const mirrored = (serial: number | null): MirroredProject => ({ displayName: 'x', serial, files: 1 });

/** Discovery over `state` with `package_matches` = `matches`. */
async function discoverWith(
  table: Table,
  state: MirrorState,
  matches: readonly string[],
): Promise<{ found: Discovery; asked: string[] }> {
  const { upstream, asked } = memoryUpstream(table);
  const cfg = makeConfig({
    mirrorRoot: '/m',
    indexUrl: 'https://pypi.example/simple/',
    packageMatches: matches,
  });
  const found = await discover({
    upstream,
    log: silentLogger,
    cfg,
    state,
    filters: compileFilters(cfg.packageMatches, cfg.filenameMatches),
    isRescoped: false,
    signal: new AbortController().signal,
    now: new Date('2026-12-01T00:00:00Z'),
  });
  return { found, asked };
}

const names = (found: Discovery): string[] => found.toSync.map((c) => c.name).sort();

test('first run: the listing selects by package_matches, and every selected project is fetched', async () => {
  const listing = [
    { name: 'Demo_Lib', serial: 10 },
    { name: 'demo-cli', serial: 11 },
    { name: 'other', serial: 12 },
  ];
  const { found, asked } = await discoverWith({ listing }, EMPTY_STATE, ['demo-*']);
  assert.deepEqual(asked, ['listing']);
  assert.equal(found.mode, 'listing-serial');
  assert.deepEqual(names(found), ['demo-cli', 'demo-lib']);
  assert.equal(found.toSync.find((c) => c.name === 'demo-lib')?.displayName, 'Demo_Lib');
  assert.deepEqual(found.toRemove, []);
  assert.equal(found.lastSerial, 900);
  assert.equal(found.deletionsHeld, null);
});

test('a listing with serials: only projects whose serial moved are fetched; one gone from it is removed', async () => {
  const state: MirrorState = {
    ...EMPTY_STATE,
    projects: { 'demo-lib': mirrored(10), 'demo-cli': mirrored(11), 'demo-old': mirrored(5) },
  };
  const listing = [
    { name: 'demo-lib', serial: 10 },
    { name: 'demo-cli', serial: 20 },
  ];
  const { found } = await discoverWith({ listing }, state, ['demo-*']);
  assert.deepEqual(names(found), ['demo-cli']);
  assert.deepEqual(found.toRemove, ['demo-old']);
});

test('with a stored serial, the changelog alone says what changed: one request, no listing', async () => {
  const state: MirrorState = {
    ...EMPTY_STATE,
    lastSerial: 100,
    projects: { 'demo-lib': mirrored(90), 'demo-cli': mirrored(95) },
  };
  const changelog = [
    { name: 'demo-lib', version: '2.0', timestamp: 1, action: 'new release', serial: 101 },
    { name: 'elsewhere', version: '1.0', timestamp: 1, action: 'new release', serial: 102 },
    { name: 'demo-new', version: '0.1', timestamp: 1, action: 'create', serial: 103 },
  ];
  const { found, asked } = await discoverWith({ changelog, listing: 'fails' }, state, ['demo-*']);
  assert.deepEqual(asked, ['changelog since 100']);
  assert.equal(found.mode, 'changelog');
  assert.deepEqual(names(found), ['demo-lib', 'demo-new']);
  assert.equal(found.lastSerial, 103);
  assert.deepEqual(found.toRemove, []);
});

test('a listing unchanged since its ETag: only pages without a serial are fetched, nothing is removed', async () => {
  const state: MirrorState = {
    ...EMPTY_STATE,
    projects: { 'demo-lib': mirrored(null), 'demo-cli': mirrored(null) },
    discovery: {
      mode: 'conditional',
      changelogUnsupportedAt: '2026-12-01T00:00:00Z',
      listingEtag: '"e1"',
      listingLastModified: null,
      pending: {},
      isListingDue: false,
    },
  };
  const { found, asked } = await discoverWith({ listing: 'unchanged' }, state, ['demo-*']);
  assert.deepEqual(asked, ['listing (conditional)']);
  assert.equal(found.mode, 'conditional');
  assert.deepEqual(names(found), ['demo-cli', 'demo-lib'], 'a plain index: every page, conditionally');
  assert.deepEqual(found.toRemove, []);
});

test('a listing that fails: what is mirrored is refreshed, nothing is added, and deletions are held', async () => {
  const state: MirrorState = { ...EMPTY_STATE, projects: { 'demo-lib': mirrored(10) } };
  const { found } = await discoverWith({ listing: 'fails' }, state, ['demo-*']);
  assert.equal(found.mode, 'mirrored-only');
  assert.equal(found.isListingFailed, true);
  assert.deepEqual(names(found), ['demo-lib']);
  assert.ok(found.deletionsHeld !== null, 'no deletion on a failed listing');
});

test('literal names: no listing; the last serial is noted so that the changelog answers next time', async () => {
  const { found, asked } = await discoverWith({ lastSerial: 4242, listing: 'fails' }, EMPTY_STATE, [
    'Demo_Lib',
    'demo-cli',
  ]);
  assert.deepEqual(asked, ['last serial']);
  assert.equal(found.mode, 'literal');
  assert.deepEqual(names(found), ['demo-cli', 'demo-lib']);
  assert.equal(found.toSync.find((c) => c.name === 'demo-lib')?.displayName, 'Demo_Lib');
  assert.equal(found.lastSerial, 4242);
});
