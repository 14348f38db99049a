// The dependency closure (issue #11 part 3) synced in process against the fake upstream: the project set
// per target environment, each source of dependencies, incremental runs, projects leaving the closure
// (under the deletion guards), `!` exclusions and what `check` prints.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { EMPTY_STATE } from '../../src/mirror/state.js';
import { describeClosure } from '../../src/sync/closure.js';
import {
  ALPHA_REQUIRES,
  alphaWheel,
  LINUX_311_CLOSURE,
  seedClosureCatalogue,
  TWO_ENVIRONMENTS_CLOSURE,
} from '../helpers/closure-catalogue.js';
import { startDiscoveryHarness } from '../helpers/discovery-harness.js';
import { buildWheel } from '../helpers/dist-builder.js';
import type { Harness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const LINUX_311: Partial<Config> = { pythonVersions: ['3.11'], platforms: ['manylinux_x86_64'] };

/** Config keys for a closure of these requirements (as a requirements file gives them). */
function closureOf(requirements: readonly string[], over: Partial<Config> = {}): Partial<Config> {
  return {
    requirements: ['/test/requirements.txt'],
    requirementRoots: requirements.map((requirement, i) => ({
      requirement,
      origin: `requirements.txt:${i + 1}`,
    })),
    ...LINUX_311,
    ...over,
  };
}

/** Mirrored projects (those with a page). */
async function mirroredProjects(root: string): Promise<string[]> {
  const pages = (await listTree(root)).filter((f) => /^[^/]+\/index\.html$/.test(f));
  return pages.map((f) => f.split('/')[0] as string).sort();
}

async function mirroredFiles(root: string): Promise<string[]> {
  return (await listTree(root)).filter((f) => /\.(whl|gz)$/.test(f));
}

/** `project version: where from` for every release whose dependencies the run read. */
function metadataReads(h: Harness): string[] {
  const reads = h.log.find('release dependencies read').map((r) => {
    const { project, version, from } = r.fields as Record<string, string>;
    return `${project} ${version}: ${from}`;
  });
  h.log.records.length = 0;
  return reads.sort();
}

test('the closure differs by environment (markers, an extra); dependencies from each metadata source', async (t) => {
  const linux = await startDiscoveryHarness(t);
  seedClosureCatalogue(linux.fake);
  const report = await linux.sync(closureOf(['fakepkg-alpha[fast]']));
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await mirroredProjects(linux.root), LINUX_311_CLOSURE);
  assert.deepEqual(await mirroredFiles(linux.root), [
    'fakepkg-alpha/fakepkg_alpha-1.0-py3-none-any.whl',
    'fakepkg-alpha/fakepkg_alpha-1.1-py3-none-any.whl',
    // 0.9 does not satisfy fakepkg-beta>=1.0: only the versions a requirement on it allows.
    'fakepkg-beta/fakepkg_beta-1.0-py3-none-any.whl',
    'fakepkg-beta/fakepkg_beta-1.1-py3-none-any.whl',
    'fakepkg-delta/fakepkg_delta-1.0.tar.gz',
    'fakepkg-extra/fakepkg_extra-1.0-py3-none-any.whl',
    'fakepkg-gamma/fakepkg_gamma-1.0.tar.gz',
  ]);
  assert.deepEqual(metadataReads(linux), [
    'fakepkg-alpha 1.0: its .metadata file',
    'fakepkg-alpha 1.1: its .metadata file',
    'fakepkg-beta 1.0: the METADATA in its wheel',
    'fakepkg-beta 1.1: the METADATA in its wheel',
    'fakepkg-delta 1.0: the PKG-INFO in its sdist (unknown)',
    'fakepkg-extra 1.0: its .metadata file',
    'fakepkg-gamma 1.0: the PKG-INFO in its sdist',
  ]);
  // Each page and each .metadata is asked for once; the closure itself asks for nothing more.
  const asked = linux.take().filter((r) => r.startsWith('GET '));
  assert.deepEqual(asked, [...new Set(asked)]);
  assert.ok(!asked.some((r) => r.includes('/fakepkg-win/') || r.includes('/fakepkg-old/')));
  const state = await linux.state();
  assert.equal(state.closure?.dependencies['fakepkg-delta']?.['1'], 'unknown');
  assert.deepEqual(state.closure?.dependencies['fakepkg-alpha']?.['1.1'], ALPHA_REQUIRES);

  const both = await startDiscoveryHarness(t);
  seedClosureCatalogue(both.fake);
  const environments = { pythonVersions: ['3.9', '3.11'], platforms: ['manylinux_x86_64', 'win_amd64'] };
  const second = await both.sync(closureOf(['fakepkg-alpha[fast]'], environments));
  assert.deepEqual(second.failures, []);
  assert.deepEqual(await mirroredProjects(both.root), TWO_ENVIRONMENTS_CLOSURE);
  const unknown = both.log.find('dependencies of fakepkg-delta unknown', 'warn');
  assert.equal(unknown.length, 1, 'warned once, naming the project');

  // Without the extra, and for Linux only, the closure is smaller.
  const plain = await startDiscoveryHarness(t);
  seedClosureCatalogue(plain.fake);
  await plain.sync(closureOf(['fakepkg-alpha']));
  assert.deepEqual(
    await mirroredProjects(plain.root),
    LINUX_311_CLOSURE.filter((p) => p !== 'fakepkg-extra'),
  );
});

test('incremental: a no-op run is one request and reads no metadata; a new release reads only its own', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  await h.sync(closureOf(['fakepkg-alpha[fast]']));
  metadataReads(h);
  h.take();

  const noop = await h.sync(closureOf(['fakepkg-alpha[fast]']));
  assert.deepEqual(h.take(), ['POST /pypi 200']);
  assert.equal(noop.requests, 1);
  assert.equal(noop.projectsChanged, 0);
  assert.deepEqual(metadataReads(h), []);

  h.fake.addFile('fakepkg-alpha', alphaWheel('1.2'));
  const release = await h.sync(closureOf(['fakepkg-alpha[fast]']));
  assert.deepEqual(release.failures, []);
  assert.deepEqual(metadataReads(h), ['fakepkg-alpha 1.2: its .metadata file']);
  const wheel = new URL(h.fake.fileUrl('fakepkg-alpha', 'fakepkg_alpha-1.2-py3-none-any.whl')).pathname;
  // The .metadata file comes out of the wheel (no request), and the closure reads it from the tree.
  assert.deepEqual(h.take().sort(), [`GET ${wheel} 200`, 'GET /simple/fakepkg-alpha/ 200', 'POST /pypi 200']);

  // A release with a new dependency pulls its project in: one page, its files, its metadata.
  h.fake.addFile('fakepkg-alpha', alphaWheel('1.3', [...ALPHA_REQUIRES, 'fakepkg-unrelated']));
  await h.sync(closureOf(['fakepkg-alpha[fast]']));
  assert.deepEqual(metadataReads(h), [
    'fakepkg-alpha 1.3: its .metadata file',
    'fakepkg-unrelated 1.0: its .metadata file',
  ]);
  assert.ok((await mirroredProjects(h.root)).includes('fakepkg-unrelated'));
  assert.equal(h.take().filter((r) => r.startsWith('GET /simple/fakepkg-unrelated/')).length, 1);
});

test('a project leaving the closure is removed like a deselected one; a large removal is held', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  const guard = { maxDeletionsPercent: 30 };
  await h.sync(closureOf(['fakepkg-alpha[fast]'], guard));
  assert.deepEqual(await mirroredProjects(h.root), LINUX_311_CLOSURE);

  // The extra is no longer asked for: fakepkg-extra leaves (1 of 5 projects, within 30%).
  const smaller = await h.sync(closureOf(['fakepkg-alpha'], guard));
  assert.equal(smaller.projectsRemoved, 1);
  assert.equal(smaller.deletionsHeld, null);
  assert.deepEqual(
    await mirroredProjects(h.root),
    LINUX_311_CLOSURE.filter((p) => p !== 'fakepkg-extra'),
  );
  await assert.rejects(access(join(h.root, 'fakepkg-extra')), { code: 'ENOENT' });

  // Only fakepkg-gamma is wanted now: alpha and beta would leave (2 of 4), beyond max_deletions.
  const held = await h.sync(closureOf(['fakepkg-gamma'], guard));
  assert.equal(held.projectsRemoved, 0);
  assert.match(held.deletionsHeld?.message ?? '', /remove 2 of 4 selected projects/);
  assert.equal((await mirroredProjects(h.root)).length, 4);

  const released = await h.sync(closureOf(['fakepkg-gamma'], guard), { run: { allowDeletions: true } });
  assert.equal(released.projectsRemoved, 2);
  assert.deepEqual(await mirroredProjects(h.root), ['fakepkg-delta', 'fakepkg-gamma']);
  assert.deepEqual(Object.keys((await h.state()).closure?.planned ?? {}), ['fakepkg-delta', 'fakepkg-gamma']);
});

test('a "!" exclusion keeps a project out of the closure, and check says why each project is there', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  const keys = closureOf(['fakepkg-alpha[fast]'], { packageMatches: ['!fakepkg-beta'] });
  const report = await h.sync(keys);
  assert.deepEqual(report.failures, []);
  // beta is excluded, so nothing only beta needs (gamma, delta) is followed either.
  assert.deepEqual(await mirroredProjects(h.root), ['fakepkg-alpha', 'fakepkg-extra']);

  const lines = await describeClosure(
    h.config(keys),
    createLocalStorage(h.config(keys).mirrorRoot),
    await h.state(),
  );
  assert.deepEqual(lines, [
    '# dependency closure of requirements: 3 projects',
    '#   fakepkg-alpha: requirements.txt:1 requires fakepkg-alpha[fast]',
    '#   fakepkg-beta: fakepkg-alpha 1.1 requires fakepkg-beta>=1.0 (and 1 more);' +
      ' excluded by a "!" entry of package_matches: not mirrored',
    '#   fakepkg-extra: fakepkg-alpha 1.1 requires fakepkg-extra; extra == "fast"' + ' (and 1 more)',
  ]);

  // Before any sync, check names the roots and says their pages are still to be read.
  const fresh = await startDiscoveryHarness(t);
  assert.deepEqual(
    await describeClosure(
      fresh.config(closureOf(['fakepkg-alpha'])),
      createLocalStorage(fresh.config(closureOf(['fakepkg-alpha'])).mirrorRoot),
      null,
    ),
    [
      '# dependency closure of requirements: 1 projects',
      '#   fakepkg-alpha: requirements.txt:1 requires fakepkg-alpha; its page is read by the next sync',
    ],
  );
});

test('while a page the closure needs cannot be read, no project leaves it; once read, they go', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  const keys = closureOf(['fakepkg-alpha'], { keepLatest: 1, maxDeletionsPercent: 100 });
  await h.sync(keys);
  const before = ['fakepkg-alpha', 'fakepkg-beta', 'fakepkg-delta', 'fakepkg-gamma'];
  assert.deepEqual(await mirroredProjects(h.root), before);

  // alpha 1.2 needs fakepkg-new instead of beta; fakepkg-new's page fails this run.
  h.fake.addProject('fakepkg-new', [buildWheel({ name: 'fakepkg-new', version: '1.0' })]);
  h.fake.addFile('fakepkg-alpha', alphaWheel('1.2', ['fakepkg-new']));
  h.fake.fail('/simple/fakepkg-new/', { status: 503 });
  const degraded = await h.sync(keys);
  assert.equal(degraded.projectsRemoved, 0);
  assert.deepEqual(await mirroredProjects(h.root), before);
  assert.equal(h.log.find('the dependency closure is incomplete this run').length, 1);

  h.fake.clearFaults();
  const settled = await h.sync(keys);
  assert.deepEqual(settled.failures, []);
  assert.equal(settled.projectsRemoved, 3);
  assert.deepEqual(await mirroredProjects(h.root), ['fakepkg-alpha', 'fakepkg-new']);
});

test('a dependency whose name cannot be stored is skipped with a warning, the rest of the closure synced', async (t) => {
  const h = await startDiscoveryHarness(t);
  const long = `fakepkg-${'x'.repeat(250)}`;
  h.fake.addProject('fakepkg-alpha', [alphaWheel('1.0', ['fakepkg-extra', long])]);
  h.fake.addProject('fakepkg-extra', [buildWheel({ name: 'fakepkg-extra', version: '1.0' })]);
  const report = await h.sync(closureOf(['fakepkg-alpha']));
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await mirroredProjects(h.root), ['fakepkg-alpha', 'fakepkg-extra']);
  assert.equal(h.log.find('project skipped: its name cannot be stored', 'warn').length, 1);
  assert.ok(!h.take().some((r) => r.includes('xxxxxxxx')), 'never asked for');
});

test('a release whose sdist did not state its dependencies is read again once a wheel of it is mirrored', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  await h.sync(closureOf(['fakepkg-alpha']));
  assert.equal((await h.state()).closure?.dependencies['fakepkg-delta']?.['1'], 'unknown');
  metadataReads(h);

  // The wheel of delta 1.0 comes after its sdist, as uploads often do, and states a dependency.
  h.fake.addFile(
    'fakepkg-delta',
    buildWheel({ name: 'fakepkg-delta', version: '1.0', requiresDist: ['fakepkg-unrelated'] }),
  );
  await h.sync(closureOf(['fakepkg-alpha']));
  assert.deepEqual(metadataReads(h), [
    'fakepkg-delta 1.0: its .metadata file',
    'fakepkg-unrelated 1.0: its .metadata file',
  ]);
  assert.ok((await mirroredProjects(h.root)).includes('fakepkg-unrelated'));
  assert.deepEqual((await h.state()).closure?.dependencies['fakepkg-delta']?.['1'], ['fakepkg-unrelated']);
});

test('sync --dry-run with a closure plans the first level, fetches no file and writes nothing', async (t) => {
  const h = await startDiscoveryHarness(t);
  seedClosureCatalogue(h.fake);
  const report = await h.sync(closureOf(['fakepkg-alpha[fast]']), { run: { dryRun: true } });
  assert.deepEqual(report.failures, []);
  assert.equal(report.filesFetched, 0);
  assert.deepEqual(await mirroredProjects(h.root), []);
  assert.deepEqual(await h.state(), EMPTY_STATE);
});
