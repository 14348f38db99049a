// Reads one metadata member out of a distribution in the tree (through its storage) without unpacking it: a wheel's
// `*.dist-info/METADATA` (zip: the end record, the central directory, then that one member) and an sdist's
// top-level `PKG-INFO` (.tar.gz streamed until the member, or .zip). Every read is bounded, so a hostile or
// broken archive costs at most a few tens of MiB and yields null, never a crash.
import { pipeline } from 'node:stream';
import { crc32, createGunzip } from 'node:zlib';
import { inflateBounded } from './inflate.js';
import { normalizeName } from '../model/names.js';
import type { Storage } from '../storage/types.js';

/** A file of the tree, read in ranges (a zip's end, its central directory, one member). */
interface RangeReader {
  readonly size: number;
  /** Up to `length` bytes at `position` (fewer at the end of the file). */
  read(position: number, length: number): Promise<Buffer | null>;
}

/** The largest metadata member read (uncompressed). */
export const MAX_METADATA_MEMBER_BYTES = 16 * 1024 * 1024;
/** The largest zip central directory read. */
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** How much of an sdist's tar stream (uncompressed) is scanned for PKG-INFO before giving up. */
const MAX_TAR_SCAN_BYTES = 1024 * 1024 * 1024;
/** The largest pax or GNU long-name header read from a tar stream. */
const MAX_TAR_NAME_HEADER_BYTES = 1024 * 1024;

const SIG_END = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const END_RECORD_BYTES = 22;
const MAX_ZIP_COMMENT_BYTES = 0xffff;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
const ZIP64_EXTRA_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** How much of a zip's end is read at once (the end record's search needs 64 KiB + 22 bytes of it). */
const ZIP_TAIL_BYTES = 256 * 1024;
/** Deflate can grow incompressible data slightly; a compressed member this much above the cap is refused. */
const DEFLATE_SLACK_BYTES = 1024 * 1024;
const TAR_BLOCK = 512;

/** One member as the central directory describes it. */
interface ZipMember {
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

/**
 * The bytes of a wheel's top-level `*.dist-info/METADATA` (the one .dist-info directory whose name starts
 * with the wheel's name-version), or null when the file is not a readable zip or has no such member.
 * Reads the end-of-central-directory record, the central directory and that one member only (zip64 aware,
 * stored or deflate), bounded: the member at most 16 MiB uncompressed, the directory at most 64 MiB.
 * Names are compared normalised (`Zope.Interface-5.0` matches `zope_interface-5.0`). A missing file is
 * null; other I/O errors (EACCES, EIO) are thrown.
 */
export async function readWheelMetadata(storage: Storage, key: string): Promise<Buffer | null> {
  const nameVersion = wheelNameVersion(key.slice(key.lastIndexOf('/') + 1));
  if (nameVersion === null) return null;
  return withZip(storage, key, async (reader, members) => {
    const wanted = normalizeName(nameVersion);
    const matches = members.filter((member) => {
      const parts = member.name.split('/');
      if (parts.length !== 2 || parts[1] !== 'METADATA') return false;
      const dir = parts[0] as string;
      return dir.endsWith('.dist-info') && normalizeName(dir.slice(0, -'.dist-info'.length)) === wanted;
    });
    return matches.length === 1 ? readZipMember(reader, matches[0] as ZipMember) : null;
  });
}

/**
 * The bytes of an sdist's top-level `<dir>/PKG-INFO` (.tar.gz, .tgz, .zip; streamed, stops at the member,
 * bounded likewise), or null. The first such member wins; a tar stream is scanned for at most 1 GiB
 * uncompressed. A missing file is null; other I/O errors are thrown.
 */
export async function readSdistPkgInfo(storage: Storage, key: string): Promise<Buffer | null> {
  const lower = key.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return readTarGzPkgInfo(storage, key);
  if (lower.endsWith('.zip')) {
    return withZip(storage, key, async (reader, members) => {
      const member = members.find((candidate) => isTopLevelPkgInfo(candidate.name));
      return member === undefined ? null : readZipMember(reader, member);
    });
  }
  return null;
}

/** `name-version` from a wheel file name (`name-version(-build)?-py-abi-platform.whl`), or null. */
function wheelNameVersion(filename: string): string | null {
  if (!filename.toLowerCase().endsWith('.whl')) return null;
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length !== 5 && parts.length !== 6) return null;
  return `${parts[0] as string}-${parts[1] as string}`;
}

/** `<dir>/PKG-INFO`, with an optional leading `./`. */
function isTopLevelPkgInfo(name: string): boolean {
  return /^(?:\.\/)?[^/]+\/PKG-INFO$/.test(name);
}

/** Reads the central directory of `key` and hands it to `use`; null when the file or zip is unreadable. */
async function withZip(
  storage: Storage,
  key: string,
  use: (reader: RangeReader, members: readonly ZipMember[]) => Promise<Buffer | null>,
): Promise<Buffer | null> {
  const found = await storage.stat(key).catch(nullIfNotThere);
  if (found === null) return null;
  const tailLength = Math.min(found.size, ZIP_TAIL_BYTES);
  const tail = await storage.readRange(key, found.size - tailLength, tailLength);
  if (tail === null || tail.length !== tailLength) return null;
  const reader = tailFirstReader(found.size, tail, (at, length) => storage.readRange(key, at, length));
  const members = await readCentralDirectory(reader);
  return members === null ? null : use(reader, members);
}

/** Answers from `tail` (the file's end, read at once) what lies in it: a small wheel then costs one read, not
 * one per structure (an open and a close each on a local tree, a ranged GET in a bucket). */
function tailFirstReader(
  size: number,
  tail: Buffer,
  readRange: (position: number, length: number) => Promise<Buffer | null>,
): RangeReader {
  const tailStart = size - tail.length;
  return {
    size,
    read: (position, length) =>
      position >= tailStart && position + length <= size
        ? Promise.resolve(tail.subarray(position - tailStart, position - tailStart + length))
        : readRange(position, length),
  };
}

/** null for a file that is not there (ENOENT, or ENOTDIR: a file where a directory should be); else throws. */
function nullIfNotThere(err: unknown): null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return null;
  throw err;
}

/** Exactly `length` bytes at `position`, or null when the file is shorter. */
async function readAt(reader: RangeReader, position: number, length: number): Promise<Buffer | null> {
  const bytes = await reader.read(position, length);
  return bytes !== null && bytes.length === length ? bytes : null;
}

/** Where the central directory is and how big, from the end record (and the zip64 one when present). */
async function findCentralDirectory(
  reader: RangeReader,
  fileSize: number,
): Promise<{ offset: number; size: number } | null> {
  const tailLength = Math.min(fileSize, END_RECORD_BYTES + MAX_ZIP_COMMENT_BYTES);
  const tailStart = fileSize - tailLength;
  const tail = await readAt(reader, tailStart, tailLength);
  if (tail === null) return null;
  let end = -1;
  for (let at = tail.length - END_RECORD_BYTES; at >= 0; at -= 1) {
    if (
      tail.readUInt32LE(at) === SIG_END &&
      at + END_RECORD_BYTES + tail.readUInt16LE(at + 20) <= tail.length
    ) {
      end = at;
      break;
    }
  }
  if (end < 0) return null;
  let size = tail.readUInt32LE(end + 12);
  let offset = tail.readUInt32LE(end + 16);
  const locatorAt = tailStart + end - 20;
  if (
    (size === 0xffffffff || offset === 0xffffffff || tail.readUInt16LE(end + 10) === 0xffff) &&
    locatorAt >= 0
  ) {
    const locator = await readAt(reader, locatorAt, 20);
    if (locator !== null && locator.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      const recordAt = Number(locator.readBigUInt64LE(8));
      if (recordAt + 56 > fileSize) return null;
      const record = await readAt(reader, recordAt, 56);
      if (record === null || record.readUInt32LE(0) !== SIG_ZIP64_END) return null;
      size = Number(record.readBigUInt64LE(40));
      offset = Number(record.readBigUInt64LE(48));
    }
  }
  if (size > MAX_CENTRAL_DIRECTORY_BYTES || offset + size > fileSize) return null;
  return { offset, size };
}

/** Every member of the central directory, or null when it is not a readable zip. */
async function readCentralDirectory(reader: RangeReader): Promise<ZipMember[] | null> {
  const where = await findCentralDirectory(reader, reader.size);
  if (where === null) return null;
  const directory = await readAt(reader, where.offset, where.size);
  if (directory === null) return null;
  const members: ZipMember[] = [];
  let at = 0;
  while (at + CENTRAL_HEADER_BYTES <= directory.length) {
    if (directory.readUInt32LE(at) !== SIG_CENTRAL) return null;
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const next = at + CENTRAL_HEADER_BYTES + nameLength + extraLength + commentLength;
    if (next > directory.length) return null;
    const nameStart = at + CENTRAL_HEADER_BYTES;
    const extra = directory.subarray(nameStart + nameLength, nameStart + nameLength + extraLength);
    const member = withZip64Sizes(
      {
        name: directory.toString('utf8', nameStart, nameStart + nameLength),
        flags: directory.readUInt16LE(at + 8),
        method: directory.readUInt16LE(at + 10),
        crc: directory.readUInt32LE(at + 16),
        compressedSize: directory.readUInt32LE(at + 20),
        uncompressedSize: directory.readUInt32LE(at + 24),
        localHeaderOffset: directory.readUInt32LE(at + 42),
      },
      extra,
    );
    if (member === null) return null;
    members.push(member);
    at = next;
  }
  return members;
}

/** Replaces the 0xFFFFFFFF fields with the zip64 extra field's 64-bit values (APPNOTE 4.5.3). */
function withZip64Sizes(member: ZipMember, extra: Buffer): ZipMember | null {
  const needs = [member.uncompressedSize, member.compressedSize, member.localHeaderOffset].map(
    (value) => value === 0xffffffff,
  );
  if (!needs.some(Boolean)) return member;
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA_ID) {
      const values: number[] = [];
      let field = at + 4;
      for (const needed of needs) {
        if (!needed) {
          values.push(-1);
          continue;
        }
        if (field + 8 > at + 4 + length || field + 8 > extra.length) return null;
        values.push(Number(extra.readBigUInt64LE(field)));
        field += 8;
      }
      return {
        ...member,
        uncompressedSize: needs[0] ? (values[0] as number) : member.uncompressedSize,
        compressedSize: needs[1] ? (values[1] as number) : member.compressedSize,
        localHeaderOffset: needs[2] ? (values[2] as number) : member.localHeaderOffset,
      };
    }
    at += 4 + length;
  }
  return null;
}

/** The member's bytes, checked against its size and CRC-32, or null when unreadable or over the cap. */
async function readZipMember(reader: RangeReader, member: ZipMember): Promise<Buffer | null> {
  if ((member.flags & FLAG_ENCRYPTED) !== 0) return null;
  if (member.uncompressedSize > MAX_METADATA_MEMBER_BYTES) return null;
  if (member.compressedSize > MAX_METADATA_MEMBER_BYTES + DEFLATE_SLACK_BYTES) return null;
  const local = await readAt(reader, member.localHeaderOffset, LOCAL_HEADER_BYTES);
  if (local === null || local.readUInt32LE(0) !== SIG_LOCAL) return null;
  const dataAt =
    member.localHeaderOffset + LOCAL_HEADER_BYTES + local.readUInt16LE(26) + local.readUInt16LE(28);
  const raw = await readAt(reader, dataAt, member.compressedSize);
  if (raw === null) return null;
  let data: Buffer;
  if (member.method === METHOD_STORED) data = raw;
  else if (member.method === METHOD_DEFLATE) {
    const inflated = await inflateBounded(raw, member.uncompressedSize);
    if (inflated === null) return null;
    data = inflated;
  } else return null;
  if (data.length !== member.uncompressedSize || crc32(data) !== member.crc) return null;
  return data;
}

/** Pulls exact byte counts out of an async stream of chunks. */
class ChunkReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes consumed so far (read or skipped). */
  consumed = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** Exactly `length` bytes, or null at the end of the stream. */
  async read(length: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < length) {
      if (this.pending.length === 0 && !(await this.fill())) return null;
      const take = this.pending.subarray(0, length - have);
      this.pending = this.pending.subarray(take.length);
      parts.push(take);
      have += take.length;
    }
    this.consumed += length;
    return parts.length === 1 ? Buffer.from(parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** Discards `length` bytes; false at the end of the stream. */
  async skip(length: number): Promise<boolean> {
    let left = length;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) return false;
      const take = Math.min(left, this.pending.length);
      this.pending = this.pending.subarray(take);
      left -= take;
    }
    this.consumed += length;
    return true;
  }

  private async fill(): Promise<boolean> {
    const next = await this.chunks.next();
    if (next.done === true) return false;
    this.pending = next.value;
    return true;
  }
}

/** Streams a .tar.gz until its top-level PKG-INFO; null when absent, unreadable or past a bound. */
async function readTarGzPkgInfo(storage: Storage, key: string): Promise<Buffer | null> {
  const source = await storage.open(key).catch(nullIfNotThere);
  if (source === null) return null;
  let sourceError: unknown = null;
  source.once('error', (err) => (sourceError = err));
  const gunzip = pipeline(source, createGunzip(), () => {});
  try {
    return await scanTarForPkgInfo(new ChunkReader(gunzip));
  } catch (err) {
    if (sourceError !== null) throw sourceError;
    if (!isZlibError(err)) throw err;
    return null; // not gzip, or cut short
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code === 'ERR_STREAM_PREMATURE_CLOSE');
}

/** Walks ustar/pax/GNU headers; returns the first top-level PKG-INFO's bytes. */
async function scanTarForPkgInfo(reader: ChunkReader): Promise<Buffer | null> {
  let longName: string | null = null;
  for (;;) {
    if (reader.consumed > MAX_TAR_SCAN_BYTES) return null;
    const header = await reader.read(TAR_BLOCK);
    if (header === null || header.every((byte) => byte === 0)) return null;
    if (!hasValidChecksum(header)) return null;
    const size = parseTarSize(header.subarray(124, 136));
    if (size === null) return null;
    const padded = Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    const type = String.fromCharCode(header[156] as number);
    if (type === 'x' || type === 'L') {
      if (size > MAX_TAR_NAME_HEADER_BYTES) return null;
      const body = await reader.read(padded);
      if (body === null) return null;
      longName = type === 'L' ? cString(body.subarray(0, size)) : paxPath(body.subarray(0, size));
      continue;
    }
    const name = longName ?? ustarName(header);
    longName = null;
    if ((type === '0' || type === '\0' || type === '7') && isTopLevelPkgInfo(name)) {
      if (size > MAX_METADATA_MEMBER_BYTES) return null;
      const body = await reader.read(padded);
      return body === null ? null : body.subarray(0, size);
    }
    if (!(await reader.skip(padded))) return null;
  }
}

function hasValidChecksum(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
  return parseOctal(header.subarray(148, 156)) === sum;
}

/** Octal (NUL/space padded) or GNU base-256 (high bit set) size; null when malformed. */
function parseTarSize(field: Buffer): number | null {
  if (((field[0] as number) & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + (field[i] as number);
    return Number.isSafeInteger(value) ? value : null;
  }
  return parseOctal(field);
}

function parseOctal(field: Buffer): number | null {
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) return null;
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.toString('utf8', 0, nul < 0 ? bytes.length : nul);
}

/** The full path of a ustar header: `prefix/name` when the magic says ustar. */
function ustarName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const isUstar = header.toString('latin1', 257, 262) === 'ustar';
  const prefix = isUstar ? cString(header.subarray(345, 500)) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** The `path` record of a pax extended header (`LEN path=VALUE\n` records), or null. */
function paxPath(body: Buffer): string | null {
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space < 0) return null;
    const length = parseInt(body.toString('latin1', at, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > body.length) return null;
    const record = body.toString('utf8', space + 1, at + length - 1);
    if (record.startsWith('path=')) return record.slice('path='.length);
    at += length;
  }
  return null;
}
