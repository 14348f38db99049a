// A microrepo-style config (python_versions, package_types, extensions, processes, find_links_dir) through
// the built CLI: `check` shows it, `sync` mirrors exactly the files it selects into the tree and the flat
// directory, and pip installs from the result, by index and by --find-links.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { runCli } from '../helpers/run-cli.js';
import { writeMirrorConfig } from '../helpers/sample-config.js';
import { listTree, makeTempDir } from '../helpers/tree.js';

const LINUX_TAG = 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64';

/** The CPython version of `python3` as `3.11`, or null without one. */
function localPython(): string | null {
  const r = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

test('a microrepo-style config is shown by check, syncs only its files, and pip installs from the mirror', async (t) => {
  const fake = await startFakeUpstream();
  t.after(() => fake.close());
  const egg = { filename: 'demo-1.0-py3.11.egg', bytes: Buffer.from('egg'), version: '1.0' };
  const installer = { filename: 'demo-1.0.win-amd64-py3.11.exe', bytes: Buffer.from('exe'), version: '1.0' };
  fake.addProject('demo', [
    buildWheel({ name: 'demo', version: '1.0', tag: LINUX_TAG, requiresDist: ['dep>=1'] }),
    buildWheel({ name: 'demo', version: '1.0', tag: 'cp312-abi3-win_amd64', requiresDist: ['dep>=1'] }),
    buildWheel({ name: 'demo', version: '1.0', requiresDist: ['dep>=1'] }),
    buildSdist({ name: 'demo', version: '1.0', requiresDist: ['dep>=1'] }),
    egg,
    installer,
  ]);
  fake.addProject('dep', [
    buildWheel({ name: 'dep', version: '1.0' }),
    buildWheel({ name: 'dep', version: '1.0', tag: 'py2-none-any' }),
    buildSdist({ name: 'dep', version: '1.0', format: 'zip' }),
  ]);
  const dir = await makeTempDir(t);
  const flat = join(dir, 'find-links');
  const { root, config } = await writeMirrorConfig(dir, fake.url, {
    find_links_dir: 'find-links',
    package_matches: 'demo dep',
    filename_matches: null,
    python_versions: '3.11',
    package_types: 'sdist bdist_wheel',
    extensions: 'whl gz',
    workers: null,
    processes: '2',
  });

  const check = await runCli(['check', config]);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(check.stderr, '');
  for (const shown of [
    /^python_versions =\n {4}3\.11$/m,
    /^package_types =\n {4}sdist\n {4}bdist_wheel$/m,
    /^extensions =\n {4}whl\n {4}gz$/m,
    /^workers = 2$/m,
    new RegExp(`^find_links_dir = ${flat}$`, 'm'),
    new RegExp(`^# {3}every file also in ${flat} \\(for pip --find-links\\)$`, 'm'),
    /^# {3}for Python 3\.11 /m,
    /^# {3}package types: sdist bdist_wheel$/m,
    /^# {3}extensions: whl gz$/m,
  ]) {
    assert.match(check.stdout, shown);
  }

  const sync = await runCli(['sync', config]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  const files = (await listTree(root)).filter((f) => /\.(whl|gz|zip|egg|exe)$/.test(f));
  assert.deepEqual(files, [
    `demo/demo-1.0-${LINUX_TAG}.whl`,
    'demo/demo-1.0-py3-none-any.whl',
    'demo/demo-1.0.tar.gz',
    'dep/dep-1.0-py3-none-any.whl',
  ]);
  assert.deepEqual(
    (await readdir(flat)).sort(),
    files.map((f) => f.split('/')[1]),
  );

  if (!requirePip(t)) return;
  const target = join(dir, 'target');
  const result = await pipInstall({ indexUrl: `file://${root}/`, target, packages: ['demo'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), { demo: '1.0', dep: '1.0' });
  const flatTarget = join(dir, 'flat-target');
  const byFlat = await pipInstall({
    indexUrl: 'file:///nonexistent/',
    target: flatTarget,
    packages: ['demo'],
    extraArgs: ['--no-index', '--find-links', flat],
  });
  assert.equal(byFlat.code, 0, describePipResult(byFlat));
  assert.deepEqual(await installedDists(flatTarget), { demo: '1.0', dep: '1.0' });
  if (localPython() === '3.11' && process.platform === 'linux' && process.arch === 'x64') {
    // pip on CPython 3.11 Linux x86_64 prefers the manylinux wheel the mirror kept for it.
    const wheel = await readFile(join(target, 'demo-1.0.dist-info', 'WHEEL'), 'utf8');
    assert.match(wheel, new RegExp(`^Tag: ${LINUX_TAG}$`, 'm'));
  }
});
