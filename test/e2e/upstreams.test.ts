// Issue #12 as a new user meets it: samples/pypimirror-upstreams.cfg (PyPI, a PyTorch-style wheel index
// whose files live on another host, an internal index, a three-day quarantine), pointed at fake upstreams,
// synced by the built CLI; pip installs from the tree alone, the internal name is never taken from the
// public index, and what is younger than three days is held back.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type TestContext, test } from 'node:test';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from '../helpers/fake-upstream.js';
import { formatUploadTime } from '../helpers/fake-upstream-model.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { repoRoot } from '../helpers/repo-root.js';
import { runCli } from '../helpers/run-cli.js';
import { listTree, makeTempDir } from '../helpers/tree.js';

const SAMPLE = join(repoRoot, 'samples/pypimirror-upstreams.cfg');
const DAY_MS = 86_400_000;

async function startFake(t: TestContext, options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const fake = await startFakeUpstream(options);
  t.after(() => fake.close());
  return fake;
}

const old = (dist: ReturnType<typeof buildWheel>) => ({
  ...dist,
  uploadTime: formatUploadTime(Date.now() - 30 * DAY_MS),
});

test('the upstreams sample: pip installs across three indexes from the one tree, with a three-day quarantine', async (t) => {
  if (!requirePip(t)) return;
  const pypi = await startFake(t);
  const downloads = await startFake(t);
  const pytorch = await startFake(t, {
    formats: 'html-only',
    xmlrpc: false,
    jsonApi: false,
    filesOrigin: downloads.baseOrigin,
  });
  const internal = await startFake(t);
  const torch = old(
    buildWheel({ name: 'torch', version: '2.1.0', files: { 'torch/cuda.py': 'CUDA = 1\n' } }),
  );
  pytorch.addProject('torch', [torch]);
  downloads.addProject('torch', [torch]);
  internal.addProject('acme-app', [
    buildWheel({ name: 'acme-app', version: '1.0', requiresDist: ['requests', 'torch'] }),
  ]);
  pypi.addProject('requests', [
    old(buildWheel({ name: 'requests', version: '1.0', requiresDist: ['certifi'] })),
  ]);
  pypi.addFile('requests', buildWheel({ name: 'requests', version: '2.0', requiresDist: ['certifi'] })); // fresh
  pypi.addProject('certifi', [buildWheel({ name: 'certifi', version: '2026.12.1' })]); // fresh, exempt
  // The dependency-confusion bait: the internal name on the public index, with a higher version.
  pypi.addProject('acme-app', [old(buildWheel({ name: 'acme-app', version: '9.9' }))]);
  pypi.addProject('torch', [old(buildWheel({ name: 'torch', version: '9.9' }))]);

  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const sample = await readFile(SAMPLE, 'utf8');
  const config = join(dir, 'pypimirror.cfg');
  const text = sample
    .replace('mirror_file_path = /srv/pypimirror', `mirror_file_path = ${root}`)
    .replace('https://pypi.org/simple/', pypi.url)
    .replace('https://download.pytorch.org/whl/cu121/', pytorch.url)
    .replace('https://ci:secret@pypi.internal.example/simple/', internal.url.replace('//', '//ci:secret@'));
  assert.notEqual(text, sample);
  await writeFile(config, text);

  const check = await runCli(['check', config]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(
    check.stdout,
    /^#   \[upstream:pytorch\] http:\/\/127\.0\.0\.1:\d+\/simple\/ serves: torch torchvision torchaudio triton nvidia-\*$/m,
  );
  assert.match(
    check.stdout,
    /^#   \[upstream:internal\] http:\/\/\*\*\*@127\.0\.0\.1:\d+\/simple\/ serves: acme-\*$/m,
  );

  const sync = await runCli(['sync', config]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  assert.match(
    sync.stdout,
    /sync finished: .*, 0 failed, 1 file held by min_release_age \(the first comes of age at /,
  );
  assert.ok(!sync.stdout.includes('secret'), 'the internal password is never logged');
  // Internal credentials went to the internal index only.
  assert.ok(internal.requests.every((r) => r.headers['authorization'] !== undefined));
  assert.ok(pypi.requests.every((r) => r.headers['authorization'] === undefined));
  assert.ok(!pypi.requests.some((r) => r.path.includes('/acme-app/') || r.path.includes('/torch/')));

  const wheels = (await listTree(root)).filter((p) => p.endsWith('.whl'));
  assert.deepEqual(wheels, [
    'acme-app/acme_app-1.0-py3-none-any.whl',
    'certifi/certifi-2026.12.1-py3-none-any.whl',
    'requests/requests-1.0-py3-none-any.whl',
    'torch/torch-2.1.0-py3-none-any.whl',
  ]);
  const recheck = await runCli(['check', config]);
  assert.match(
    recheck.stdout,
    /^# discovery of \[upstream:pytorch\]: .*last run used: conditional requests$/m,
  );
  assert.match(
    recheck.stdout,
    /^# discovery of \[upstream:internal\]: .*last run used: the root listing's serials \(serial \d+\)$/m,
  );
  assert.match(
    recheck.stdout,
    /^# quarantine: last run: 1 file held by min_release_age \(the first comes of age at /m,
  );

  const target = join(dir, 'site');
  const result = await pipInstall({
    indexUrl: pathToFileURL(`${root}/`).href,
    target,
    packages: ['acme-app'],
  });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), {
    'acme-app': '1.0',
    certifi: '2026.12.1',
    requests: '1.0',
    torch: '2.1.0',
  });
});
