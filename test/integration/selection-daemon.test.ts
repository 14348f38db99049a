// The daemon treats the selection keys of issue #11 as scope keys: an edit that changes one starts a sync
// at once (sync_interval is an hour here), which re-scopes the mirror from its stored pages.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { renderConfig } from '../helpers/daemon-config.js';
import { startDaemonHarness } from '../helpers/daemon-harness.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const distributions = async (root: string): Promise<string[]> =>
  (await listTree(root)).filter((f) => /\.(whl|tar\.gz|zip)$/.test(f));

test('a reload that sets package_types starts a sync that keeps only those types, fetching no page twice', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  seedCatalogue(fake);
  const values = { package_matches: 'foo_bar zope.interface', sync_interval: '1h', max_deletions: '100' };
  const h = await startDaemonHarness(t, fake, values, { isWatching: false });
  await h.waitForRuns(1);
  assert.equal((await distributions(h.root)).length, 5);

  fake.resetLog();
  await writeFile(h.configPath, renderConfig(h.values({ ...values, package_types: 'sdist' })));
  h.daemon.reload('SIGHUP');
  await h.waitForRuns(2, 10_000);
  assert.deepEqual(await distributions(h.root), [
    'foo-bar/foo_bar-1.0.tar.gz',
    'zope-interface/zope_interface-4.0.zip',
    'zope-interface/zope_interface-5.0.tar.gz',
  ]);
  assert.equal(h.log.find('config change accepted')[0]?.fields['changed'], 'package_types');
  const paths = fake.requests.map((r) => r.path);
  assert.deepEqual(
    paths.filter((p, i) => paths.indexOf(p) !== i),
    [],
    'no page or file fetched twice',
  );
  assert.equal(paths.filter((p) => /\.(whl|tar\.gz|zip)$/.test(p)).length, 0, 'nothing to download');
});
