// The selection keys of issue #11 end to end in-process: a fake upstream whose wheels carry realistic
// tags, one sync per key, then a key edited between runs re-scopes the mirror from stored pages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { startHarness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';

const CP311 = 'demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl';
const ABI3_WIN = 'demo-1.0-cp312-abi3-win_amd64.whl';
const PURE = 'demo-1.0-py3-none-any.whl';
const SDIST = 'demo-1.0.tar.gz';

/** demo 1.0 (four files), 0.9, a yanked 1.1, 2.0rc1 (sdists); other 1.0, 1.5, 2.0 (pure wheels). */
function seed(fake: FakeUpstream): void {
  fake.addProject('demo', [
    buildWheel({
      name: 'demo',
      version: '1.0',
      tag: 'cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64',
    }),
    buildWheel({ name: 'demo', version: '1.0', tag: 'cp312-abi3-win_amd64' }),
    buildWheel({ name: 'demo', version: '1.0' }),
    buildSdist({ name: 'demo', version: '1.0' }),
    buildSdist({ name: 'demo', version: '0.9' }),
    buildSdist({ name: 'demo', version: '1.1' }),
    buildSdist({ name: 'demo', version: '2.0rc1' }),
  ]);
  fake.yank('demo', 'demo-1.1.tar.gz', 'broken');
  fake.addProject(
    'other',
    ['1.0', '1.5', '2.0'].map((version) => buildWheel({ name: 'other', version })),
  );
}

/** The distribution files the tree holds (no pages, no .metadata), per project. */
async function mirroredFiles(root: string): Promise<string[]> {
  return (await listTree(root)).filter((f) => /\.(whl|tar\.gz)$/.test(f)).map((f) => f.split('/')[1] ?? f);
}

const cases: readonly { name: string; over: Partial<Config>; want: readonly string[] }[] = [
  {
    name: 'python_versions = 3.11: the cp311 wheel, the pure wheel, every sdist; not the cp312-abi3 wheel',
    over: { packageMatches: ['demo'], pythonVersions: ['3.11'] },
    want: [CP311, PURE, SDIST, 'demo-0.9.tar.gz', 'demo-1.1.tar.gz', 'demo-2.0rc1.tar.gz'],
  },
  {
    name: 'platforms = manylinux_x86_64: the manylinux2014 wheel, the pure wheel and the sdists',
    over: { packageMatches: ['demo'], platforms: ['manylinux_x86_64'] },
    want: [CP311, PURE, SDIST, 'demo-0.9.tar.gz', 'demo-1.1.tar.gz', 'demo-2.0rc1.tar.gz'],
  },
  {
    name: 'package_types = bdist_wheel: wheels only',
    over: { packageMatches: ['demo'], packageTypes: ['bdist_wheel'] },
    want: [ABI3_WIN, CP311, PURE],
  },
  {
    name: 'extensions = gz: sdists only',
    over: { packageMatches: ['demo'], extensions: ['gz'] },
    want: [SDIST, 'demo-0.9.tar.gz', 'demo-1.1.tar.gz', 'demo-2.0rc1.tar.gz'],
  },
  {
    name: 'keep_latest = 2: the rc and 1.0 (the yanked 1.1 does not count)',
    over: { packageMatches: ['demo'], keepLatest: 2 },
    want: [ABI3_WIN, CP311, PURE, SDIST, 'demo-2.0rc1.tar.gz'],
  },
  {
    name: 'keep_latest = 2, prereleases = false: 1.0 and 0.9',
    over: { packageMatches: ['demo'], keepLatest: 2, prereleases: false, extensions: ['gz'] },
    want: [SDIST, 'demo-0.9.tar.gz'],
  },
  {
    name: 'keep_latest = 1 and a pin on the yanked 1.1: the pin beats keep_latest',
    over: { packageMatches: ['demo==1.1'], keepLatest: 1 },
    want: ['demo-1.1.tar.gz'],
  },
  {
    name: 'specifiers in package_matches: other>=1.5 and demo==1.0',
    over: { packageMatches: ['other>=1.5', 'demo==1.0'] },
    want: [ABI3_WIN, CP311, PURE, SDIST, 'other-1.5-py3-none-any.whl', 'other-2.0-py3-none-any.whl'],
  },
];

for (const c of cases) {
  test(`sync mirrors the selected files: ${c.name}`, async (t) => {
    const h = await startHarness(t);
    seed(h.fake);
    const report = await h.sync(c.over);
    assert.equal(report.failures.length, 0);
    assert.deepEqual((await mirroredFiles(h.root)).sort(), [...c.want].sort());
  });
}

test('editing a selection key re-scopes from stored pages: files added and removed, no page or file fetched twice', async (t) => {
  const h = await startHarness(t);
  seed(h.fake);
  const base = { packageMatches: ['demo', 'other'], prereleases: false };
  await h.sync({ ...base, pythonVersions: ['3.11'], platforms: ['manylinux_x86_64'], keepLatest: 1 });
  assert.deepEqual(
    (await mirroredFiles(h.root)).sort(),
    [CP311, PURE, SDIST, 'other-2.0-py3-none-any.whl'].sort(),
  );

  h.fake.resetLog();
  const report = await h.sync({ ...base, pythonVersions: ['3.12'], platforms: ['win_amd64'], keepLatest: 2 });
  assert.equal(report.failures.length, 0);
  assert.deepEqual(
    (await mirroredFiles(h.root)).sort(),
    [
      ABI3_WIN,
      PURE,
      SDIST,
      'demo-0.9.tar.gz',
      'other-1.5-py3-none-any.whl',
      'other-2.0-py3-none-any.whl',
    ].sort(),
  );
  const paths = h.fake.requests.map((r) => r.path);
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
  assert.deepEqual(
    [...counts].filter(([, n]) => n > 1),
    [],
    'nothing fetched twice',
  );
  const fetched = paths
    .filter((p) => /\.(whl|tar\.gz)$/.test(p))
    .map((p) => p.split('/').at(-1))
    .sort();
  assert.deepEqual(
    fetched,
    [ABI3_WIN, 'demo-0.9.tar.gz', 'other-1.5-py3-none-any.whl'].sort(),
    'only the newly selected files',
  );

  h.fake.resetLog();
  await h.sync({ ...base, pythonVersions: ['3.12'], platforms: ['win_amd64'], keepLatest: 2 });
  assert.equal(
    h.fake.requests.filter((r) => /\.(whl|tar\.gz)$/.test(r.path)).length,
    0,
    'the same keys again fetch no file',
  );
});
