import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import {
  MAX_METADATA_MEMBER_BYTES,
  readSdistPkgInfo,
  readWheelMetadata,
} from '../../../src/mirror/archive.js';
import { buildSdist, buildWheel, renderMetadata } from '../../helpers/dist-builder.js';
import { buildTar, buildTarGz } from '../../helpers/tar.js';
import { buildZip } from '../../helpers/zip.js';
import { createLocalStorage } from '../../../src/storage/local.js';
import type { Storage } from '../../../src/storage/types.js';

/** The archive functions on a local file, through a storage rooted at its directory. */
const readWheelMetadataAt = (path: string): Promise<Buffer | null> =>
  readWheelMetadata(createLocalStorage(dirname(path)), basename(path));
const readSdistPkgInfoAt = (path: string): Promise<Buffer | null> =>
  readSdistPkgInfo(createLocalStorage(dirname(path)), basename(path));

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pypimirror-archive-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(filename: string, bytes: Buffer): Promise<string> {
  const path = join(dir, filename);
  await writeFile(path, bytes);
  return path;
}

interface RawEntry {
  readonly name: string;
  readonly data: Buffer;
  /** Store instead of deflating. */
  readonly stored?: boolean;
  /** Write 0xFFFFFFFF sizes and offset in the central directory, with the real values in a zip64 extra. */
  readonly zip64?: boolean;
  /** Overrides the CRC-32 written. */
  readonly crc?: number;
}

/** A zip with what test/helpers/zip.ts does not write: stored members, zip64 fields, wrong CRCs. */
function buildRawZip(entries: readonly RawEntry[], options: { zip64End?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const body = entry.stored === true ? entry.data : deflateRawSync(entry.data);
    const crc = entry.crc ?? crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(entry.stored === true ? 0 : 8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const extra = Buffer.alloc(entry.zip64 === true ? 28 : 0);
    if (entry.zip64 === true) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(entry.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(entry.stored === true ? 0 : 8, 10);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(entry.zip64 === true ? 0xffffffff : body.length, 20);
    header.writeUInt32LE(entry.zip64 === true ? 0xffffffff : entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(extra.length, 30);
    header.writeUInt32LE(entry.zip64 === true ? 0xffffffff : offset, 42);
    parts.push(local, name, body);
    central.push(header, name, extra);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (options.zip64End === true) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(BigInt(entries.length), 24);
    record.writeBigUInt64LE(BigInt(entries.length), 32);
    record.writeBigUInt64LE(BigInt(directory.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(options.zip64End === true ? 0xffff : entries.length, 8);
  end.writeUInt16LE(options.zip64End === true ? 0xffff : entries.length, 10);
  end.writeUInt32LE(options.zip64End === true ? 0xffffffff : directory.length, 12);
  end.writeUInt32LE(options.zip64End === true ? 0xffffffff : offset, 16);
  return Buffer.concat([...parts, directory, ...tail, end]);
}

/** Rewrites the type flag of the tar header at `offset` and fixes its checksum. */
function setTarType(tar: Buffer, offset: number, type: string): void {
  tar.write(type, offset + 156, 'latin1');
  tar.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i += 1) sum += tar[offset + i] as number;
  tar.write(sum.toString(8).padStart(6, '0') + '\0 ', offset + 148, 'latin1');
}

const METADATA = Buffer.from('Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: idna\n\n');

test('a wheel from the dist builder: its METADATA, byte for byte', async () => {
  const wheel = buildWheel({ name: 'fakepkg-alpha', version: '1.1', requiresDist: ['fakepkg-beta>=1.0'] });
  const path = await put(wheel.filename, wheel.bytes);
  assert.deepEqual(await readWheelMetadataAt(path), Buffer.from(wheel.metadata));
});

test("a small wheel is read once from its end; a member before the end's window is read where it is", async () => {
  const local = createLocalStorage(dir);
  const reads: number[] = [];
  const counting: Storage = {
    ...local,
    readRange: (key, position, length) => {
      reads.push(position);
      return local.readRange(key, position, length);
    },
  };
  const small = buildWheel({ name: 'small-wheel', version: '1.0' });
  await put(small.filename, small.bytes);
  assert.deepEqual(await readWheelMetadata(counting, small.filename), Buffer.from(small.metadata));
  assert.equal(reads.length, 1, 'one read: the end record, the directory and METADATA all in the tail');

  // METADATA first, then 400 KiB stored: the member lies before the 256 KiB read from the end.
  const metadata = Buffer.from(renderMetadata({ name: 'big-wheel', version: '2.0' }));
  const filler = Buffer.alloc(400 * 1024, 7);
  const big = buildRawZip([
    { name: 'big_wheel-2.0.dist-info/METADATA', data: metadata },
    { name: 'big_wheel/data.bin', data: filler, stored: true },
  ]);
  reads.length = 0;
  await put('big_wheel-2.0-py3-none-any.whl', big);
  assert.deepEqual(await readWheelMetadata(counting, 'big_wheel-2.0-py3-none-any.whl'), metadata);
  assert.ok(reads.length > 1 && reads.includes(0), `the member read where it is: ${reads.join(' ')}`);
});

test('the .dist-info directory is matched by normalised name-version, not by a vendored one', async () => {
  const bytes = buildZip([
    { name: 'vendored-2.0.dist-info/METADATA', data: 'Name: vendored\n' },
    { name: 'Zope.Interface-5.0.dist-info/METADATA', data: METADATA },
    { name: 'zope_interface-5.0.dist-info/nested/METADATA', data: 'Name: nested\n' },
  ]);
  const path = await put('zope_interface-5.0-1-cp311-cp311-linux_x86_64.whl', bytes);
  assert.deepEqual(await readWheelMetadataAt(path), METADATA);
});

test('a wheel with no matching .dist-info, or two of them, or a name that is not a wheel: null', async () => {
  const other = await put(
    'demo-1.0-py3-none-any.whl',
    buildZip([{ name: 'other-1.0.dist-info/METADATA', data: METADATA }]),
  );
  assert.equal(await readWheelMetadataAt(other), null);
  const twice = await put(
    'twice-1.0-py3-none-any.whl',
    buildZip([
      { name: 'twice-1.0.dist-info/METADATA', data: METADATA },
      { name: 'Twice-1.0.dist-info/METADATA', data: METADATA },
    ]),
  );
  assert.equal(await readWheelMetadataAt(twice), null);
  const notWheel = await put(
    'demo-1.0.zip',
    buildZip([{ name: 'demo-1.0.dist-info/METADATA', data: METADATA }]),
  );
  assert.equal(await readWheelMetadataAt(notWheel), null);
  assert.equal(await readWheelMetadataAt(join(dir, 'absent-1.0-py3-none-any.whl')), null);
});

test('stored members and zip64 fields (per member and in the end record) are read', async () => {
  const stored = await put(
    'stored-1.0-py3-none-any.whl',
    buildRawZip([
      { name: 'stored/__init__.py', data: Buffer.from(''), stored: true },
      { name: 'stored-1.0.dist-info/METADATA', data: METADATA, stored: true },
    ]),
  );
  assert.deepEqual(await readWheelMetadataAt(stored), METADATA);
  const zip64 = await put(
    'big-1.0-py3-none-any.whl',
    buildRawZip(
      [
        { name: 'big/__init__.py', data: Buffer.from('x = 1\n'), zip64: true },
        { name: 'big-1.0.dist-info/METADATA', data: METADATA, zip64: true },
      ],
      { zip64End: true },
    ),
  );
  assert.deepEqual(await readWheelMetadataAt(zip64), METADATA);
});

test('not a zip, a zip cut short, a wrong CRC: null', async () => {
  const garbage = await put(
    'garbage-1.0-py3-none-any.whl',
    Buffer.from('PK\x05\x06 this is not a zip at all'),
  );
  assert.equal(await readWheelMetadataAt(garbage), null);
  const wheel = buildWheel({ name: 'cut', version: '1.0' });
  const cut = await put(wheel.filename, wheel.bytes.subarray(0, wheel.bytes.length - 30));
  assert.equal(await readWheelMetadataAt(cut), null);
  const badCrc = await put(
    'badcrc-1.0-py3-none-any.whl',
    buildRawZip([{ name: 'badcrc-1.0.dist-info/METADATA', data: METADATA, crc: 12345 }]),
  );
  assert.equal(await readWheelMetadataAt(badCrc), null);
});

test('a METADATA member over 16 MiB is refused, one at the cap is read', async () => {
  const line = 'Description: ' + 'x'.repeat(1000) + '\n';
  const body = (size: number): Buffer =>
    Buffer.from(line.repeat(Math.ceil(size / line.length))).subarray(0, size);
  const over = await put(
    'over-1.0-py3-none-any.whl',
    buildZip([{ name: 'over-1.0.dist-info/METADATA', data: body(MAX_METADATA_MEMBER_BYTES + 1) }]),
  );
  assert.equal(await readWheelMetadataAt(over), null);
  const atCap = await put(
    'cap-1.0-py3-none-any.whl',
    buildZip([{ name: 'cap-1.0.dist-info/METADATA', data: body(MAX_METADATA_MEMBER_BYTES) }]),
  );
  assert.equal((await readWheelMetadataAt(atCap))?.length, MAX_METADATA_MEMBER_BYTES);
});

test('a member that inflates past its declared size is refused, whether a small or a large size is declared', async () => {
  // 100 bytes declared: inflated on the event loop; 1 MiB declared: on libuv's thread pool.
  for (const declared of [100, 1024 * 1024]) {
    const zip = buildRawZip([{ name: 'bomb-1.0.dist-info/METADATA', data: Buffer.alloc(4 * 1024 * 1024) }]);
    // Declare it in the central directory (after the local header, name and body).
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(declared, central + 24);
    const path = await put('bomb-1.0-py3-none-any.whl', zip);
    assert.equal(await readWheelMetadataAt(path), null, `${declared} bytes declared`);
  }
});

test('an sdist .tar.gz, .tgz and .zip from the dist builder: its PKG-INFO', async () => {
  const spec = { name: 'fakepkg-beta', version: '1.0', requiresDist: ['idna; extra == "idna"'] };
  const expected = Buffer.from(renderMetadata(spec));
  const tarGz = buildSdist(spec);
  assert.deepEqual(await readSdistPkgInfoAt(await put(tarGz.filename, tarGz.bytes)), expected);
  assert.deepEqual(await readSdistPkgInfoAt(await put('fakepkg_beta-1.0.tgz', tarGz.bytes)), expected);
  const zip = buildSdist({ ...spec, format: 'zip' });
  assert.deepEqual(await readSdistPkgInfoAt(await put(zip.filename, zip.bytes)), expected);
  assert.equal(await readSdistPkgInfoAt(await put('fakepkg_beta-1.0.tar.bz2', tarGz.bytes)), null);
  assert.equal(await readSdistPkgInfoAt(join(dir, 'absent-1.0.tar.gz')), null);
});

test('only the top-level PKG-INFO counts; long paths (ustar prefix, pax, GNU long name) are followed', async () => {
  const nested = buildTarGz([
    { name: 'demo-1.0/demo.egg-info/PKG-INFO', data: 'Name: nested\n' },
    { name: 'demo-1.0/setup.py', data: 'x'.repeat(5000) },
    { name: './demo-1.0/PKG-INFO', data: METADATA },
  ]);
  assert.deepEqual(await readSdistPkgInfoAt(await put('nested-1.0.tar.gz', nested)), METADATA);

  const longDir = `long_${'d'.repeat(120)}-1.0`;
  const prefixed = buildTarGz([{ name: `${longDir}/PKG-INFO`, data: METADATA }]);
  assert.deepEqual(await readSdistPkgInfoAt(await put('prefixed-1.0.tar.gz', prefixed)), METADATA);

  const paxRecord = (path: string): string => {
    const body = ` path=${path}\n`;
    let length = body.length + 1;
    while (`${length}${body}`.length !== length) length += 1;
    return `${length}${body}`;
  };
  const pax = buildTar([
    { name: 'PaxHeader/x', data: paxRecord(`${longDir}/PKG-INFO`) },
    { name: 'truncated-name', data: METADATA },
  ]);
  setTarType(pax, 0, 'x');
  assert.deepEqual(await readSdistPkgInfoAt(await put('pax-1.0.tar.gz', gzipSync(pax))), METADATA);

  const gnu = buildTar([
    { name: '././@LongLink', data: `${longDir}/PKG-INFO\0` },
    { name: 'truncated-name', data: METADATA },
  ]);
  setTarType(gnu, 0, 'L');
  assert.deepEqual(await readSdistPkgInfoAt(await put('gnu-1.0.tar.gz', gzipSync(gnu))), METADATA);
});

test('the tar stream stops at PKG-INFO: a broken tail after it does not matter', async () => {
  const noise = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 2654435761) >>> 24));
  const whole = buildTarGz([
    { name: 'demo-1.0/PKG-INFO', data: METADATA },
    { name: 'demo-1.0/data.bin', data: noise },
  ]);
  const cut = whole.subarray(0, Math.floor(whole.length * 0.7));
  assert.deepEqual(await readSdistPkgInfoAt(await put('stops-1.0.tar.gz', cut)), METADATA);
});

test('an sdist that is not gzip, is cut before PKG-INFO, has none, or has one over 16 MiB: null', async () => {
  assert.equal(await readSdistPkgInfoAt(await put('plain-1.0.tar.gz', Buffer.from('not gzip'))), null);
  const whole = buildTarGz([
    { name: 'demo-1.0/data.txt', data: 'y'.repeat(100_000) },
    { name: 'demo-1.0/PKG-INFO', data: METADATA },
  ]);
  assert.equal(await readSdistPkgInfoAt(await put('cut-1.0.tar.gz', whole.subarray(0, 200))), null);
  const none = buildTarGz([{ name: 'demo-1.0/setup.py', data: 'pass\n' }]);
  assert.equal(await readSdistPkgInfoAt(await put('none-1.0.tar.gz', none)), null);
  const notTar = gzipSync(Buffer.from('x'.repeat(2048)));
  assert.equal(await readSdistPkgInfoAt(await put('nottar-1.0.tar.gz', notTar)), null);
  const huge = buildTarGz([
    { name: 'demo-1.0/PKG-INFO', data: Buffer.alloc(MAX_METADATA_MEMBER_BYTES + 1, 0x61) },
  ]);
  assert.equal(await readSdistPkgInfoAt(await put('huge-1.0.tar.gz', huge)), null);
});
