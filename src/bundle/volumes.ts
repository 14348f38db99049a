// A bundle's tar volumes: written by export from the tree (each at most --max-volume bytes; a file that
// does not fit is split into `.part<N>` members across volumes), read by import into a staging directory
// with every member's sha256 and every volume's sha256 checked on the way. Positional reads and writes
// through two 1 MiB buffers (the next chunk is read and hashed while the last is written): memory stays
// bounded whatever the sizes.
import { createHash, type Hash } from 'node:crypto';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureDir, isNotFound, openNewFile, syncDir, tempPathFor } from '../util/fs.js';
import {
  type BundleFile,
  type BundleManifest,
  memberNames,
  type VolumeEntry,
  volumeName,
} from './manifest.js';
import { BundleError } from '../errors.js';
import {
  BLOCK,
  END_OF_ARCHIVE,
  memberHeader,
  memberSpan,
  paddingOf,
  parseHeaderBlock,
  parsePaxRecords,
} from './tar.js';

const CHUNK = 1024 * 1024;

/**
 * Copies `length` bytes from `read` to `write` through two CHUNK buffers, so that the next chunk is read (and
 * hashed, by `read`) while the last one is written.
 */
async function pipeChunks(
  length: number,
  read: (into: Buffer, max: number) => Promise<Buffer>,
  write: (piece: Buffer) => Promise<void>,
): Promise<void> {
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let done = 0, k = 0; done < length; k++) {
      const piece = await read(buffers[k % 2] as Buffer, Math.min(CHUNK, length - done));
      await writing; // the write of chunk k - 1: chunk k + 1 goes into its buffer
      writing = write(piece);
      done += piece.length;
    }
  } finally {
    await writing.catch(() => {}); // settled before leaving; its error, if any, is thrown below
  }
  await writing;
}

/** A file of the tree to carry: `<project>/<path>`, at `source`, whose bytes must have `sha256`. */
export interface SourceFile {
  readonly project: string;
  readonly path: string;
  readonly sha256: string;
  readonly source: string;
}

interface OpenVolume {
  readonly handle: FileHandle;
  readonly temp: string;
  readonly name: string;
  readonly hash: Hash;
  written: number;
}

/** Writes the volumes of bundle `id` into `outDir`; returns them and the files in member order. */
export async function writeVolumes(
  outDir: string,
  id: string,
  maxVolume: number,
  sources: readonly SourceFile[],
): Promise<{ volumes: VolumeEntry[]; files: BundleFile[] }> {
  const volumes: VolumeEntry[] = [];
  const files: BundleFile[] = [];
  const budget = maxVolume - END_OF_ARCHIVE.length;
  let vol: OpenVolume | null = null;
  const temps: string[] = [];
  const write = async (bytes: Buffer): Promise<void> => {
    if (vol === null) throw new Error('no open volume');
    await vol.handle.write(bytes);
    vol.hash.update(bytes);
    vol.written += bytes.length;
  };
  const startVolume = async (): Promise<OpenVolume> => {
    if (vol !== null) await finishVolume(outDir, vol, volumes);
    const name = volumeName(id, volumes.length + 1);
    const temp = tempPathFor(join(outDir, name));
    temps.push(temp);
    vol = { handle: await openNewFile(temp), temp, name, hash: createHash('sha256'), written: 0 };
    return vol;
  };
  try {
    for (const file of sources) {
      const size = await sourceSize(file);
      const base = `${file.project}/${file.path}`;
      let current: OpenVolume = vol ?? (await startVolume());
      if (
        memberSpan(base, size) > budget - current.written &&
        memberSpan(base, size) <= budget &&
        current.written > 0
      ) {
        current = await startVolume();
      }
      const isSplit = memberSpan(base, size) > budget - current.written;
      const source = await open(file.source, 'r');
      const fileHash = createHash('sha256');
      let offset = 0;
      let parts = 0;
      try {
        do {
          const name = isSplit ? `${base}.part${parts + 1}` : base;
          let room = Math.floor((budget - current.written - memberHeader(name, 0).length) / BLOCK) * BLOCK;
          if (room <= 0) {
            current = await startVolume();
            room = Math.floor((budget - memberHeader(name, 0).length) / BLOCK) * BLOCK;
          }
          const length = isSplit ? Math.min(room, size - offset) : size;
          await write(memberHeader(name, length));
          const volume: OpenVolume = current;
          let at = offset;
          await pipeChunks(
            length,
            async (into, max) => {
              const { bytesRead } = await source.read(into, 0, max, at);
              if (bytesRead === 0) throw moved(file, 'it got shorter while it was read');
              const piece = into.subarray(0, bytesRead);
              at += bytesRead;
              fileHash.update(piece);
              volume.hash.update(piece);
              return piece;
            },
            async (piece) => {
              await volume.handle.write(piece);
              volume.written += piece.length;
            },
          );
          await write(Buffer.alloc(paddingOf(length)));
          offset += length;
          parts++;
        } while (offset < size);
      } finally {
        await source.close();
      }
      const sha256 = fileHash.digest('hex');
      if (sha256 !== file.sha256)
        throw moved(file, `its sha256 is ${sha256}, its record says ${file.sha256}`);
      files.push({ project: file.project, path: file.path, size, sha256, parts: Math.max(parts, 1) });
    }
    if (vol === null) await startVolume(); // a bundle of pages and removals only still has one (empty) volume
    await finishVolume(outDir, vol as unknown as OpenVolume, volumes);
  } catch (err) {
    await (vol as OpenVolume | null)?.handle.close().catch(() => {});
    for (const temp of temps) await unlink(temp).catch(() => {});
    for (const v of volumes) await unlink(join(outDir, v.name)).catch(() => {});
    throw err;
  }
  return { volumes, files };
}

function moved(file: SourceFile, why: string): BundleError {
  return new BundleError(
    'BUNDLE_MOVED',
    `${file.source}: ${why}; the tree changed under the export (or is damaged: run verify); export again`,
  );
}

async function sourceSize(file: SourceFile): Promise<number> {
  try {
    const info = await lstat(file.source);
    if (info.isFile()) return info.size;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  throw moved(file, 'it is gone');
}

async function finishVolume(outDir: string, vol: OpenVolume, volumes: VolumeEntry[]): Promise<void> {
  await vol.handle.write(END_OF_ARCHIVE);
  vol.hash.update(END_OF_ARCHIVE);
  vol.written += END_OF_ARCHIVE.length;
  await vol.handle.sync();
  await vol.handle.close();
  await rename(vol.temp, join(outDir, vol.name));
  await syncDir(outDir);
  volumes.push({ name: vol.name, size: vol.written, sha256: vol.hash.digest('hex') });
}

function refused(where: string, why: string): BundleError {
  return new BundleError('BUNDLE_REFUSED', `${where}: ${why}; nothing was written to the mirror`);
}

/** Every volume is there with its size: checked before any extraction starts. */
export async function checkVolumesPresent(dir: string, manifest: BundleManifest): Promise<void> {
  for (const v of manifest.volumes) {
    const path = join(dir, v.name);
    const info = await lstat(path).catch((err: unknown) => (isNotFound(err) ? null : Promise.reject(err)));
    if (info === null || !info.isFile()) throw refused(path, 'volume missing');
    if (info.size !== v.size)
      throw refused(path, `volume is ${info.size} bytes; the manifest says ${v.size}`);
  }
}

/** Where a bundle file is staged: `<staging>/<project>/<path>`. */
export function stagedPath(staging: string, file: Pick<BundleFile, 'project' | 'path'>): string {
  return join(staging, file.project, file.path);
}

/** One volume read front to back, every byte hashed. */
class VolumeReader {
  private position = 0;
  readonly hash = createHash('sha256');
  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}
  async read(length: number, into: Buffer = Buffer.alloc(length)): Promise<Buffer> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(into, done, length - done, this.position);
      if (bytesRead === 0) throw refused(this.path, `volume ends early at byte ${this.position}`);
      done += bytesRead;
      this.position += bytesRead;
    }
    const bytes = into.subarray(0, length);
    this.hash.update(bytes);
    return bytes;
  }
  /** The next member's name and size (after its pax header, if any), or null at the end of the archive. */
  async nextMember(): Promise<{ name: string; size: number } | null> {
    try {
      return await this.parseMember();
    } catch (err) {
      if (err instanceof BundleError) throw err;
      throw refused(this.path, `not a volume pypimirror wrote: ${(err as Error).message}`);
    }
  }
  private async parseMember(): Promise<{ name: string; size: number } | null> {
    let header = parseHeaderBlock(await this.read(BLOCK));
    if (header.kind === 'end') return null;
    let pax: { path?: string; size?: number } = {};
    if (header.kind === 'pax') {
      if (header.size > CHUNK) throw refused(this.path, 'pax header too large');
      pax = parsePaxRecords(Buffer.from(await this.read(header.size)));
      await this.read(paddingOf(header.size));
      header = parseHeaderBlock(await this.read(BLOCK));
      if (header.kind !== 'file') throw refused(this.path, 'a pax header not followed by a file');
    }
    return { name: pax.path ?? header.name, size: pax.size ?? header.size };
  }
  close(): Promise<void> {
    return this.handle.close();
  }
  async rest(buffer: Buffer): Promise<void> {
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, this.position);
      if (bytesRead === 0) return;
      this.hash.update(buffer.subarray(0, bytesRead));
      this.position += bytesRead;
    }
  }
}

/**
 * Extracts the volumes of `manifest` from `dir` into `staging`, checking that the members are exactly the
 * manifest's files in order, each file's size and sha256, and each volume's sha256. Throws BUNDLE_REFUSED
 * at the first difference. Nothing is published here: the staging directory is the caller's to clear.
 */
export async function extractVolumes(
  dir: string,
  manifest: BundleManifest,
  staging: string,
  signal: AbortSignal,
): Promise<void> {
  const expected = manifest.files.flatMap((file) =>
    memberNames(file).map((name, part) => ({ file, name, part })),
  );
  let next = 0;
  const buffer = Buffer.allocUnsafe(CHUNK);
  let target: { handle: FileHandle; hash: Hash; size: number } | null = null;
  try {
    for (const v of manifest.volumes) {
      const path = join(dir, v.name);
      const reader = new VolumeReader(path, await open(path, 'r'));
      try {
        for (let member = await reader.nextMember(); member !== null; member = await reader.nextMember()) {
          signal.throwIfAborted();
          const want = expected[next++];
          if (want === undefined || want.name !== member.name) {
            throw refused(
              path,
              `member ${JSON.stringify(member.name)} is not the one the manifest lists next (${JSON.stringify(want?.name ?? 'none')})`,
            );
          }
          if (want.part === 0) {
            const staged = stagedPath(staging, want.file);
            await ensureDir(dirname(staged));
            target = { handle: await openNewFile(staged), hash: createHash('sha256'), size: 0 };
          }
          const t = target as unknown as { handle: FileHandle; hash: Hash; size: number };
          await pipeChunks(
            member.size,
            async (into, max) => {
              const piece = await reader.read(max, into);
              t.hash.update(piece);
              return piece;
            },
            async (piece) => {
              await t.handle.write(piece);
            },
          );
          t.size += member.size;
          await reader.read(paddingOf(member.size));
          if (want.part === want.file.parts - 1) {
            await t.handle.sync();
            await t.handle.close();
            target = null;
            checkStaged(path, want.file, t.size, t.hash.digest('hex'));
          }
        }
        await reader.rest(buffer);
      } finally {
        await reader.close();
      }
      const sha256 = reader.hash.digest('hex');
      if (sha256 !== v.sha256)
        throw refused(path, `volume sha256 is ${sha256}; the manifest says ${v.sha256}`);
    }
    if (next !== expected.length) {
      throw refused(
        dir,
        `the volumes end before ${expected[next]?.name ?? ''} (${expected.length - next} members missing)`,
      );
    }
  } finally {
    await (target as { handle: FileHandle } | null)?.handle.close().catch(() => {});
  }
}

function checkStaged(volume: string, file: BundleFile, size: number, sha256: string): void {
  const name = `${file.project}/${file.path}`;
  if (size !== file.size)
    throw refused(volume, `member ${name} is ${size} bytes; the manifest says ${file.size}`);
  if (sha256 !== file.sha256) {
    throw refused(volume, `member ${name} has sha256 ${sha256}; the manifest says ${file.sha256}`);
  }
}
