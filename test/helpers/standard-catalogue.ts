// A small realistic catalogue for the fake upstream: odd names, a dependency chain, wheels + sdists + a .zip
// sdist, yanked files with and without reason, Requires-Python that pip must honour, a prerelease.
import { buildSdist, buildWheel } from './dist-builder.js';
import type { FakeUpstream, FakeUpstreamOptions } from './fake-upstream.js';
import { startFakeUpstream } from './fake-upstream.js';

export interface FileRef {
  readonly project: string;
  readonly filename: string;
}

export interface StandardCatalogue {
  /** Display names as added. */
  readonly zope: 'Zope.Interface';
  readonly fooBar: 'foo_bar';
  readonly demoApp: 'demo-app';
  readonly demoLib: 'demo-lib';
  readonly names: readonly string[];
  /** foo_bar 1.2 wheel, yanked with reason "broken build" (its only file). */
  readonly yankedWithReason: FileRef & { readonly reason: string; readonly version: string };
  /** demo-lib 0.9 wheel, yanked without reason. */
  readonly yankedWithoutReason: FileRef & { readonly version: string };
  /** foo_bar 2.0, Requires-Python `<3`: pip on Python 3 must skip it. */
  readonly python2Only: readonly FileRef[];
  /** demo-app 2.0rc1 (wheel only): pip must not pick it without --pre. */
  readonly prerelease: FileRef & { readonly version: string };
  /** foo_bar 1.1 as a legacy `.zip` sdist. */
  readonly zipSdist: FileRef;
  /** What `pip install demo-app` resolves to on Python 3.8+, by normalised name. */
  readonly expectedDemoAppInstall: Readonly<Record<string, string>>;
}

/** Adds the standard catalogue to a fake (which should be empty). */
export function seedStandard(fake: FakeUpstream): StandardCatalogue {
  const modern = { requiresPython: '>=3.8' };

  fake.addProject('Zope.Interface', [
    buildWheel({ name: 'Zope.Interface', version: '5.0' }),
    buildSdist({ name: 'Zope.Interface', version: '5.0' }),
    buildWheel({ name: 'Zope.Interface', version: '5.1', ...modern }),
    buildSdist({ name: 'Zope.Interface', version: '5.1', ...modern }),
  ]);

  const yankedFooBar = buildWheel({ name: 'foo_bar', version: '1.2', ...modern });
  const zip = buildSdist({ name: 'foo_bar', version: '1.1', format: 'zip', ...modern });
  const py2 = [
    buildWheel({ name: 'foo_bar', version: '2.0', requiresPython: '<3' }),
    buildSdist({ name: 'foo_bar', version: '2.0', requiresPython: '<3' }),
  ];
  fake.addProject('foo_bar', [
    buildWheel({ name: 'foo_bar', version: '1.0' }),
    buildSdist({ name: 'foo_bar', version: '1.0' }),
    buildWheel({ name: 'foo_bar', version: '1.1', ...modern }),
    zip,
    yankedFooBar,
    ...py2,
  ]);
  fake.yank('foo_bar', yankedFooBar.filename, 'broken build');

  const yankedLib = buildWheel({ name: 'demo-lib', version: '0.9', requiresDist: ['foo_bar'] });
  fake.addProject('demo-lib', [
    yankedLib,
    buildWheel({ name: 'demo-lib', version: '1.0', requiresDist: ['foo_bar'] }),
    buildWheel({ name: 'demo-lib', version: '1.1', requiresDist: ['foo_bar>=1.0'], ...modern }),
    buildSdist({ name: 'demo-lib', version: '1.1', requiresDist: ['foo_bar>=1.0'], ...modern }),
  ]);
  fake.yank('demo-lib', yankedLib.filename);

  const pre = buildWheel({ name: 'demo-app', version: '2.0rc1', requiresDist: ['demo-lib>=1.1'], ...modern });
  fake.addProject('demo-app', [
    buildWheel({ name: 'demo-app', version: '1.0', requiresDist: ['demo-lib>=1.0'], ...modern }),
    buildSdist({ name: 'demo-app', version: '1.0', requiresDist: ['demo-lib>=1.0'], ...modern }),
    pre,
  ]);

  return {
    zope: 'Zope.Interface',
    fooBar: 'foo_bar',
    demoApp: 'demo-app',
    demoLib: 'demo-lib',
    names: ['Zope.Interface', 'foo_bar', 'demo-lib', 'demo-app'],
    yankedWithReason: {
      project: 'foo_bar',
      filename: yankedFooBar.filename,
      reason: 'broken build',
      version: '1.2',
    },
    yankedWithoutReason: { project: 'demo-lib', filename: yankedLib.filename, version: '0.9' },
    python2Only: py2.map((d) => ({ project: 'foo_bar', filename: d.filename })),
    prerelease: { project: 'demo-app', filename: pre.filename, version: '2.0rc1' },
    zipSdist: { project: 'foo_bar', filename: zip.filename },
    expectedDemoAppInstall: { 'demo-app': '1.0', 'demo-lib': '1.1', 'foo-bar': '1.1' },
  };
}

/** startFakeUpstream + seedStandard. */
export async function startStandardUpstream(
  options: FakeUpstreamOptions = {},
): Promise<{ fake: FakeUpstream; catalogue: StandardCatalogue }> {
  const fake = await startFakeUpstream(options);
  return { fake, catalogue: seedStandard(fake) };
}
