// A small POSIX tar (ustar + pax) writer and reader for bundle volumes. Only what the volumes need:
// regular files, a pax `path` record for names over 100 bytes, a pax `size` record past 8 GiB. Headers are
// built and parsed here (pure); the volumes module streams the members' bytes with positional reads and
// writes, so memory stays bounded whatever the member size, and every byte can be hashed on its way.

/** A tar block. */
export const BLOCK = 512;
/** The end of an archive: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
/** Largest size the ustar octal field holds (8 GiB - 1); larger sizes go in a pax record. */
const MAX_OCTAL_SIZE = 0o77777777777;
/** Fixed mtime (2020-01-01): volumes of the same content are the same bytes. */
const MTIME_SECONDS = 1577836800;

/** Padding after `size` bytes of member data, to the next block. */
export function paddingOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function writeString(block: Buffer, offset: number, length: number, text: string): void {
  block.write(text, offset, Math.min(length, Buffer.byteLength(text)), 'utf8');
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function ustarBlock(name: string, size: number, type: '0' | 'x'): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, MTIME_SECONDS);
  block.fill(0x20, 148, 156);
  block.write(type, 156, 'latin1');
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** One pax record, `<length> <key>=<value>\n`, whose length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) {
    length = String(length).length + Buffer.byteLength(body);
  }
  return `${length}${body}`;
}

/**
 * The header bytes of one regular-file member (a pax header first when the name or size needs it), the
 * data following them unpadded: the caller writes the data, then `paddingOf(size)` zero bytes.
 */
export function memberHeader(name: string, size: number): Buffer {
  const records: string[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));
  const main = ustarBlock(name.slice(0, 99), size > MAX_OCTAL_SIZE ? 0 : size, '0');
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(''), 'utf8');
  return Buffer.concat([
    ustarBlock('PaxHeader', pax.length, 'x'),
    pax,
    Buffer.alloc(paddingOf(pax.length)),
    main,
  ]);
}

/** Bytes a member takes in a volume: its headers, its data and the padding. */
export function memberSpan(name: string, size: number): number {
  return memberHeader(name, size).length + size + paddingOf(size);
}

/** A header block as read: a regular file, a pax header, or the end of the archive. */
export type ParsedBlock =
  { readonly kind: 'end' } | { readonly kind: 'file' | 'pax'; readonly name: string; readonly size: number };

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

/** Parses one header block; throws on a bad checksum or a member type a volume never holds. */
export function parseHeaderBlock(block: Buffer): ParsedBlock {
  if (block.every((byte) => byte === 0)) return { kind: 'end' };
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  const stored = parseInt(readString(block, 148, 8).trim(), 8);
  if (stored !== sum) throw new Error(`tar header checksum ${stored} is not the header's (${sum})`);
  const type = String.fromCharCode(block[156] ?? 0);
  const size = parseInt(readString(block, 124, 12).trim() || '0', 8);
  const prefix = readString(block, 345, 155);
  const base = readString(block, 0, 100);
  const name = prefix === '' ? base : `${prefix}/${base}`;
  if (type === 'x') return { kind: 'pax', name, size };
  if (type === '0' || type === '\0') return { kind: 'file', name, size };
  throw new Error(
    `tar member ${JSON.stringify(name)} has type ${JSON.stringify(type)}; a volume holds regular files only`,
  );
}

/** The `path` and `size` of a pax header's records. */
export function parsePaxRecords(data: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString('latin1'));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || at + length > data.length) {
      throw new Error('malformed pax header');
    }
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    if (key === 'size') out.size = Number(value);
    at += length;
  }
  return out;
}
