// The dependency closure through the built CLI, as a new user would try it: a requirements file and a
// config derived from the sample; `check` prints the closure with why each project is there, `sync`
// mirrors exactly it, and pip installs the requirement from the mirror (file://) with no other index.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LINUX_311_CLOSURE, seedClosureCatalogue } from '../helpers/closure-catalogue.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { runCli } from '../helpers/run-cli.js';
import { writeMirrorConfig } from '../helpers/sample-config.js';
import { listTree, makeTempDir } from '../helpers/tree.js';

test('check prints the closure of a requirements file, sync mirrors it, pip installs from it alone', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  seedClosureCatalogue(fake);
  const dir = await makeTempDir(t);
  await writeFile(join(dir, 'requirements.txt'), '# the application\nfakepkg-alpha[fast]>=1.0\n');
  const { root, config } = await writeMirrorConfig(dir, fake.url, {
    package_matches: null,
    requirements: 'requirements.txt',
    python_versions: '3.11',
    platforms: 'manylinux_x86_64',
  });

  const before = await runCli(['check', config]);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, new RegExp(`^requirements =\\n {4}${join(dir, 'requirements.txt')}$`, 'm'));
  assert.match(
    before.stdout,
    /^# {3}no project by name \(package_matches has none\): the dependency closure only$/m,
  );
  assert.match(
    before.stdout,
    /^# {3}fakepkg-alpha: requirements\.txt:2 requires fakepkg-alpha\[fast\]>=1\.0; its page is read by the next sync$/m,
  );

  const sync = await runCli(['sync', config]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  const pages = (await listTree(root)).filter((f) => /^[^/]+\/index\.html$/.test(f));
  assert.deepEqual(pages.map((f) => f.split('/')[0]).sort(), LINUX_311_CLOSURE);

  const after = await runCli(['check', config]);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /^# dependency closure of requirements: 5 projects$/m);
  assert.match(
    after.stdout,
    /^# {3}fakepkg-beta: fakepkg-alpha 1\.1 requires fakepkg-beta>=1\.0 \(and 1 more\)$/m,
  );
  assert.match(after.stdout, /^# {3}fakepkg-delta: fakepkg-gamma 1\.0 requires fakepkg-delta$/m);

  if (!requirePip(t)) return;
  const target = join(dir, 'target');
  const result = await pipInstall({ indexUrl: `file://${root}/`, target, packages: ['fakepkg-alpha[fast]'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), {
    'fakepkg-alpha': '1.1',
    'fakepkg-beta': '1.1',
    'fakepkg-delta': '1.0',
    'fakepkg-extra': '1.0',
    'fakepkg-gamma': '1.0',
  });
});
