// Several upstreams in one tree (issue #12 part 1): a public index, a PyTorch-style static index whose files
// live on another host, and an internal index. Each project comes from the first upstream that claims it,
// never from a later one, even when the claiming upstream answers 404 or 500; pip installs across them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type TestContext, test } from 'node:test';
import { readRecord, readState } from '../../src/mirror/state.js';
import { formatSummary } from '../../src/sync/report.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from '../helpers/fake-upstream.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { startHarness } from '../helpers/sync-harness.js';
import { upstreamSection } from '../helpers/upstream-sections.js';
import { listTree } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

async function startFake(t: TestContext, options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const fake = await startFakeUpstream(options);
  t.after(() => fake.close());
  return fake;
}

/** Requests for a project's page (or files) that reached `fake`. */
function asked(fake: FakeUpstream, project: string): string[] {
  return fake.requests.map((r) => r.path).filter((p) => p.includes(`/${project}/`));
}

/**
 * The public index (the harness's fake: PyPI-like), the PyTorch-style index (plain HTML, no XML-RPC, files
 * linked on a second host) and the internal index. `torch` and `acme-core` are also on the public index,
 * with other bytes: the dependency-confusion bait.
 */
async function startThree(t: TestContext) {
  const h = await startHarness(t);
  const files = await startFake(t);
  const pytorch = await startFake(t, { formats: 'html-only', xmlrpc: false, filesOrigin: files.baseOrigin });
  const internal = await startFake(t);
  const torch = buildWheel({ name: 'torch', version: '2.1.0', files: { 'torch/cuda.py': 'CUDA = True\n' } });
  pytorch.addProject('torch', [torch]);
  files.addProject('torch', [torch]); // the download host serves the bytes the index links
  internal.addProject('acme-core', [buildWheel({ name: 'acme-core', version: '1.0' })]);
  internal.addProject('acme-app', [
    buildWheel({ name: 'acme-app', version: '1.0', requiresDist: ['acme-core', 'demo-lib>=1.0'] }),
  ]);
  h.fake.addProject('demo-lib', [
    buildWheel({ name: 'demo-lib', version: '1.0', requiresDist: ['foo_bar'] }),
  ]);
  h.fake.addProject('foo_bar', [buildWheel({ name: 'foo_bar', version: '1.0' })]);
  const bait = { 'evil.py': 'import os\n' };
  h.fake.addProject('torch', [buildWheel({ name: 'torch', version: '2.1.0', files: bait })]);
  h.fake.addProject('acme-core', [buildWheel({ name: 'acme-core', version: '1.0', files: bait })]);
  h.fake.addProject('acme-core-tools', [buildWheel({ name: 'acme-core-tools', version: '0.1' })]);
  const upstreams = [
    upstreamSection('pytorch', pytorch, ['torch', 'nvidia-*']),
    upstreamSection('internal', internal, ['acme-*', '!acme-core-tools']),
  ];
  return { h, files, pytorch, internal, upstreams };
}

test('each project comes from the first upstream that claims it; files on another host are fetched as linked', async (t) => {
  const { h, files, pytorch, internal, upstreams } = await startThree(t);
  const report = await h.sync({ upstreams });
  assert.deepEqual(report.failures, []);
  const tree = (await listTree(h.root)).filter((p) => p.endsWith('.whl'));
  assert.deepEqual(tree, [
    'acme-app/acme_app-1.0-py3-none-any.whl',
    'acme-core-tools/acme_core_tools-0.1-py3-none-any.whl',
    'acme-core/acme_core-1.0-py3-none-any.whl',
    'demo-lib/demo_lib-1.0-py3-none-any.whl',
    'foo-bar/foo_bar-1.0-py3-none-any.whl',
    'torch/torch-2.1.0-py3-none-any.whl',
  ]);
  const torchFile = 'torch-2.1.0-py3-none-any.whl';
  assert.equal(await sha256(join(h.root, 'torch', torchFile)), pytorch.sha256('torch', torchFile));
  assert.notEqual(pytorch.sha256('torch', torchFile), h.fake.sha256('torch', torchFile));
  const acmeFile = 'acme_core-1.0-py3-none-any.whl';
  assert.equal(await sha256(join(h.root, 'acme-core', acmeFile)), internal.sha256('acme-core', acmeFile));
  // The public index was never asked for what the others claim; the excluded name came from it.
  assert.deepEqual(asked(h.fake, 'torch'), []);
  assert.deepEqual(asked(h.fake, 'acme-core'), []);
  assert.deepEqual(asked(h.fake, 'acme-app'), []);
  assert.ok(asked(h.fake, 'acme-core-tools').length > 0);
  // The wheel on the other host is fetched as linked; its .metadata comes out of the wheel, no request.
  assert.deepEqual(
    files.requests.map((r) => r.path),
    [`/files/torch/${torchFile}`],
  );
  assert.ok(existsSync(join(h.root, 'torch', `${torchFile}.metadata`)));
  // Each upstream keeps its own discovery state; projects remember where they came from.
  const state = await readState(createLocalStorage(h.root));
  assert.deepEqual(Object.keys(state.upstreams ?? {}), ['pytorch', 'internal']);
  assert.equal(state.projects['torch']?.upstream, 'pytorch');
  assert.equal(state.projects['acme-core']?.upstream, 'internal');
  assert.equal(state.projects['demo-lib']?.upstream, undefined);
  assert.equal(state.upstreams?.['internal']?.lastSerial, internal.serial);
  assert.equal(state.upstreams?.['pytorch']?.discovery?.mode, 'conditional');
});

for (const status of [404, 500]) {
  test(`a project claimed by the internal upstream is never taken from the public one, even when it answers ${status}`, async (t) => {
    const { h, internal, upstreams } = await startThree(t);
    await h.sync({ upstreams });
    const acmeFile = 'acme_core-1.0-py3-none-any.whl';
    const before = await sha256(join(h.root, 'acme-core', acmeFile));
    // A new release on the internal index, whose page then fails; the public bait gets a release too.
    internal.addFile('acme-core', buildWheel({ name: 'acme-core', version: '1.1' }));
    h.fake.addFile('acme-core', buildWheel({ name: 'acme-core', version: '1.1', files: { 'x.py': '' } }));
    internal.fail('/simple/acme-core/', { status });
    h.fake.resetLog();
    const report = await h.sync({ upstreams });
    assert.deepEqual(
      report.failures.map((f) => f.project),
      ['acme-core'],
    );
    assert.match(
      report.failures[0]?.reason ?? '',
      status === 404 ? /\[upstream:internal\] claims this project/ : /HTTP 500/,
    );
    assert.match(formatSummary(report), /^sync finished with errors: .* 1 failed/);
    assert.deepEqual(asked(h.fake, 'acme-core'), []);
    // The previous page and file stay; nothing of the public bait is there.
    assert.equal(await sha256(join(h.root, 'acme-core', acmeFile)), before);
    assert.ok(!(await listTree(h.root)).some((p) => p.includes('acme_core-1.1')));
    // Once the internal index answers again, the project is fetched from it (and only from it).
    internal.clearFaults();
    const healed = await h.sync({ upstreams });
    assert.deepEqual(healed.failures, []);
    const fresh = 'acme_core-1.1-py3-none-any.whl';
    assert.equal(await sha256(join(h.root, 'acme-core', fresh)), internal.sha256('acme-core', fresh));
    assert.deepEqual(asked(h.fake, 'acme-core'), []);
  });
}

test('a literal claim the internal upstream does not have is an error, not a lookup elsewhere', async (t) => {
  const { h, internal } = await startThree(t);
  const upstreams = [upstreamSection('internal', internal, ['acme-secret'])];
  h.fake.addProject('acme-secret', [buildWheel({ name: 'acme-secret', version: '9.9' })]);
  const report = await h.sync({ upstreams, packageMatches: ['demo-lib', 'acme-secret'] });
  assert.deepEqual(
    report.failures.map((f) => f.project),
    ['acme-secret'],
  );
  assert.match(
    report.failures[0]?.reason ?? '',
    /does not have it \(404\); it is never taken from another upstream/,
  );
  assert.deepEqual(asked(h.fake, 'acme-secret'), []);
  assert.ok(!(await listTree(h.root)).some((p) => p.startsWith('acme-secret')));
});

test('pip installs a package whose dependencies span two upstreams from the one tree', async (t) => {
  if (!requirePip(t)) return;
  const { h, upstreams } = await startThree(t);
  const report = await h.sync({ upstreams });
  assert.deepEqual(report.failures, []);
  const target = await mkdtemp(join(tmpdir(), 'pypimirror-pip-'));
  t.after(() => rm(target, { recursive: true, force: true }));
  const result = await pipInstall({
    indexUrl: pathToFileURL(`${h.root}/`).href,
    target,
    packages: ['acme-app'],
  });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installedDists(target), {
    'acme-app': '1.0',
    'acme-core': '1.0',
    'demo-lib': '1.0',
    'foo-bar': '1.0',
  });
});

test("adding an upstream section keeps the main upstream's state: nothing is fetched again", async (t) => {
  const { h, internal } = await startThree(t);
  const packageMatches = ['demo-lib', 'foo_bar', 'acme-*'];
  await h.sync({ packageMatches });
  const single = await readState(createLocalStorage(h.root));
  assert.equal(single.projects['acme-core']?.upstream, undefined);
  h.fake.resetLog();
  // acme-* moves to the internal upstream: its public copy is replaced by the internal one.
  const upstreams = [upstreamSection('internal', internal, ['acme-*'])];
  const report = await h.sync({ packageMatches, upstreams });
  assert.deepEqual(report.failures, []);
  const state = await readState(createLocalStorage(h.root));
  assert.equal(state.lastSerial, single.lastSerial);
  assert.equal(state.projects['acme-core']?.upstream, 'internal');
  // The main upstream's files were not fetched again (its pages were re-planned from 304s).
  assert.deepEqual(
    h.fake.requests.filter((r) => r.path.startsWith('/files/')).map((r) => r.path),
    [],
  );
  assert.deepEqual(asked(h.fake, 'acme-core'), []);
  // The public bytes under the same file name are replaced by the internal ones, page and file together.
  const acmeFile = 'acme_core-1.0-py3-none-any.whl';
  const [file] = (await readRecord(createLocalStorage(h.root), 'acme-core'))?.files ?? [];
  assert.equal(file?.sha256, internal.sha256('acme-core', acmeFile));
  assert.equal(await sha256(join(h.root, 'acme-core', file?.path ?? acmeFile)), file?.sha256);
  const page = await readFile(join(h.root, 'acme-core', 'index.html'), 'utf8');
  assert.ok(page.includes(`#sha256=${internal.sha256('acme-core', acmeFile)}`));
  assert.ok(!page.includes(h.fake.sha256('acme-core', acmeFile)));
});

test("a change to one upstream's section re-scopes only its projects", async (t) => {
  const { h, files, pytorch, upstreams } = await startThree(t);
  await h.sync({ upstreams });
  await h.sync({ upstreams }); // the main upstream now answers by its changelog
  h.fake.resetLog();
  pytorch.resetLog();
  const edited = [
    upstreamSection('pytorch', pytorch, ['torch', 'nvidia-*'], { timeoutMs: 9_000 }),
    upstreams[1]!,
  ];
  // A new index_url for pytorch (its download host, which serves the same torch): it is re-scoped.
  const moved = [upstreamSection('pytorch', files, ['torch', 'nvidia-*']), upstreams[1]!];
  const quiet = await h.sync({ upstreams: edited });
  assert.deepEqual(quiet.failures, []);
  assert.deepEqual(
    h.fake.requests.map((r) => `${r.method} ${r.path}`),
    ['POST /pypi'],
  );
  const report = await h.sync({ upstreams: moved });
  assert.deepEqual(report.failures, []);
  // The main upstream still answers by its changelog alone; pytorch's listing and page are read in full.
  assert.deepEqual(
    h.fake.requests.map((r) => `${r.method} ${r.path}`),
    ['POST /pypi', 'POST /pypi'],
  );
  assert.ok(files.requests.some((r) => r.path === '/simple/' && r.status === 200));
  assert.ok(files.requests.some((r) => r.path === '/simple/torch/' && r.status === 200));
});

test("the internal upstream's listing failing never sends its glob's projects to the public one", async (t) => {
  const { h, internal, upstreams } = await startThree(t);
  internal.fail('/simple/', { status: 500 });
  const report = await h.sync({ upstreams });
  assert.equal(report.listingFailed, true);
  assert.match(formatSummary(report), /^sync finished with errors: /);
  const projects = (await listTree(h.root))
    .filter((p) => p.endsWith('/index.html'))
    .map((p) => p.split('/')[0]);
  assert.deepEqual(projects, ['acme-core-tools', 'demo-lib', 'foo-bar', 'torch']);
  assert.deepEqual(asked(h.fake, 'acme-core'), []);
  assert.deepEqual(asked(h.fake, 'acme-app'), []);
  // Once it answers, its projects come from it.
  internal.clearFaults();
  const healed = await h.sync({ upstreams });
  assert.equal(healed.listingFailed, false);
  assert.ok((await listTree(h.root)).includes('acme-core/acme_core-1.0-py3-none-any.whl'));
  assert.deepEqual(asked(h.fake, 'acme-core'), []);
});
