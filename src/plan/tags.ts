// Wheel compatibility tags (issue #11, part 1): wheel file names, compressed tag sets, and which tag
// triples a CPython X.Y on a given platform would accept, as packaging.tags.sys_tags() offers them.
// The `python_versions` and `platforms` keys compile here. Pure.
import { normalizeName } from '../model/names.js';

/** One expanded tag triple, lower-cased (PEP 425). */
export interface Tag {
  readonly interpreter: string;
  readonly abi: string;
  readonly platform: string;
}

/** A parsed wheel file name (binary distribution format spec). */
export interface WheelName {
  /** The distribution name as written (`zope.interface`, `Foo_Bar`). */
  readonly name: string;
  /** Normalised project name. */
  readonly project: string;
  readonly version: string;
  /** The optional build tag (`1build`), or null. */
  readonly build: string | null;
  /** The python tag field as written, lower-cased (`py2.py3`, `cp311`): microrepo's "python_version". */
  readonly pythonTag: string;
  /** Every triple of the compressed tag set. */
  readonly tags: readonly Tag[];
}

/** Upper bound on the triples of one file name, so a hostile name cannot make us expand millions. */
const MAX_TRIPLES = 4096;

/** Expands a compressed tag set: `py2.py3-none-any` → two triples. Null when it is not three parts. */
export function expandTags(tagSet: string): Tag[] | null {
  const parts = tagSet.toLowerCase().split('-');
  if (parts.length !== 3) return null;
  const [interpreters, abis, platforms] = parts.map((p) => p.split('.')) as [string[], string[], string[]];
  if ([interpreters, abis, platforms].some((list) => list.some((item) => item === ''))) return null;
  if (interpreters.length * abis.length * platforms.length > MAX_TRIPLES) return null;
  const tags: Tag[] = [];
  for (const interpreter of interpreters)
    for (const abi of abis) for (const platform of platforms) tags.push({ interpreter, abi, platform });
  return tags;
}

/** Parses `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`; null when it is not a wheel name. */
export function parseWheelName(filename: string): WheelName | null {
  if (!filename.toLowerCase().endsWith('.whl')) return null;
  const parts = filename.slice(0, -4).split('-');
  if (parts.length !== 5 && parts.length !== 6) return null;
  const [name, version] = parts as [string, string];
  const build = parts.length === 6 ? (parts[2] as string) : null;
  if (name === '' || version === '' || (build !== null && !/^\d/.test(build))) return null;
  const tagSet = parts.slice(-3).join('-');
  const tags = expandTags(tagSet);
  if (tags === null) return null;
  return {
    name,
    project: normalizeName(name),
    version,
    build,
    pythonTag: (parts[parts.length - 3] as string).toLowerCase(),
    tags,
  };
}

// ---------------------------------------------------------------------------------------------------
// python_versions

/** A CPython version a mirror serves, `3.11` → { major: 3, minor: 11 }. */
export interface PythonVersion {
  readonly major: number;
  readonly minor: number;
}

/**
 * A compiled `python_versions` value. Empty (no versions, no labels) means the dimension is open:
 * every wheel passes on the Python side.
 */
export interface PythonSelection {
  /** CPython versions named (`3.11`, also `cp311` and `py311`): the target versions of the closure. */
  readonly versions: readonly PythonVersion[];
  /** microrepo labels matched literally against a file's python label (`cp27`, `py2.py3`, `py3`, `any`, `source`). */
  readonly labels: ReadonlySet<string>;
  readonly isOpen: boolean;
}

/** What one `python_versions` value means, or a reason it is invalid. */
export type PythonValue =
  | { readonly kind: 'version'; readonly version: PythonVersion; readonly label: string }
  | { readonly kind: 'label'; readonly label: string };

/** The expected-value text for `check` and config errors. */
export const PYTHON_VERSIONS_EXPECTED =
  'CPython versions like 3.11 (or microrepo labels: 2.7, cp27, py2, py27, py2.py3, any, source)';

/**
 * Reads one `python_versions` value. `X.Y` names a CPython version; `cpXY` and `pyXY` name one too and
 * also match files labelled so (microrepo); `pyX`, `py2.py3`, `any`, `source` are labels only.
 */
export function parsePythonValue(value: string): PythonValue | null {
  const v = value.trim().toLowerCase();
  const dotted = /^(\d)\.(\d{1,2})$/.exec(v);
  if (dotted !== null) return { kind: 'version', version: toVersion(dotted[1], dotted[2]), label: v };
  const nodot = /^(?:cp|py)(\d)(\d{1,2})$/.exec(v);
  if (nodot !== null) return { kind: 'version', version: toVersion(nodot[1], nodot[2]), label: v };
  // py3.10 was accepted by microrepo's samples: the PyPI JSON label for some old uploads.
  const pyDotted = /^py(\d)\.(\d{1,2})$/.exec(v);
  if (pyDotted !== null) return { kind: 'version', version: toVersion(pyDotted[1], pyDotted[2]), label: v };
  if (/^(?:py|cp)\d(?:\.(?:py|cp)\d{1,3})*$/.test(v) || v === 'any' || v === 'source') {
    return { kind: 'label', label: v };
  }
  return null;
}

function toVersion(major: string | undefined, minor: string | undefined): PythonVersion {
  return { major: Number(major), minor: Number(minor) };
}

/** Compiles `python_versions` values already checked with parsePythonValue (invalid ones are skipped). */
export function compilePythonVersions(values: readonly string[]): PythonSelection {
  const versions = new Map<string, PythonVersion>();
  const labels = new Set<string>();
  for (const raw of values) {
    const parsed = parsePythonValue(raw);
    if (parsed === null) continue;
    labels.add(parsed.label);
    if (parsed.kind === 'version') {
      versions.set(`${parsed.version.major}.${parsed.version.minor}`, parsed.version);
      labels.add(`${parsed.version.major}.${parsed.version.minor}`);
    }
  }
  const sorted = [...versions.values()].sort((a, b) => a.major - b.major || a.minor - b.minor);
  return { versions: sorted, labels, isOpen: labels.size === 0 };
}

/** The ABIs of a standard (non-debug, GIL) CPython X.Y build, as packaging's _cpython_abis names them. */
function cpythonAbis(v: PythonVersion): string[] {
  const nodot = `${v.major}${v.minor}`;
  if (v.major === 3 && v.minor >= 8) return [`cp${nodot}`];
  if (v.major === 3) return [`cp${nodot}m`];
  return [`cp${nodot}m`, `cp${nodot}mu`]; // 2.x: narrow (Windows, macOS) and wide (Linux) unicode builds
}

/**
 * Does CPython `v` offer the interpreter/ABI pair of `tag` with this kind of platform? Mirrors
 * cpython_tags() (with real platforms only) and compatible_tags() (real platforms and `any`).
 */
function isOfferedByPython(tag: Tag, v: PythonVersion): boolean {
  const { interpreter, abi } = tag;
  const isAny = tag.platform === 'any';
  const cp = `cp${v.major}${v.minor}`;
  if (!isAny) {
    if (interpreter === cp && (abi === 'none' || cpythonAbis(v).includes(abi))) return true;
    if (abi === 'abi3' && v.major === 3 && v.minor >= 2) {
      const m = /^cp3(\d{1,2})$/.exec(interpreter);
      if (m !== null && Number(m[1]) >= 2 && Number(m[1]) <= v.minor) return true;
    }
  } else if (interpreter === cp && abi === 'none') {
    return true;
  }
  // compatible_tags: pyXY, pyX, then every older pyXZ, with the `none` ABI, on real platforms and `any`.
  if (abi !== 'none') return false;
  if (interpreter === `py${v.major}`) return true;
  const py = new RegExp(`^py${v.major}(\\d{1,2})$`).exec(interpreter);
  return py !== null && Number(py[1]) <= v.minor;
}

// ---------------------------------------------------------------------------------------------------
// platforms

/** The environment markers a platform implies (PEP 508); null = that marker stays open. */
export interface PlatformMarkers {
  readonly sys_platform: string;
  readonly os_name: string;
  readonly platform_system: string;
  readonly platform_machine: string | null;
}

/** A compiled `platforms` value: a family and an architecture, with an optional highest OS version. */
export interface TargetPlatform {
  /** The value as written, lower-cased. */
  readonly value: string;
  readonly family: 'manylinux' | 'musllinux' | 'linux' | 'windows' | 'macosx' | 'any';
  readonly arch: string;
  /** `manylinux_2_28_x86_64` → [2, 28]: only tags up to that glibc / musl / macOS version. */
  readonly maxVersion: readonly [number, number] | null;
  /** The markers of machines of this platform; null for `any` (it adds no target environment). */
  readonly markers: PlatformMarkers | null;
  /** Would pip on such a machine accept a wheel with this platform tag? */
  accepts(platformTag: string): boolean;
}

export const PLATFORMS_EXPECTED =
  'platforms like manylinux_x86_64, musllinux_aarch64, linux_x86_64, win32, win_amd64, win_arm64, ' +
  'macosx_arm64, macosx_x86_64 (optionally with a highest version: manylinux_2_28_x86_64, macosx_11_0_arm64), or any';

const LEGACY_MANYLINUX: Readonly<Record<string, readonly [number, number]>> = {
  manylinux1: [2, 5],
  manylinux2010: [2, 12],
  manylinux2014: [2, 17],
};

const WINDOWS: Readonly<Record<string, string | null>> = {
  win32: null, // platform.machine() says AMD64 or x86 depending on the OS, not the interpreter
  win_amd64: 'AMD64',
  win_arm64: 'ARM64',
};

const MAC_ARCHES = new Set(['arm64', 'x86_64', 'i386', 'ppc', 'ppc64']);

function atMost(version: readonly [number, number], max: readonly [number, number] | null): boolean {
  return max === null || version[0] < max[0] || (version[0] === max[0] && version[1] <= max[1]);
}

/** packaging's _mac_binary_formats: the binary formats a macOS `version` on `cpuArch` runs. */
function macBinaryFormats(version: readonly [number, number], cpuArch: string): string[] {
  const v = version[0] * 100 + version[1];
  const formats = [cpuArch];
  if (cpuArch === 'x86_64') {
    if (v < 1004) return [];
    formats.push('intel', 'fat64', 'fat32');
  } else if (cpuArch === 'i386') {
    if (v < 1004) return [];
    formats.push('intel', 'fat32', 'fat');
  } else if (cpuArch === 'ppc64') {
    if (v > 1005 || v < 1004) return [];
    formats.push('fat64');
  } else if (cpuArch === 'ppc') {
    if (v > 1006) return [];
    formats.push('fat32', 'fat');
  }
  if (cpuArch === 'arm64' || cpuArch === 'x86_64') formats.push('universal2');
  if (['x86_64', 'i386', 'ppc64', 'ppc'].includes(cpuArch)) formats.push('universal');
  return formats;
}

/**
 * Would pip on some macOS up to `max` on `arch` accept `macosx_{major}_{minor}_{format}`? The union of
 * packaging's mac_platforms() over every macOS version: 10.x releases bump the minor, 11 and later are
 * offered as X_0 only, and arm64 machines take universal2 wheels built for 10.4 to 10.16.
 */
function macAccepts(
  major: number,
  minor: number,
  format: string,
  arch: string,
  max: readonly [number, number] | null,
): boolean {
  if (!atMost([major, minor], max)) return false;
  if (major === 10) {
    if (arch === 'arm64') return format === 'universal2' && minor >= 4 && minor <= 16;
    return minor <= 16 && macBinaryFormats([10, minor], arch).includes(format);
  }
  if (major >= 11 && minor === 0) return macBinaryFormats([major, 0], arch).includes(format);
  return false;
}

/** Reads one `platforms` value; null when it is not one we know. */
export function parsePlatform(value: string): TargetPlatform | null {
  const v = value.trim().toLowerCase();
  if (v === 'any') {
    return {
      value: v,
      family: 'any',
      arch: 'any',
      maxVersion: null,
      markers: null,
      accepts: (t) => t === 'any',
    };
  }
  if (v in WINDOWS) {
    const markers = {
      sys_platform: 'win32',
      os_name: 'nt',
      platform_system: 'Windows',
      platform_machine: WINDOWS[v] ?? null,
    };
    return { value: v, family: 'windows', arch: v, maxVersion: null, markers, accepts: (t) => t === v };
  }
  const linux = /^(manylinux|musllinux|linux)(?:_(\d+)_(\d+))?_([a-z0-9_]+)$/.exec(v);
  if (linux !== null) {
    const family = linux[1] as 'manylinux' | 'musllinux' | 'linux';
    const arch = linux[4] as string;
    if (family === 'linux' && linux[2] !== undefined) return null;
    const max: readonly [number, number] | null =
      linux[2] === undefined ? null : [Number(linux[2]), Number(linux[3])];
    const markers = {
      sys_platform: 'linux',
      os_name: 'posix',
      platform_system: 'Linux',
      platform_machine: arch,
    };
    return {
      value: v,
      family,
      arch,
      maxVersion: max,
      markers,
      accepts: (t) => linuxAccepts(t, family, arch, max),
    };
  }
  const mac = /^macosx(?:_(\d+)_(\d+))?_([a-z0-9_]+)$/.exec(v);
  if (mac !== null && MAC_ARCHES.has(mac[3] as string)) {
    const arch = mac[3] as string;
    const max: readonly [number, number] | null =
      mac[1] === undefined ? null : [Number(mac[1]), Number(mac[2])];
    const machine = arch === 'arm64' || arch === 'x86_64' ? arch : null;
    const markers = {
      sys_platform: 'darwin',
      os_name: 'posix',
      platform_system: 'Darwin',
      platform_machine: machine,
    };
    const accepts = (t: string): boolean => {
      const m = /^macosx_(\d+)_(\d+)_([a-z0-9_]+)$/.exec(t);
      return m !== null && macAccepts(Number(m[1]), Number(m[2]), m[3] as string, arch, max);
    };
    return { value: v, family: 'macosx', arch, maxVersion: max, markers, accepts };
  }
  return null;
}

/**
 * pip on Linux offers manylinux tags (PEP 600 `manylinux_X_Y`, and the 1/2010/2014 aliases for glibc
 * 2.5/2.12/2.17), musllinux tags, then plain `linux_<arch>`; a glibc machine offers no musllinux tag
 * and a musl one no manylinux tag.
 */
function linuxAccepts(
  tag: string,
  family: 'manylinux' | 'musllinux' | 'linux',
  arch: string,
  max: readonly [number, number] | null,
): boolean {
  if (tag === `linux_${arch}`) return true;
  if (family === 'linux') return false;
  const m = /^(manylinux|musllinux)_(\d+)_(\d+)_(.+)$/.exec(tag);
  if (m !== null) return m[1] === family && m[4] === arch && atMost([Number(m[2]), Number(m[3])], max);
  const legacy = /^(manylinux(?:1|2010|2014))_(.+)$/.exec(tag);
  if (legacy === null || family !== 'manylinux' || legacy[2] !== arch) return false;
  const glibc = LEGACY_MANYLINUX[legacy[1] as string];
  return glibc !== undefined && atMost(glibc, max);
}

/** A compiled `platforms` value list. Empty means the dimension is open: every platform tag passes. */
export interface PlatformSelection {
  readonly platforms: readonly TargetPlatform[];
  readonly isOpen: boolean;
  /** `any` passes always; a real tag passes when some listed platform accepts it (or the list is empty). */
  accepts(platformTag: string): boolean;
}

/** Compiles `platforms` values already checked with parsePlatform (invalid ones are skipped). */
export function compilePlatforms(values: readonly string[]): PlatformSelection {
  const platforms = values.map(parsePlatform).filter((p): p is TargetPlatform => p !== null);
  const isOpen = platforms.length === 0;
  return {
    platforms,
    isOpen,
    accepts: (tag) => tag === 'any' || isOpen || platforms.some((p) => p.accepts(tag)),
  };
}

/**
 * Is a wheel with these triples kept? True when one triple is offered by one listed CPython version (or
 * its python tag field is a listed microrepo label) on one listed platform; an open dimension accepts
 * anything on its side.
 */
export function isWheelSelected(
  wheel: Pick<WheelName, 'tags' | 'pythonTag'>,
  python: PythonSelection,
  platforms: PlatformSelection,
): boolean {
  const isLabelled = python.labels.has(wheel.pythonTag);
  return wheel.tags.some(
    (tag) =>
      platforms.accepts(tag.platform) &&
      (python.isOpen || isLabelled || python.versions.some((v) => isOfferedByPython(tag, v))),
  );
}
