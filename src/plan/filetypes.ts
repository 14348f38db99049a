// File kinds from file names (issue #11, part 1): package type, extension and python label the way
// microrepo saw them in PyPI's JSON (`packagetype`, the last dot-part of the name, `python_version`),
// told from the name alone since simple pages carry no packagetype. `package_types` and `extensions`
// compile here. Pure.
import { parseWheelName, type WheelName } from './tags.js';

/** microrepo's (and PyPI's) package type names. */
const PACKAGE_TYPES = [
  'sdist',
  'bdist_wheel',
  'bdist_egg',
  'bdist_wininst',
  'bdist_msi',
  'bdist_dumb',
  'bdist_rpm',
  'bdist_dmg',
] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];

export const PACKAGE_TYPES_EXPECTED = `package types among ${PACKAGE_TYPES.join(', ')}`;
export const EXTENSIONS_EXPECTED = 'file name extensions like whl gz tgz zip bz2 egg exe msi (or tar.gz)';

/** What a distribution file name says about the file. */
export interface FileKind {
  /** null when the name is no distribution format we know. */
  readonly packageType: PackageType | null;
  /** microrepo's extension: the last dot-part, lower-cased (`gz` for `.tar.gz`). */
  readonly extension: string;
  /**
   * microrepo's python label (PyPI's `python_version`): a wheel's python tag field (`py2.py3`), `source`
   * for an sdist, `X.Y` for an egg or installer built for one Python (`-py2.7`), `any` otherwise.
   */
  readonly pythonLabel: string;
  /** The parsed wheel name, for wheels. */
  readonly wheel: WheelName | null;
  /**
   * For eggs, installers and dumb binaries: the platform as a wheel-style tag (`linux_x86_64`, `win32`,
   * `win_amd64`, `macosx_10_9_x86_64`), `any` when the name names none; null for wheels and sdists.
   */
  readonly platformTag: string | null;
}

const ARCHIVES = [
  '.tar.gz',
  '.tar.bz2',
  '.tar.xz',
  '.tar.zst',
  '.tar.z',
  '.tgz',
  '.tbz',
  '.txz',
  '.tar',
  '.zip',
];

/** distutils' get_platform() suffix that bdist_dumb puts before the archive extension. */
const DUMB_PLATFORM =
  /\.(linux-[a-z0-9_]+|win32|win-amd64|win-arm64|macosx-\d+(?:\.\d+)*-[a-z0-9_]+|(?:cygwin|freebsd|openbsd|netbsd|solaris|sunos|aix)-[a-z0-9_.-]+)$/;

/** distutils platform (`win-amd64`, `macosx-10.9-x86_64`) → wheel platform tag (`win_amd64`, `macosx_10_9_x86_64`). */
function toPlatformTag(distutilsPlatform: string | undefined): string {
  return distutilsPlatform === undefined ? 'any' : distutilsPlatform.replace(/[-.]/g, '_');
}

/** Tells a file's kind from its name. */
export function fileKind(filename: string): FileKind {
  const lower = filename.toLowerCase();
  const extension = lower.includes('.') ? (lower.split('.').pop() as string) : '';
  const base = { extension, wheel: null, platformTag: null };
  const wheel = parseWheelName(filename);
  if (wheel !== null) return { ...base, packageType: 'bdist_wheel', pythonLabel: wheel.pythonTag, wheel };
  if (lower.endsWith('.egg')) {
    // name-version-pyX.Y(-platform)?.egg
    const m = /-py(\d\.\d{1,2})(?:-(.+))?\.egg$/.exec(lower);
    return {
      ...base,
      packageType: 'bdist_egg',
      pythonLabel: m?.[1] ?? 'any',
      platformTag: toPlatformTag(m?.[2]),
    };
  }
  if (lower.endsWith('.exe') || lower.endsWith('.msi')) {
    // name-version.win32(-pyX.Y)?.exe, name-version.win-amd64-pyX.Y.msi
    const m = /\.(win32|win-amd64|win-arm64)(?:-py(\d\.\d{1,2}))?\.(?:exe|msi)$/.exec(lower);
    return {
      ...base,
      packageType: lower.endsWith('.exe') ? 'bdist_wininst' : 'bdist_msi',
      pythonLabel: m?.[2] ?? 'any',
      platformTag: toPlatformTag(m?.[1] ?? 'win32'),
    };
  }
  if (lower.endsWith('.rpm'))
    return { ...base, packageType: 'bdist_rpm', pythonLabel: 'any', platformTag: 'any' };
  if (lower.endsWith('.dmg')) {
    const m = /-py(\d\.\d{1,2})/.exec(lower);
    return { ...base, packageType: 'bdist_dmg', pythonLabel: m?.[1] ?? 'any', platformTag: 'any' };
  }
  const archive = ARCHIVES.find((ext) => lower.endsWith(ext));
  if (archive === undefined) return { ...base, packageType: null, pythonLabel: 'any' };
  const dumb = DUMB_PLATFORM.exec(lower.slice(0, -archive.length));
  if (dumb !== null) {
    return { ...base, packageType: 'bdist_dumb', pythonLabel: 'any', platformTag: toPlatformTag(dumb[1]) };
  }
  return { ...base, packageType: 'sdist', pythonLabel: 'source' };
}

/**
 * For an installer or dumb binary (`pywin32-214.win32-py2.7.exe`, `foo-1.0.linux-x86_64.tar.gz`), the
 * sdist name of the same release (`pywin32-214.tar.gz`), so that parseFileVersion can read its version;
 * any other name unchanged.
 */
export function binarySdistName(filename: string): string {
  const lower = filename.toLowerCase();
  const installer = /\.(?:win32|win-amd64|win-arm64)(?:-py\d\.\d{1,2})?\.(?:exe|msi)$/.exec(lower);
  if (installer !== null) return `${filename.slice(0, installer.index)}.tar.gz`;
  const archive = ARCHIVES.find((ext) => lower.endsWith(ext));
  if (archive === undefined) return filename;
  const dumb = DUMB_PLATFORM.exec(lower.slice(0, -archive.length));
  return dumb === null ? filename : `${filename.slice(0, dumb.index)}.tar.gz`;
}

/** Is `value` a package type name we know? */
export function isPackageType(value: string): value is PackageType {
  return (PACKAGE_TYPES as readonly string[]).includes(value.trim().toLowerCase());
}

/** Is `value` a plausible extension (`whl`, `.gz`, `tar.gz`)? */
export function isExtension(value: string): boolean {
  return /^\.?[a-z0-9]+(?:\.[a-z0-9]+)*$/i.test(value.trim());
}

/** A compiled `package_types` + `extensions` pair; an empty list selects everything on its side. */
export interface KindSelection {
  /** Why the file is dropped (`package_types` or `extensions`), or null when it passes. */
  reject(filename: string, kind: FileKind): 'package_types' | 'extensions' | null;
}

export function compileKindSelection(
  packageTypes: readonly string[],
  extensions: readonly string[],
): KindSelection {
  const types = new Set(packageTypes.map((t) => t.trim().toLowerCase()));
  const exts = extensions.map((e) => e.trim().toLowerCase().replace(/^\./, ''));
  return {
    reject(filename, kind) {
      if (types.size > 0 && (kind.packageType === null || !types.has(kind.packageType)))
        return 'package_types';
      if (exts.length === 0) return null;
      const lower = filename.toLowerCase();
      return exts.some((e) => e === kind.extension || lower.endsWith(`.${e}`)) ? null : 'extensions';
    },
  };
}
