// The local tree's file-system calls (src/util/fs-calls.ts): which file systems take the quick calls
// directly, and the two call sets giving the same results and the same errors (code and path), so that
// nothing above them can tell which one it has.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  directCalls,
  fsCallsFor,
  isLocalFileSystemType,
  pooledCalls,
  type FsCalls,
} from '../../../src/util/fs-calls.js';
import { makeTempDir } from '../../helpers/tree.js';

test('the quick calls are direct on local file systems only', () => {
  for (const local of [0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630]) {
    assert.equal(isLocalFileSystemType(local), true, `0x${local.toString(16)}`);
  }
  // NFS, SMB/CIFS, FUSE (sshfs, s3fs), 9p, procfs: any call may be a round trip, or the tree is not a disk's.
  for (const other of [0x6969, 0xff534d42, 0xfe534d42, 0x65735546, 0x01021997, 0x9fa0]) {
    assert.equal(isLocalFileSystemType(other), false, `0x${other.toString(16)}`);
  }
});

test("a tree's calls follow the file system its root is on, or would be on", async (t) => {
  const dir = await makeTempDir(t);
  const onDisk = fsCallsFor(dir);
  // The suite's temp directory is on a local file system wherever it runs (CI, a laptop, a container).
  assert.equal(onDisk, directCalls, `${dir}: a local file system`);
  assert.equal(fsCallsFor(join(dir, 'not', 'made', 'yet')), onDisk, 'judged by the directory above');
  assert.equal(fsCallsFor('/proc/self'), pooledCalls, 'procfs is no local disk');
});

/** What a call gave: its value, or its error's code and message (which names the path). */
async function outcome<T>(call: Promise<T>): Promise<{ value?: T; code?: unknown; message?: string }> {
  try {
    return { value: await call };
  } catch (err) {
    return { code: (err as { code?: unknown }).code, message: (err as Error).message };
  }
}

/** Runs the same calls on a fresh directory with `calls`; every outcome, in order. */
async function exercise(calls: FsCalls, dir: string): Promise<unknown[]> {
  const seen: unknown[] = [];
  const file = join(dir, 'a', 'file');
  seen.push(await outcome(calls.mkdirs(join(dir, 'a'), 0o755)));
  seen.push(await outcome(calls.mkdirs(join(dir, 'a'), 0o755)));
  const fd = await calls.openNew(file, 0o644);
  seen.push(await outcome(calls.openNew(file, 0o644)));
  const large = Buffer.alloc(200 << 10, 7); // above a direct write's size: written on the pool either way
  await calls.write(fd, Buffer.from('small '));
  await calls.write(fd, large);
  await calls.fchmod(fd, 0o640);
  await calls.fdatasync(fd);
  await calls.fsync(fd);
  await calls.close(fd);
  seen.push((await calls.lstat(file))?.size, ((await calls.lstat(file))?.mode ?? 0) & 0o777);
  const rd = (await calls.openRead(file)) as number;
  const buffer = Buffer.alloc(10);
  seen.push(await calls.read(rd, buffer, 0, 10, 2), buffer.toString('latin1'));
  await calls.close(rd);
  seen.push(await outcome(calls.link(file, join(dir, 'a', 'linked'))));
  seen.push(await outcome(calls.link(file, join(dir, 'a', 'linked'))));
  seen.push(await outcome(calls.rename(join(dir, 'a', 'linked'), join(dir, 'a', 'moved'))));
  seen.push(await outcome(calls.unlink(join(dir, 'a', 'moved'))));
  seen.push(await outcome(calls.unlink(join(dir, 'a', 'moved'))));
  // Nothing there is null, not an error; a file above the path is an error still (ENOTDIR).
  seen.push(await outcome(calls.lstat(join(dir, 'none'))));
  seen.push(await outcome(calls.openRead(join(dir, 'none'))));
  seen.push(await outcome(calls.readdir(join(dir, 'none'))));
  seen.push(await outcome(calls.lstat(join(file, 'under'))));
  seen.push(await outcome(calls.readdir(join(dir, 'a'))));
  seen.push(await outcome(calls.readdir(file)));
  seen.push((await readFile(file)).subarray(0, 8).toString('latin1'));
  return seen.map((s) => JSON.parse(JSON.stringify(s).replaceAll(dir, 'DIR')) as unknown);
}

test('pooled and direct calls give the same results and the same errors', async (t) => {
  const [one, two] = [await makeTempDir(t), await makeTempDir(t)];
  const pooled = await exercise(pooledCalls, one);
  const direct = await exercise(directCalls, two);
  assert.deepEqual(direct, pooled);
  assert.deepEqual(pooled.slice(0, 3), [
    { value: join('DIR', 'a') },
    {},
    { code: 'EEXIST', message: `EEXIST: file already exists, open '${join('DIR', 'a', 'file')}'` },
  ]);
  assert.deepEqual(pooled.slice(3, 7), [
    6 + (200 << 10),
    0o640,
    10,
    'all \u0007\u0007\u0007\u0007\u0007\u0007',
  ]);
  assert.equal((pooled[8] as { code?: unknown }).code, 'EEXIST', 'link never replaces');
  assert.equal((pooled[11] as { code?: unknown }).code, 'ENOENT');
  assert.deepEqual(pooled.slice(12, 18), [
    { value: null },
    { value: null },
    { value: null },
    { code: 'ENOTDIR', message: `ENOTDIR: not a directory, lstat '${join('DIR', 'a', 'file', 'under')}'` },
    { value: ['file'] },
    { code: 'ENOTDIR', message: `ENOTDIR: not a directory, scandir '${join('DIR', 'a', 'file')}'` },
  ]);
  assert.equal(pooled[18], 'small \u0007\u0007');
});
