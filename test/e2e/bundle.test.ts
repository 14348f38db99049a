// An air-gapped pair as an admin runs it from the README (issue #16): keygen, the outside syncs and exports
// with the built CLI, the bundle directory is carried across, the inside imports it, `check` shows it, `verify`
// passes, and pip installs from the inside mirror through nginx.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { runCli } from '../helpers/run-cli.js';
import { startSampleMirror, writeMirrorConfig } from '../helpers/sample-config.js';
import { makeTempDir } from '../helpers/tree.js';
import { requireTool, startNginx } from '../helpers/web-servers.js';

test('keygen, export outside, import inside, check and verify, then pip installs from the inside through nginx', async (t) => {
  const keys = join(await makeTempDir(t), 'keys');
  const keygen = await runCli(['keygen', keys]);
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.equal((await stat(join(keys, 'bundle.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(keys, 'bundle.pub'))).mode & 0o777, 0o644);
  assert.equal((await runCli(['keygen', keys])).code, 2, 'an existing key is never overwritten');

  const { catalogue, dir, config } = await startSampleMirror(t, {
    package_matches: 'demo-* foo_bar zope.*',
    bundle_private_key: join(keys, 'bundle.key'),
  });
  assert.equal((await runCli(['sync', config])).code, 0);
  const outbox = join(dir, 'outbox');
  const exported = await runCli(['export', config, outbox, '--max-volume', '1M']);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /^pypimirror-[0-9a-f]{12}-000001$/m);
  const nothing = await runCli(['export', config, outbox]);
  assert.equal(nothing.code, 3, nothing.stdout + nothing.stderr);
  assert.match(nothing.stdout + nothing.stderr, /nothing to export/);

  const insideDir = await makeTempDir(t);
  const inside = await writeMirrorConfig(insideDir, 'https://pypi.invalid/simple/', {
    bundle_public_key: join(keys, 'bundle.pub'),
  });
  const imported = await runCli(['import', inside.config, outbox]);
  assert.equal(imported.code, 0, imported.stdout + imported.stderr);
  const check = await runCli(['check', inside.config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^# last bundle imported: pypimirror-[0-9a-f]{12}-000001 at /m);
  assert.match(check.stdout, /^bundle_public_key = .*bundle\.pub$/m);
  const verify = await runCli(['verify', inside.config]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.equal((await runCli(['import', inside.config, outbox])).code, 0, 'importing twice changes nothing');

  if (!requirePip(t) || !requireTool(t, 'nginx')) return;
  const nginx = await startNginx({ root: inside.root });
  t.after(() => nginx.stop());
  const target = join(insideDir, 'target');
  const result = await pipInstall({ indexUrl: nginx.url, target, packages: ['demo-app'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), catalogue.expectedDemoAppInstall);
});
