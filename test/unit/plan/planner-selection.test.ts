// planProject with the selection keys of issue #11: python_versions, platforms, package_types,
// extensions, keep_latest, prereleases and package_matches specifiers decide the files; a file they drop
// is removed like a deselected one (only when deletions are allowed), and filename_matches still applies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LocalFile, ProjectRecord } from '../../../src/model/record.js';
import { compileFilters, OPEN_SELECTION, type SelectionKeys } from '../../../src/plan/filters.js';
import { planProject } from '../../../src/plan/planner.js';
import type { ProjectPage, UpstreamFile } from '../../../src/model/upstream.js';

const SHA = 'a'.repeat(64);
const allowed = { cleanup: true, isDeletionAllowed: true };

/** An upstream file of project `demo`; `yanked` and `requiresPython` as PEP 691 gives them. */
const upstream = (filename: string, extra: Partial<UpstreamFile> = {}): UpstreamFile => ({
  ...{ filename, url: `https://files.example/${filename}`, hashes: { sha256: SHA }, size: 10 },
  ...{ requiresPython: null, yanked: null, coreMetadata: null, uploadTime: null },
  ...extra,
});

const demoPage = (files: readonly UpstreamFile[]): ProjectPage => ({
  ...{ name: 'demo', files, versions: [], serial: 1, etag: null, lastModified: null },
  ...{ status: null, statusReason: null },
});

/** A record holding `filenames` with the same hash upstream gives, so they count as kept. */
function held(filenames: readonly string[]): ProjectRecord {
  const files = filenames.map((filename): LocalFile => ({
    ...{ filename, sha256: SHA, size: 10, url: `https://files.example/${filename}` },
    ...{ upstreamHashes: { sha256: SHA }, requiresPython: null, yanked: null, uploadTime: null },
    metadataSha256: null,
  }));
  return {
    ...{ formatVersion: 1, name: 'demo', displayName: 'demo', serial: 1, etag: null, lastModified: null },
    ...{ status: null, statusReason: null, versions: [], upstreamFiles: [], files },
  } as ProjectRecord;
}

const WHEEL_311 = 'demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl';
const WHEEL_312_WIN = 'demo-1.0-cp312-cp312-win_amd64.whl';
const WHEEL_ABI3_WIN = 'demo-1.0-cp39-abi3-win_amd64.whl';
const WHEEL_ABI3_LINUX = 'demo-1.0-cp39-abi3-musllinux_1_2_x86_64.whl';
const WHEEL_PURE = 'demo-1.0-py3-none-any.whl';
const WHEEL_PY2 = 'demo-1.0-py2-none-any.whl';
const SDIST = 'demo-1.0.tar.gz';
const EGG = 'demo-1.0-py3.11.egg';
const INSTALLER = 'demo-1.0.win-amd64-py3.11.exe';
const RELEASE_1_0 = [WHEEL_311, WHEEL_312_WIN, WHEEL_ABI3_WIN, WHEEL_ABI3_LINUX, WHEEL_PURE, WHEEL_PY2];
const ALL_1_0 = [...RELEASE_1_0, SDIST, EGG, INSTALLER];

function downloads(
  files: readonly (string | UpstreamFile)[],
  keys: Partial<SelectionKeys>,
  packageMatches: readonly string[] = [],
  filenameMatches: readonly string[] = [],
): string[] {
  const filters = compileFilters(packageMatches, filenameMatches, { ...OPEN_SELECTION, ...keys });
  const page = demoPage(files.map((f) => (typeof f === 'string' ? upstream(f) : f)));
  return planProject(page, null, filters, allowed)
    .download.map((f) => f.filename)
    .sort();
}

const cases: readonly {
  name: string;
  keys: Partial<SelectionKeys>;
  files?: readonly (string | UpstreamFile)[];
  packageMatches?: readonly string[];
  filenameMatches?: readonly string[];
  want: readonly string[];
}[] = [
  { name: 'no key: every file', keys: {}, want: ALL_1_0 },
  {
    name: 'python_versions = 3.11: cp311, abi3 from cp39, py3, the 3.11 egg and installer, the sdist',
    keys: { pythonVersions: ['3.11'] },
    want: [WHEEL_311, WHEEL_ABI3_WIN, WHEEL_ABI3_LINUX, WHEEL_PURE, SDIST, EGG, INSTALLER],
  },
  {
    name: 'platforms = manylinux_x86_64: manylinux2014 alias, pure wheels, the sdist and egg; no musl, no win',
    keys: { platforms: ['manylinux_x86_64'] },
    want: [WHEEL_311, WHEEL_PURE, WHEEL_PY2, SDIST, EGG],
  },
  {
    name: 'python_versions = 3.12 with platforms = win_amd64: no 3.11 egg or installer',
    keys: { pythonVersions: ['3.12'], platforms: ['win_amd64'] },
    want: [WHEEL_312_WIN, WHEEL_ABI3_WIN, WHEEL_PURE, SDIST],
  },
  {
    name: 'package_types = bdist_wheel drops the sdist, the egg and the installer',
    keys: { packageTypes: ['bdist_wheel'] },
    want: RELEASE_1_0,
  },
  {
    name: 'package_types = sdist bdist_egg',
    keys: { packageTypes: ['sdist', 'bdist_egg'] },
    want: [SDIST, EGG],
  },
  { name: 'extensions = gz exe', keys: { extensions: ['gz', 'exe'] }, want: [SDIST, INSTALLER] },
  {
    name: 'filename_matches still applies before the keys',
    keys: { pythonVersions: ['3.11'] },
    filenameMatches: ['*.whl'],
    want: [WHEEL_311, WHEEL_ABI3_WIN, WHEEL_ABI3_LINUX, WHEEL_PURE],
  },
  {
    name: 'Requires-Python that excludes 3.11 drops even the sdist',
    keys: { pythonVersions: ['3.11'] },
    files: [upstream(SDIST, { requiresPython: '>=3.12' }), upstream(WHEEL_PURE, { requiresPython: '>=3.8' })],
    want: [WHEEL_PURE],
  },
  {
    name: 'keep_latest = 2 counts releases with an unyanked file, skipping a yanked one',
    keys: { keepLatest: 2 },
    files: [
      'demo-1.0.tar.gz',
      'demo-1.1.tar.gz',
      upstream('demo-1.2.tar.gz', { yanked: 'bad' }),
      'demo-1.3.tar.gz',
    ],
    want: ['demo-1.1.tar.gz', 'demo-1.3.tar.gz'],
  },
  {
    name: 'keep_latest = 1 with prereleases = false skips the rc',
    keys: { keepLatest: 1, prereleases: false },
    files: ['demo-1.0.tar.gz', 'demo-1.1.tar.gz', 'demo-2.0rc1.tar.gz'],
    want: ['demo-1.1.tar.gz'],
  },
  {
    name: 'keep_latest = 1 with prereleases on keeps the rc',
    keys: { keepLatest: 1 },
    files: ['demo-1.0.tar.gz', 'demo-1.1.tar.gz', 'demo-2.0rc1.tar.gz'],
    want: ['demo-2.0rc1.tar.gz'],
  },
  {
    name: 'a specifier in package_matches beats keep_latest',
    keys: { keepLatest: 1 },
    packageMatches: ['demo<1.1'],
    files: ['demo-0.9.tar.gz', 'demo-1.0.tar.gz', 'demo-1.1.tar.gz'],
    want: ['demo-1.0.tar.gz'],
  },
  {
    name: 'a pin keeps its yanked pre-release',
    keys: { keepLatest: 1, prereleases: false },
    packageMatches: ['Demo==2.0b1'],
    files: ['demo-1.0.tar.gz', upstream('demo-2.0b1.tar.gz', { yanked: '' })],
    want: ['demo-2.0b1.tar.gz'],
  },
  {
    name: 'a specifier on its own filters versions with no other key',
    keys: {},
    packageMatches: ['demo>=1.0,<2', 'other'],
    files: ['demo-0.9.tar.gz', 'demo-1.0.tar.gz', 'demo-1.5-py3-none-any.whl', 'demo-2.0.tar.gz'],
    want: ['demo-1.0.tar.gz', 'demo-1.5-py3-none-any.whl'],
  },
  {
    name: 'a glob match puts no constraint on versions',
    keys: {},
    packageMatches: ['dem*', 'other<1'],
    files: ['demo-0.9.tar.gz', 'demo-2.0.tar.gz'],
    want: ['demo-0.9.tar.gz', 'demo-2.0.tar.gz'],
  },
];

for (const c of cases) {
  test(`planProject selects: ${c.name}`, () => {
    assert.deepEqual(
      downloads(c.files ?? ALL_1_0, c.keys, c.packageMatches, c.filenameMatches),
      [...c.want].sort(),
    );
  });
}

test('files a key drops are removed when deletions are allowed, retained while they are not', () => {
  const filters = compileFilters([], [], { ...OPEN_SELECTION, pythonVersions: ['3.11'] });
  const page = demoPage([WHEEL_311, WHEEL_312_WIN, SDIST].map((f) => upstream(f)));
  const record = held([WHEEL_311, WHEEL_312_WIN, SDIST]);
  const plan = planProject(page, record, filters, allowed);
  assert.deepEqual(plan.remove, [WHEEL_312_WIN]);
  assert.deepEqual(plan.unlinked, [WHEEL_312_WIN]);
  assert.deepEqual(plan.keep.map((f) => f.filename).sort(), [SDIST, WHEEL_311].sort());
  assert.deepEqual(plan.download, []);
  const whileHeld = planProject(page, record, filters, { cleanup: true, isDeletionAllowed: false });
  assert.deepEqual([whileHeld.remove, whileHeld.retain.map((f) => f.filename)], [[], [WHEEL_312_WIN]]);
  const noCleanup = planProject(page, record, filters, { cleanup: false, isDeletionAllowed: true });
  assert.deepEqual([noCleanup.remove, noCleanup.unlinked], [[], []]);
});

test('package_matches specifiers do not change project matching or the literal project list', () => {
  const filters = compileFilters(['requests>=2.30', 'Numpy<2', '!six'], []);
  assert.deepEqual(filters.literalProjects, ['numpy', 'requests']);
  assert.ok(filters.matchProject('NumPy'));
  assert.ok(!filters.matchProject('six'));
});
