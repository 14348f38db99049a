// The whole product as a user meets it: the built CLI syncs from an upstream index into a tree, and real
// pip installs a package with its dependencies from that tree via file://, nginx and Apache.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startStandardUpstream } from '../helpers/standard-catalogue.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { repoRoot } from '../helpers/repo-root.js';
import { runCli } from '../helpers/run-cli.js';
import { startSampleMirror } from '../helpers/sample-config.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { requireTool, startApache, startNginx } from '../helpers/web-servers.js';

test('sync with the sample config, then pip installs demo-app and its dependencies from file://, nginx and Apache', async (t) => {
  if (!requirePip(t)) return;
  const { fake, catalogue, dir, root, config } = await startSampleMirror(t, {
    package_matches: 'demo-* foo_bar zope.*',
    log_filename: 'pypimirror.log', // relative: beside the config, in dir
  });
  const sync = await runCli(['sync', config]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  assert.match(
    sync.stdout,
    /sync finished: 4 projects checked, 4 changed, \d+ files .* fetched, 0 files and 0 projects removed, 0 failed in /,
  );
  assert.match(
    await readFile(join(dir, 'pypimirror.log'), 'utf8'),
    /^\d{4}-\d\d-\d\dT[\d:.]+Z info: sync finished: /m,
  );
  assert.ok((await listTree(root)).includes('foo-bar/index.html'));
  for (const r of fake.requests) {
    assert.match(String(r.headers['user-agent']), /^pypimirror\/\d+\.\d+\.\d+ \(\+https:\/\/\S+\) node\/\d+/);
  }

  const install = async (indexUrl: string, name: string): Promise<void> => {
    const target = join(dir, `target-${name}`);
    const result = await pipInstall({ indexUrl, target, packages: ['demo-app'] });
    assert.equal(result.code, 0, `${name}: ${describePipResult(result)}`);
    assert.deepEqual(await installedDists(target), catalogue.expectedDemoAppInstall, name);
  };
  await install(`file://${root}/`, 'file');

  if (requireTool(t, 'nginx')) {
    const nginx = await startNginx({ root });
    t.after(() => nginx.stop());
    await install(nginx.url, 'nginx');
    await nginx.stop();
  }
  if (requireTool(t, 'apache2')) {
    const apache = await startApache({ root });
    t.after(() => apache.stop());
    await install(apache.url, 'apache');
    await apache.stop();
  }
});

test('an sdist from the mirror builds and installs offline (its in-tree backend needs nothing from the index)', async (t) => {
  if (!requirePip(t)) return;
  const { dir, root, config } = await startSampleMirror(t, {
    package_matches: 'foo_bar',
    filename_matches: '*.tar.gz',
  });
  assert.equal((await runCli(['sync', config])).code, 0);
  assert.ok((await listTree(root)).every((f) => !f.endsWith('.whl')));
  const target = join(dir, 'target');
  const result = await pipInstall({ indexUrl: `file://${root}/`, target, packages: ['foo-bar'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), { 'foo-bar': '1.0' });
});

test('a z3c.pypimirror config works unchanged (plus index_url), with the z3c command-line form', async (t) => {
  const { fake } = await startStandardUpstream();
  t.after(() => fake.close());
  const dir = await makeTempDir(t);
  const config = join(dir, 'z3c.cfg');
  // The sample exactly as z3c.pypimirror ships it, with its two /tmp paths pointed into this test's
  // directory, plus index_url.
  const z3c = (await readFile(join(repoRoot, 'test/fixtures/config/z3c-sample.cfg'), 'utf8'))
    .replace('/tmp/mirror', `${dir}/mirror`)
    .replace('/tmp/pypimirror.log', `${dir}/pypimirror.log`);
  await writeFile(config, `${z3c}index_url = ${fake.url}\n`);
  const first = await runCli([config, '--initial-fetch']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /external_links/);
  assert.deepEqual(
    (await listTree(join(dir, 'mirror'))).filter(
      (f) => !f.endsWith('index.html') && !f.endsWith('index.v1_json'),
    ),
    ['zope-interface/zope_interface-5.0.tar.gz', 'zope-interface/zope_interface-5.1.tar.gz'],
  );
  assert.match(await readFile(join(dir, 'mirror/index.html'), 'utf8'), /http:\/\/your-host\.com\/index/);
  const again = await runCli([config, '-U', '-v']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /0 changed, 0 files \(0 B\) fetched/);
});
