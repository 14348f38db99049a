// Real, installable Python distributions built in memory with deterministic bytes (stable sha256).
// Wheels follow the binary distribution format; sdists carry an in-tree PEP 517 backend that needs only
// the Python standard library, so pip builds them with no index and no network.
import { createHash } from 'node:crypto';
import { buildTarGz } from './tar.js';
import { buildZip } from './zip.js';

export interface DistSpec {
  /** Project name as displayed (`Zope.Interface`); file names use the escaped form. */
  readonly name: string;
  readonly version: string;
  /** PEP 508 requirement strings, e.g. `demo-lib>=1.0`. */
  readonly requiresDist?: readonly string[];
  /** e.g. `>=3.8`. */
  readonly requiresPython?: string;
  readonly summary?: string;
  /** Default `2.1`. */
  readonly metadataVersion?: string;
  /** `Dynamic:` field names (Metadata-Version 2.2, PEP 643). */
  readonly dynamic?: readonly string[];
  /** `Provides-Extra:` names. */
  readonly providesExtra?: readonly string[];
}

export interface WheelSpec extends DistSpec {
  /** Extra files, by path inside the wheel, added beside the package. */
  readonly files?: Readonly<Record<string, string>>;
  /** Compatibility tag triple; default `py3-none-any`. */
  readonly tag?: string;
}

export interface SdistSpec extends DistSpec {
  /** Archive format; default `tar.gz` (PEP 625). `zip` is the legacy form pip still accepts. */
  readonly format?: 'tar.gz' | 'zip';
}

/** What the fake upstream's `addFile` takes. */
export interface BuiltDist {
  readonly filename: string;
  readonly bytes: Buffer;
  readonly version: string;
  readonly requiresPython?: string;
  /** PEP 658 core metadata (wheels only): the exact METADATA text. */
  readonly metadata?: string;
}

export interface BuiltWheel extends BuiltDist {
  readonly metadata: string;
}

/** `Zope.Interface` → `zope_interface`: the escaped name used in wheel and sdist file names. */
export function escapeDistName(name: string): string {
  return name.replace(/[-_.]+/g, '_').toLowerCase();
}

/** The core metadata text (METADATA in wheels, PKG-INFO in sdists). */
export function renderMetadata(spec: DistSpec): string {
  const lines = [
    `Metadata-Version: ${spec.metadataVersion ?? '2.1'}`,
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
  ];
  if (spec.summary !== undefined) lines.push(`Summary: ${spec.summary}`);
  for (const field of spec.dynamic ?? []) lines.push(`Dynamic: ${field}`);
  for (const extra of spec.providesExtra ?? []) lines.push(`Provides-Extra: ${extra}`);
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const requirement of spec.requiresDist ?? []) lines.push(`Requires-Dist: ${requirement}`);
  return lines.join('\n') + '\n\n';
}

export function buildWheel(spec: WheelSpec): BuiltWheel {
  const escaped = escapeDistName(spec.name);
  const tag = spec.tag ?? 'py3-none-any';
  const info = `${escaped}-${spec.version}.dist-info`;
  const metadata = renderMetadata(spec);
  const entries: [string, Buffer][] = [
    [`${escaped}/__init__.py`, Buffer.from(renderInit(spec.version))],
    ...Object.entries(spec.files ?? {}).map(([path, text]): [string, Buffer] => [path, Buffer.from(text)]),
    [`${info}/METADATA`, Buffer.from(metadata)],
    [`${info}/WHEEL`, Buffer.from(renderWheelFile(tag))],
  ];
  const record = entries.map(([path, data]) => `${path},sha256=${recordDigest(data)},${data.length}\n`);
  entries.push([`${info}/RECORD`, Buffer.from(record.join('') + `${info}/RECORD,,\n`)]);
  return {
    filename: `${escaped}-${spec.version}-${tag}.whl`,
    bytes: buildZip(entries.map(([name, data]) => ({ name, data }))),
    version: spec.version,
    metadata,
    ...(spec.requiresPython === undefined ? {} : { requiresPython: spec.requiresPython }),
  };
}

export function buildSdist(spec: SdistSpec): BuiltDist {
  const escaped = escapeDistName(spec.name);
  const base = `${escaped}-${spec.version}`;
  const format = spec.format ?? 'tar.gz';
  const entries = [
    { name: `${base}/PKG-INFO`, data: renderMetadata(spec) },
    { name: `${base}/pyproject.toml`, data: PYPROJECT },
    { name: `${base}/backend.py`, data: renderBackend(base, escaped) },
    { name: `${base}/${escaped}/__init__.py`, data: renderInit(spec.version) },
  ];
  return {
    filename: `${base}.${format}`,
    bytes: format === 'zip' ? buildZip(entries) : buildTarGz(entries),
    version: spec.version,
    ...(spec.requiresPython === undefined ? {} : { requiresPython: spec.requiresPython }),
  };
}

/** Hex sha256 of some bytes. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function recordDigest(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

function renderInit(version: string): string {
  return `__version__ = ${JSON.stringify(version)}\n`;
}

function renderWheelFile(tag: string): string {
  return `Wheel-Version: 1.0\nGenerator: pypimirror-test\nRoot-Is-Purelib: true\nTag: ${tag}\n`;
}

const PYPROJECT = `[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
`;

/** A PEP 517 backend in ~60 lines of standard-library Python (zipfile + hashlib). */
function renderBackend(dist: string, pkg: string): string {
  return String.raw`"""In-tree PEP 517 build backend (standard library only), from pypimirror's test dist-builder."""
import base64
import hashlib
import os
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))
DIST = ${JSON.stringify(dist)}
PACKAGE = ${JSON.stringify(pkg)}
TAG = "py3-none-any"
WHEEL = "Wheel-Version: 1.0\nGenerator: pypimirror-test-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _package_files():
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, ROOT).replace(os.sep, "/"), _read(full)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = DIST + ".dist-info"
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for name, data in (("METADATA", _read(os.path.join(ROOT, "PKG-INFO"))), ("WHEEL", WHEEL.encode())):
        with open(os.path.join(metadata_directory, info, name), "wb") as f:
            f.write(data)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = DIST + ".dist-info"
    entries = list(_package_files())
    entries.append((info + "/METADATA", _read(os.path.join(ROOT, "PKG-INFO"))))
    entries.append((info + "/WHEEL", WHEEL.encode()))
    record = "".join("%s,sha256=%s,%d\n" % (arc, _digest(data), len(data)) for arc, data in entries)
    entries.append((info + "/RECORD", (record + info + "/RECORD,,\n").encode()))
    filename = DIST + "-" + TAG + ".whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for arc, data in entries:
            member = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            member.external_attr = 0o644 << 16
            archive.writestr(member, data, compress_type=zipfile.ZIP_DEFLATED)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    filename = DIST + ".tar.gz"
    skip = lambda info: None if "__pycache__" in info.name else info
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as archive:
        for name in sorted(os.listdir(ROOT)):
            archive.add(os.path.join(ROOT, name), arcname=DIST + "/" + name, filter=skip)
    return filename
`;
}
