// The daemon watches the requirements files as part of its config: saving one starts a sync at once
// (sync_interval is an hour here) that mirrors the new closure.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { seedClosureCatalogue } from '../helpers/closure-catalogue.js';
import { saveByRename } from '../helpers/daemon-config.js';
import { startDaemonHarness } from '../helpers/daemon-harness.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { listTree, makeTempDir } from '../helpers/tree.js';

const projects = async (root: string): Promise<string[]> =>
  (await listTree(root)).filter((f) => /^[^/]+\/index\.html$/.test(f)).map((f) => f.split('/')[0] as string);

test('editing a requirements file (or a file it includes) reloads the config and syncs the new closure', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  seedClosureCatalogue(fake);
  const reqDir = await makeTempDir(t);
  const requirements = join(reqDir, 'requirements.txt');
  const included = join(reqDir, 'more.txt');
  await writeFile(requirements, 'fakepkg-extra\n');
  const values = { requirements, sync_interval: '1h', python_versions: '3.11' };
  const h = await startDaemonHarness(t, fake, values);
  await h.waitForRuns(1);
  assert.deepEqual(await projects(h.root), ['fakepkg-extra']);

  await writeFile(included, 'fakepkg-win\n');
  await saveByRename(requirements, 'fakepkg-extra\n-r more.txt\n');
  await h.waitForRuns(2, 10_000);
  assert.deepEqual((await projects(h.root)).sort(), ['fakepkg-extra', 'fakepkg-win']);
  assert.match(String(h.log.find('config change accepted')[0]?.fields['changed']), /requirement_roots/);

  // The included file is watched too.
  await saveByRename(included, 'fakepkg-win\nfakepkg-old\n');
  await h.waitForRuns(3, 10_000);
  assert.deepEqual((await projects(h.root)).sort(), ['fakepkg-extra', 'fakepkg-old', 'fakepkg-win']);
});
