// Real pip against the dist-builder's archives and the fake upstream: the distributions install, and pip
// reads the fake's JSON and HTML pages (yanked, Requires-Python, prereleases, .metadata, redirects).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import type { FakeUpstreamOptions } from '../helpers/fake-upstream.js';
import { startStandardUpstream } from '../helpers/standard-catalogue.js';
import { describePipResult, pipInstall, requirePip } from '../helpers/pip.js';

const execFileAsync = promisify(execFile);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pypimirror-fake-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function standard(t: TestContext, options: FakeUpstreamOptions = {}) {
  const started = await startStandardUpstream(options);
  t.after(() => started.fake.close());
  return started;
}

/** Normalised name → version of what pip put in `target` (read by Python's importlib.metadata). */
async function installed(target: string): Promise<Record<string, string>> {
  const script = `
import json, re, sys
from importlib.metadata import distributions
print(json.dumps({re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in distributions(path=[sys.argv[1]])}))
`;
  const { stdout } = await execFileAsync('python3', ['-c', script, target], { timeout: 30_000 });
  return JSON.parse(stdout) as Record<string, string>;
}

async function importVersion(target: string, module: string): Promise<string> {
  const script = `import sys; sys.path.insert(0, sys.argv[1]); import ${module}; print(${module}.__version__)`;
  return (await execFileAsync('python3', ['-c', script, target], { timeout: 30_000 })).stdout.trim();
}

test('dist-builder: deterministic bytes; wheels pass zipfile and RECORD checks', async () => {
  const spec = {
    name: 'Zope.Interface',
    version: '5.1',
    requiresDist: ['demo-lib>=1.0'],
    requiresPython: '>=3.8',
  };
  const wheel = buildWheel({ ...spec, files: { 'zope_interface/extra.py': 'X = 1\n' } });
  assert.equal(wheel.filename, 'zope_interface-5.1-py3-none-any.whl');
  assert.deepEqual(
    buildWheel({ ...spec, files: { 'zope_interface/extra.py': 'X = 1\n' } }).bytes,
    wheel.bytes,
  );
  assert.deepEqual(buildSdist(spec).bytes, buildSdist(spec).bytes);
  assert.equal(buildSdist(spec).filename, 'zope_interface-5.1.tar.gz');
  assert.equal(buildSdist({ ...spec, format: 'zip' }).filename, 'zope_interface-5.1.zip');
  assert.equal(
    wheel.metadata,
    'Metadata-Version: 2.1\nName: Zope.Interface\nVersion: 5.1\nRequires-Python: >=3.8\nRequires-Dist: demo-lib>=1.0\n\n',
  );
  const script = `
import base64, hashlib, io, json, sys, zipfile
archive = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))
assert archive.testzip() is None
problems = []
for line in archive.read("zope_interface-5.1.dist-info/RECORD").decode().splitlines():
    path, digest, size = line.rsplit(",", 2)
    data = archive.read(path)
    if path.endswith("RECORD"):
        continue
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if digest != want or int(size) != len(data):
        problems.append(path)
print(json.dumps({"names": archive.namelist(), "problems": problems,
                  "wheel": archive.read("zope_interface-5.1.dist-info/WHEEL").decode()}))
`;
  const child = execFileAsync('python3', ['-c', script], { timeout: 30_000 });
  child.child.stdin?.end(wheel.bytes);
  const out = JSON.parse((await child).stdout) as { names: string[]; problems: string[]; wheel: string };
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.names, [
    'zope_interface/__init__.py',
    'zope_interface/extra.py',
    'zope_interface-5.1.dist-info/METADATA',
    'zope_interface-5.1.dist-info/WHEEL',
    'zope_interface-5.1.dist-info/RECORD',
  ]);
  assert.match(out.wheel, /^Wheel-Version: 1\.0\n.*Root-Is-Purelib: true\nTag: py3-none-any\n$/s);
});

test('pip installs the built wheel, tar.gz sdist and zip sdist from files, with no index', async (t) => {
  if (!requirePip(t)) return;
  const dir = await tempDir(t);
  const dists = [
    buildWheel({ name: 'Wheel.Pkg', version: '1.0' }),
    buildSdist({ name: 'Tar_Pkg', version: '2.0', requiresPython: '>=3.8' }),
    buildSdist({ name: 'zip-pkg', version: '3.0', format: 'zip' }),
  ];
  for (const d of dists) await writeFile(join(dir, d.filename), d.bytes);
  const target = join(dir, 'target');
  const result = await pipInstall({
    indexUrl: 'http://127.0.0.1:9/unused/',
    target,
    packages: dists.map((d) => join(dir, d.filename)),
    extraArgs: ['--no-index'],
  });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installed(target), { 'wheel-pkg': '1.0', 'tar-pkg': '2.0', 'zip-pkg': '3.0' });
  assert.equal(await importVersion(target, 'tar_pkg'), '2.0');
  assert.equal(await importVersion(target, 'zip_pkg'), '3.0');
});

test('pip installs demo-app and its dependencies from the JSON pages', async (t) => {
  if (!requirePip(t)) return;
  const { fake, catalogue } = await standard(t);
  const target = join(await tempDir(t), 'target');
  const result = await pipInstall({ indexUrl: fake.url, target, packages: ['demo-app'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installed(target), catalogue.expectedDemoAppInstall);

  const pages = fake.requests.filter((r) => r.path.startsWith('/simple/'));
  assert.deepEqual(pages.map((r) => r.path).sort(), [
    '/simple/demo-app/',
    '/simple/demo-lib/',
    '/simple/foo-bar/',
  ]);
  for (const r of pages)
    assert.match(String(r.headers['accept']), /^application\/vnd\.pypi\.simple\.v1\+json/);
  const fetched = fake.requests.map((r) => r.path.split('/').at(-1) ?? '');
  assert.ok(fetched.includes('demo_app-1.0-py3-none-any.whl.metadata'), 'PEP 658 metadata is used');
  for (const skipped of [catalogue.prerelease, catalogue.yankedWithoutReason, ...catalogue.python2Only]) {
    assert.ok(
      !fetched.some((f) => f.startsWith(skipped.filename)),
      `${skipped.filename} must not be fetched`,
    );
  }
  assert.ok(fake.requests.every((r) => r.status === 200));

  const pre = await pipInstall({
    indexUrl: fake.url,
    target: target + '-pre',
    packages: ['demo-app'],
    extraArgs: ['--pre'],
  });
  assert.equal(pre.code, 0, describePipResult(pre));
  assert.equal((await installed(target + '-pre'))['demo-app'], catalogue.prerelease.version);
});

test('pip installs from the plain HTML index with absolute links and file redirects', async (t) => {
  if (!requirePip(t)) return;
  const { fake, catalogue } = await standard(t, {
    formats: 'html-only',
    fileUrls: 'absolute',
    redirectFiles: true,
  });
  const target = join(await tempDir(t), 'target');
  const result = await pipInstall({ indexUrl: fake.url, target, packages: ['Demo.App'] });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installed(target), catalogue.expectedDemoAppInstall);
  assert.ok(fake.requests.some((r) => r.status === 302 && r.path.startsWith('/files/')));
  assert.ok(fake.requests.some((r) => r.status === 200 && r.path.startsWith('/packages/')));
});

test('pip builds sdists (tar.gz and zip) it finds on the index', async (t) => {
  if (!requirePip(t)) return;
  const { fake, catalogue } = await standard(t);
  const target = join(await tempDir(t), 'target');
  const result = await pipInstall({
    indexUrl: fake.url,
    target,
    packages: ['demo-app'],
    extraArgs: ['--no-binary', ':all:'],
  });
  assert.equal(result.code, 0, describePipResult(result));
  assert.deepEqual(await installed(target), catalogue.expectedDemoAppInstall);
  assert.ok(fake.requests.some((r) => r.path.endsWith(catalogue.zipSdist.filename)));
  assert.ok(!fake.requests.some((r) => r.path.endsWith('.whl')));
});

test('pip refuses a yanked-only match unless pinned with ==, in JSON and in HTML', async (t) => {
  if (!requirePip(t)) return;
  for (const formats of ['both', 'html-only'] as const) {
    const { fake, catalogue } = await standard(t, { formats });
    const dir = await tempDir(t);
    const { version, reason } = catalogue.yankedWithReason;
    const refused = await pipInstall({
      indexUrl: fake.url,
      target: join(dir, 'a'),
      packages: [`foo_bar>=${version}`],
    });
    assert.notEqual(refused.code, 0, `${formats}: ${describePipResult(refused)}`);
    assert.match(refused.stderr, /No matching distribution found for foo_bar>=1\.2/);

    const pinned = await pipInstall({
      indexUrl: fake.url,
      target: join(dir, 'b'),
      packages: [`foo_bar==${version}`],
    });
    assert.equal(pinned.code, 0, `${formats}: ${describePipResult(pinned)}`);
    assert.equal((await installed(join(dir, 'b')))['foo-bar'], version);
    assert.match(pinned.stderr, /yanked version/);
    assert.ok(pinned.stderr.includes(`Reason for being yanked: ${reason}`), pinned.stderr);
  }
});
