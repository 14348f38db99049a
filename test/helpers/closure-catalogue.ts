// A fake upstream catalogue for the dependency closure (issue #11 part 3): dependencies that differ by
// markers (one only on Windows, one only on Python < 3.10, one only with an extra), and each source of
// metadata: PEP 658 `.metadata` (alpha), the METADATA inside a wheel the upstream serves no `.metadata`
// for (beta), an sdist's PKG-INFO of Metadata-Version 2.2 (gamma) and one of 2.1, which states nothing
// (delta). Every distribution installs with pip and no network (dist-builder.ts).
import type { BuiltDist } from './dist-builder.js';
import { buildSdist, buildWheel } from './dist-builder.js';
import type { FakeUpstream } from './fake-upstream.js';

/** Requires-Dist of every fakepkg-alpha release. */
export const ALPHA_REQUIRES = [
  'fakepkg-beta>=1.0',
  'fakepkg-win; sys_platform == "win32"',
  'fakepkg-old; python_version < "3.10"',
  'fakepkg-extra; extra == "fast"',
];

/** A wheel served without its PEP 658 `.metadata`: its dependencies come from the wheel itself. */
function withoutMetadata(dist: BuiltDist): BuiltDist {
  return { filename: dist.filename, bytes: dist.bytes, version: dist.version };
}

/** A fakepkg-alpha release (PEP 658 metadata served). */
export function alphaWheel(version: string, requiresDist: readonly string[] = ALPHA_REQUIRES): BuiltDist {
  return buildWheel({ name: 'fakepkg-alpha', version, requiresDist, providesExtra: ['fast'] });
}

export function seedClosureCatalogue(fake: FakeUpstream): void {
  fake.addProject('fakepkg-alpha', [alphaWheel('1.0'), alphaWheel('1.1')]);
  fake.addProject('fakepkg-beta', [
    withoutMetadata(buildWheel({ name: 'fakepkg-beta', version: '0.9' })),
    withoutMetadata(buildWheel({ name: 'fakepkg-beta', version: '1.0', requiresDist: ['fakepkg-gamma'] })),
    withoutMetadata(buildWheel({ name: 'fakepkg-beta', version: '1.1', requiresDist: ['fakepkg-gamma'] })),
  ]);
  fake.addProject('fakepkg-gamma', [
    buildSdist({
      name: 'fakepkg-gamma',
      version: '1.0',
      metadataVersion: '2.2',
      requiresDist: ['fakepkg-delta'],
    }),
  ]);
  fake.addProject('fakepkg-delta', [buildSdist({ name: 'fakepkg-delta', version: '1.0' })]);
  fake.addProject('fakepkg-win', [buildWheel({ name: 'fakepkg-win', version: '1.0' })]);
  fake.addProject('fakepkg-old', [buildWheel({ name: 'fakepkg-old', version: '1.0' })]);
  fake.addProject('fakepkg-extra', [buildWheel({ name: 'fakepkg-extra', version: '1.0' })]);
  fake.addProject('fakepkg-unrelated', [buildWheel({ name: 'fakepkg-unrelated', version: '1.0' })]);
}

/** The projects the closure of `fakepkg-alpha[fast]` holds on CPython 3.11, manylinux x86_64. */
export const LINUX_311_CLOSURE = [
  'fakepkg-alpha',
  'fakepkg-beta',
  'fakepkg-delta',
  'fakepkg-extra',
  'fakepkg-gamma',
];

/** The same on CPython 3.9 and 3.11, manylinux x86_64 and win_amd64: Windows and Python < 3.10 too. */
export const TWO_ENVIRONMENTS_CLOSURE = [...LINUX_311_CLOSURE, 'fakepkg-old', 'fakepkg-win'].sort();
