import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  computeClosure,
  formatReason,
  rootsFromPackageMatches,
  type ClosureInput,
  type KnownDependencies,
} from '../../../src/plan/closure.js';
import { targetEnvironments, type TargetEnvironment } from '../../../src/plan/markers.js';
import { parseRequirement } from '../../../src/plan/requirements.js';
import { compilePlatforms, compilePythonVersions } from '../../../src/plan/tags.js';
import type { VersionPolicy } from '../../../src/plan/versions.js';

/** project → version → Requires-Dist, or 'unknown' (no metadata states them). */
type Index = Record<string, Record<string, readonly string[] | 'unknown'>>;

const INDEX: Index = {
  'fakepkg-alpha': {
    '1.0': ['fakepkg-beta<1.0'],
    '1.1': [
      'fakepkg-beta>=1.0',
      'fakepkg-win; sys_platform == "win32"',
      'fakepkg-old; python_version < "3.10"',
      'fakepkg-extra; extra == "extra1"',
    ],
  },
  'fakepkg-beta': {
    '0.9': ['fakepkg-legacy'],
    '1.0': [],
    '1.1': ['fakepkg-common'],
    '1.2b1': ['fakepkg-pre'],
  },
  'fakepkg-win': { '1.0': ['fakepkg-common>=2'] },
  'fakepkg-old': { '1.0': [] },
  'fakepkg-extra': { '1.0': ['fakepkg-gamma[fast]'] },
  'fakepkg-gamma': { '1.0': ['fakepkg-speedup; extra == "fast"', 'fakepkg-slow; extra == "slow"'] },
  'fakepkg-speedup': { '1.0': [] },
  'fakepkg-slow': { '1.0': [] },
  'fakepkg-common': { '1.0': [], '2.0': [] },
  'fakepkg-legacy': { '1.0': [] },
  'fakepkg-pre': { '1.0': [] },
};

function environments(pythonVersions: string, platforms: string): TargetEnvironment[] {
  const python = compilePythonVersions(pythonVersions.split(' ').filter(Boolean));
  const plats = compilePlatforms(platforms.split(' ').filter(Boolean));
  return targetEnvironments(
    python.versions,
    plats.platforms.map((p) => p.markers),
  );
}

function fullInput(
  roots: string[],
  envs: TargetEnvironment[],
  policy: VersionPolicy,
  index: Index = INDEX,
): ClosureInput {
  return {
    roots: roots.map((text, i) => ({ requirement: parseRequirement(text), origin: `reqs.txt:${i + 1}` })),
    environments: envs,
    policy,
    releases: (project) => {
      const versions = index[project];
      return versions === undefined
        ? undefined
        : Object.keys(versions).map((version) => ({ version, isYanked: false }));
    },
    dependencies: (project, version): KnownDependencies | undefined => {
      const deps = index[project]?.[version];
      if (deps === undefined) return undefined;
      return deps === 'unknown' ? 'unknown' : { requirements: deps.map(parseRequirement) };
    },
  };
}

const ALL: VersionPolicy = { keepLatest: null, prereleases: false };
const setOf = (result: ReturnType<typeof computeClosure>): Record<string, string> =>
  Object.fromEntries([...result.projects.values()].map((p) => [p.project, p.versions.join(' ')]));

test('closure: the exact project set for Linux on 3.11 and for Windows on 3.9', () => {
  const roots = ['fakepkg-alpha[extra1]>=1.1'];
  const linux = computeClosure(fullInput(roots, environments('3.11', 'manylinux_x86_64'), ALL));
  assert.equal(linux.isComplete, true);
  assert.deepEqual(setOf(linux), {
    'fakepkg-alpha': '1.1',
    'fakepkg-beta': '1.1 1.0',
    'fakepkg-common': '2.0 1.0',
    'fakepkg-extra': '1.0',
    'fakepkg-gamma': '1.0',
    'fakepkg-speedup': '1.0',
  });
  const windows = computeClosure(fullInput(roots, environments('3.9', 'win_amd64'), ALL));
  assert.deepEqual(setOf(windows), {
    'fakepkg-alpha': '1.1',
    'fakepkg-beta': '1.1 1.0',
    'fakepkg-common': '2.0 1.0',
    'fakepkg-extra': '1.0',
    'fakepkg-gamma': '1.0',
    'fakepkg-old': '1.0',
    'fakepkg-speedup': '1.0',
    'fakepkg-win': '1.0',
  });
  assert.deepEqual(windows.projects.get('fakepkg-common')?.specifiers, ['', '>=2']);
  assert.deepEqual(windows.projects.get('fakepkg-gamma')?.extras, ['fast']);
  // Without the extra, neither fakepkg-extra nor what it pulls in.
  const plain = computeClosure(
    fullInput(['fakepkg-alpha>=1.1'], environments('3.11 3.12', 'manylinux_x86_64 macosx_arm64'), ALL),
  );
  assert.deepEqual(Object.keys(setOf(plain)), ['fakepkg-alpha', 'fakepkg-beta', 'fakepkg-common']);
});

test('closure: an open dimension follows markers on it; keep_latest applies per requirement', () => {
  const openPython = computeClosure(
    fullInput(['fakepkg-alpha>=1.1'], environments('', 'manylinux_x86_64'), ALL),
  );
  assert.deepEqual(Object.keys(setOf(openPython)), [
    'fakepkg-alpha',
    'fakepkg-beta',
    'fakepkg-common',
    'fakepkg-old',
  ]);
  const openAll = computeClosure(fullInput(['fakepkg-alpha>=1.1'], environments('', ''), ALL));
  assert.deepEqual(Object.keys(setOf(openAll)), [
    'fakepkg-alpha',
    'fakepkg-beta',
    'fakepkg-common',
    'fakepkg-old',
    'fakepkg-win',
  ]);
  // Every alpha (no specifier), keep_latest = 1: alpha 1.1 only, beta's latest >= 1.0 is 1.1.
  const latest = computeClosure(
    fullInput(['fakepkg-alpha'], environments('3.11', 'manylinux_x86_64'), {
      keepLatest: 1,
      prereleases: false,
    }),
  );
  assert.deepEqual(setOf(latest), { 'fakepkg-alpha': '1.1', 'fakepkg-beta': '1.1', 'fakepkg-common': '2.0' });
  // Both alphas: alpha 1.0 needs beta<1.0, which brings fakepkg-legacy; the pre-release 1.2b1 stays out.
  const both = computeClosure(fullInput(['fakepkg-alpha'], environments('3.11', 'manylinux_x86_64'), ALL));
  assert.deepEqual(setOf(both)['fakepkg-beta'], '1.1 1.0 0.9');
  assert.ok(both.projects.has('fakepkg-legacy'));
  assert.ok(!both.projects.has('fakepkg-pre'));
  // A root whose marker no target meets is no root.
  const none = computeClosure(
    fullInput(['fakepkg-alpha; sys_platform == "win32"'], environments('3.11', 'manylinux_x86_64'), ALL),
  );
  assert.equal(none.projects.size, 0);
});

test('closure: why each project is there', () => {
  const result = computeClosure(
    fullInput(['fakepkg-alpha[extra1]>=1.1'], environments('3.9', 'win_amd64'), ALL),
  );
  const why = (project: string): string[] =>
    (result.projects.get(project)?.reasons ?? []).map((r) => formatReason(project, r));
  assert.deepEqual(why('fakepkg-alpha'), ['fakepkg-alpha: reqs.txt:1 requires fakepkg-alpha[extra1]>=1.1']);
  assert.deepEqual(why('fakepkg-beta'), ['fakepkg-beta: fakepkg-alpha 1.1 requires fakepkg-beta>=1.0']);
  assert.deepEqual(why('fakepkg-win'), [
    'fakepkg-win: fakepkg-alpha 1.1 requires fakepkg-win; sys_platform == "win32"',
  ]);
  assert.deepEqual(why('fakepkg-common').sort(), [
    'fakepkg-common: fakepkg-beta 1.1 requires fakepkg-common',
    'fakepkg-common: fakepkg-win 1.0 requires fakepkg-common>=2',
  ]);
});

test('closure: stepwise, reading each page and each kept release metadata once', () => {
  const pages = new Set<string>();
  const metadata = new Set<string>();
  const reads: string[] = [];
  const full = fullInput(['fakepkg-alpha[extra1]>=1.1'], environments('3.9', 'win_amd64'), ALL);
  const input: ClosureInput = {
    ...full,
    releases: (project) => (pages.has(project) ? full.releases(project) : undefined),
    dependencies: (project, version) =>
      metadata.has(`${project} ${version}`) ? full.dependencies(project, version) : undefined,
  };
  let result = computeClosure(input);
  let steps = 0;
  while (!result.isComplete) {
    steps += 1;
    assert.ok(steps <= 20, 'the closure converges in a bounded number of steps');
    for (const project of result.needPages) {
      assert.ok(!pages.has(project), `page of ${project} asked twice`);
      pages.add(project);
      reads.push(`page ${project}`);
    }
    for (const { project, version } of result.needMetadata) {
      const key = `${project} ${version}`;
      assert.ok(!metadata.has(key), `metadata of ${key} asked twice`);
      metadata.add(key);
      reads.push(`metadata ${key}`);
    }
    result = computeClosure(input);
  }
  assert.deepEqual(setOf(result), setOf(computeClosure(full)));
  assert.equal(reads.filter((r) => r.startsWith('metadata')).length, 10, reads.join('\n'));
  assert.ok(
    !metadata.has('fakepkg-alpha 1.0'),
    'metadata of releases the closure does not keep is never read',
  );
  // A second run with everything cached asks for nothing; a new release asks for its metadata only.
  assert.equal(computeClosure(input).isComplete, true);
  const newer: Index = { ...INDEX, 'fakepkg-beta': { ...INDEX['fakepkg-beta'], '1.3': ['fakepkg-new'] } };
  const next = fullInput(['fakepkg-alpha[extra1]>=1.1'], environments('3.9', 'win_amd64'), ALL, newer);
  const again = computeClosure({
    ...next,
    dependencies: (p, v) => (metadata.has(`${p} ${v}`) ? next.dependencies(p, v) : undefined),
  });
  assert.deepEqual(again.needMetadata, [{ project: 'fakepkg-beta', version: '1.3' }]);
});

test('closure: releases whose dependencies are unknown are reported, and the closure completes', () => {
  const index: Index = { ...INDEX, 'fakepkg-beta': { '1.0': 'unknown', '1.1': ['fakepkg-common'] } };
  const result = computeClosure(
    fullInput(['fakepkg-alpha>=1.1'], environments('3.11', 'manylinux_x86_64'), ALL, index),
  );
  assert.equal(result.isComplete, true);
  assert.deepEqual(result.unknownDependencies, [{ project: 'fakepkg-beta', version: '1.0' }]);
  const missing = computeClosure(
    fullInput(['fakepkg-alpha>=1.1', 'no-such-project'], environments('3.11', ''), ALL),
  );
  assert.deepEqual(missing.needPages, ['no-such-project']);
  assert.equal(missing.isComplete, false);
});

test('closure: literal package_matches entries are roots, with their specifiers; globs and exclusions are not', () => {
  const roots = rootsFromPackageMatches([
    'fakepkg-alpha>=1.1',
    'zope.*',
    '!fakepkg-beta',
    'Fakepkg_Old',
    'bad>=x',
  ]);
  assert.deepEqual(
    roots.map((r) => `${r.origin} ${r.requirement.project}${r.requirement.specifier}`),
    ['package_matches fakepkg-alpha>=1.1', 'package_matches fakepkg-old'],
  );
  const result = computeClosure({ ...fullInput([], environments('3.11', 'manylinux_x86_64'), ALL), roots });
  assert.deepEqual(Object.keys(setOf(result)), [
    'fakepkg-alpha',
    'fakepkg-beta',
    'fakepkg-common',
    'fakepkg-old',
  ]);
  assert.equal(
    formatReason('fakepkg-old', result.projects.get('fakepkg-old')?.reasons[0] as never),
    'fakepkg-old: package_matches requires Fakepkg_Old',
  );
});
