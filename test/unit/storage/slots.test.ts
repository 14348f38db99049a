// createSlotSink, the sink for large downloads: every byte lands in the file at its place and the digests
// are those of the bytes, whatever the chunking, with the hashing thread or without, with O_DIRECT or without;
// downloads sharing the pool keep apart and wait their turn; every slot taken is given back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { FileSink } from '../../../src/storage/sink.js';
import { SLOT_BYTES } from '../../../src/storage/slot-pool.js';
import { createSlotSink, SlotResources, STREAM_SLOTS } from '../../../src/storage/slots.js';
import { makeTempDir } from '../../helpers/tree.js';

function digests(algorithms: readonly string[], bytes: Buffer): string[] {
  return algorithms.map((algo) => createHash(algo).update(bytes).digest('hex'));
}

/** Pieces of `bytes` of irregular sizes: 1 byte, a few KiB, 64 KiB, and larger than a 1 MiB slot. */
function irregular(bytes: Buffer): Buffer[] {
  const sizes = [1, 4093, 65_536, 3 << 20, 17, 1 << 20, 999_999];
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length] as number, bytes.length - at);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** A sink for a new file at `path`, with a promise per onRoom. */
async function sinkFor(
  path: string,
  algorithms: readonly string[],
  options: { hashOnThread?: boolean; direct?: boolean; resources?: SlotResources } = {},
): Promise<{ sink: FileSink; fd: number; room: () => Promise<void>; failures: Error[] }> {
  const fd = openSync(path, 'w', 0o644);
  const failures: Error[] = [];
  let wake: (() => void) | null = null;
  const { resources = new SlotResources(), ...sinkOptions } = options;
  const sink = await createSlotSink(
    fd,
    path,
    algorithms,
    {
      onRoom: () => wake?.(),
      onFailure: (err) => failures.push(err),
    },
    resources,
    sinkOptions,
  );
  return {
    sink,
    fd,
    room: () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('onRoom never came')), 20_000);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
      }),
    failures,
  };
}

/** Pushes `parts`, waiting for onRoom whenever the sink asks to pause. */
async function feed(into: Awaited<ReturnType<typeof sinkFor>>, parts: readonly Buffer[]): Promise<number> {
  let pauses = 0;
  for (const part of parts) {
    if (!into.sink.push(part)) {
      pauses++;
      await into.room();
    }
  }
  return pauses;
}

/** The descriptors of this process open on `path`, with their open flags (from /proc/self/fdinfo). */
function descriptorsOn(path: string): { fd: number; flags: number }[] {
  const out: { fd: number; flags: number }[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) !== path) continue;
      const info = readFileSync(`/proc/self/fdinfo/${name}`, 'utf8');
      const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
      out.push({ fd: Number(name), flags: flags === undefined ? 0 : parseInt(flags, 8) });
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Whether the file system under `dir` takes O_DIRECT at open (tmpfs before Linux 6.6 does not). */
function takesDirect(dir: string): boolean {
  const probe = join(dir, 'probe');
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o644));
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // never created
    }
  }
}

test("every byte lands in its place and the digests are the bytes', with or without the thread and O_DIRECT", async (t) => {
  const dir = await makeTempDir(t);
  const algorithms = ['sha256', 'sha512'];
  // 12 MiB and some: the last slot is part full (written through the ordinary descriptor); 9 MiB: all full.
  for (const size of [12 * SLOT_BYTES + 12_345, 9 * SLOT_BYTES]) {
    const bytes = randomBytes(size);
    const expected = digests(algorithms, bytes);
    for (const hashOnThread of [true, false]) {
      for (const direct of [true, false]) {
        const what = `size ${size}, hashOnThread ${hashOnThread}, direct ${direct}`;
        const path = join(dir, `f-${size}-${hashOnThread}-${direct}`);
        const resources = new SlotResources();
        const into = await sinkFor(path, algorithms, { hashOnThread, direct, resources });
        await feed(into, irregular(bytes));
        assert.deepEqual(await into.sink.finish(), expected, what);
        closeSync(into.fd);
        assert.ok((await readFile(path)).equals(bytes), `${what}: the file holds the bytes`);
        assert.deepEqual(into.failures, [], what);
        assert.equal(resources.poolState(), null, `${what}: the pool is given back once nothing uses it`);
      }
    }
  }
});

test('a second descriptor with O_DIRECT is opened where the file system takes it, and closed at the end', async (t) => {
  const dir = await makeTempDir(t);
  const path = join(dir, 'direct.whl');
  const bytes = randomBytes(10 * SLOT_BYTES + 1);
  for (const direct of [true, false]) {
    const into = await sinkFor(path, ['sha256'], { direct });
    const open = descriptorsOn(path);
    const directOnes = open.filter((d) => (d.flags & constants.O_DIRECT) !== 0);
    if (direct && takesDirect(dir)) {
      assert.equal(directOnes.length, 1, JSON.stringify(open));
      assert.equal(open.length, 2, JSON.stringify(open));
    } else {
      assert.deepEqual(directOnes, [], `direct ${direct}: ${JSON.stringify(open)}`);
    }
    await feed(into, irregular(bytes));
    await into.sink.finish();
    assert.deepEqual(
      descriptorsOn(path).map((d) => d.fd),
      [into.fd],
      "only the caller's descriptor is left",
    );
    closeSync(into.fd);
    assert.ok((await readFile(path)).equals(bytes));
  }
});

test('push asks to pause once a download holds its share of slots, and onRoom says when to go on', async (t) => {
  const dir = await makeTempDir(t);
  const resources = new SlotResources();
  const into = await sinkFor(join(dir, 'p.whl'), ['sha256'], { resources });
  const chunk = randomBytes(64 << 10);
  let accepted = 0;
  // Synchronous pushes: no write or hash can finish meanwhile, so the share is all there is.
  while (into.sink.push(chunk)) {
    accepted += chunk.length;
    assert.ok(accepted < 64 * SLOT_BYTES, 'push never asked to pause');
  }
  assert.equal(
    accepted + chunk.length,
    STREAM_SLOTS * SLOT_BYTES + chunk.length,
    'paused when a slot was needed',
  );
  assert.equal(resources.poolState()?.inUse, STREAM_SLOTS);
  await into.room();
  const all = Buffer.concat(Array.from({ length: accepted / chunk.length + 1 }, () => chunk));
  assert.deepEqual(await into.sink.finish(), digests(['sha256'], all));
  closeSync(into.fd);
  assert.ok((await readFile(join(dir, 'p.whl'))).equals(all));
});

test('downloads sharing the pool keep apart and wait their turn; an aborted one gives its slots back', async (t) => {
  const dir = await makeTempDir(t);
  // Five downloads may want 5 × STREAM_SLOTS slots, more than the pool's: some wait for others' slots.
  const inputs = [0, 1, 2, 3, 4].map((n) => randomBytes(11 * SLOT_BYTES + n * 7_777));
  const resources = new SlotResources();
  const sinks = await Promise.all(
    inputs.map((_, n) => sinkFor(join(dir, `s${n}.whl`), ['sha256'], { resources })),
  );
  const aborted = await sinkFor(join(dir, 'aborted.whl'), ['sha256'], { resources });
  const abortedParts = irregular(randomBytes(9 * SLOT_BYTES));
  const feeding = sinks.map((into, n) => feed(into, irregular(inputs[n] as Buffer)));
  const abortedFeeding = (async () => {
    for (const [i, part] of abortedParts.entries()) {
      if (i === 4) return aborted.sink.abort();
      if (!aborted.sink.push(part)) await aborted.room();
    }
  })();
  await Promise.all([...feeding, abortedFeeding]);
  const got = await Promise.all(sinks.map((into) => into.sink.finish()));
  assert.deepEqual(
    got,
    inputs.map((b) => digests(['sha256'], b)),
  );
  for (const [n, into] of sinks.entries()) {
    closeSync(into.fd);
    assert.ok((await readFile(join(dir, `s${n}.whl`))).equals(inputs[n] as Buffer), `s${n}.whl`);
  }
  closeSync(aborted.fd);
  // The hashing thread acknowledges the aborted download's slots a little later.
  const started = performance.now();
  while (resources.poolState() !== null) {
    assert.ok(
      performance.now() - started < 10_000,
      `slots never given back: ${JSON.stringify(resources.poolState())}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test('two owners of slot resources have pools of their own, each created on first use and let go when idle', async (t) => {
  const dir = await makeTempDir(t);
  const [first, second] = [new SlotResources(), new SlotResources()];
  assert.equal(first.poolState(), null, 'nothing is allocated before a large file needs it');
  const a = await sinkFor(join(dir, 'a.whl'), ['sha256'], { resources: first });
  const b = await sinkFor(join(dir, 'b.whl'), ['sha256'], { resources: second });
  const bytes = randomBytes(3 * SLOT_BYTES);
  a.sink.push(bytes);
  b.sink.push(bytes.subarray(0, SLOT_BYTES + 1));
  assert.deepEqual(first.poolState()?.inUse, 3, "the first owner's pool holds the first download's slots");
  assert.deepEqual(second.poolState()?.inUse, 2, "the second owner's pool holds only the second's");
  assert.deepEqual(await a.sink.finish(), digests(['sha256'], bytes));
  assert.equal(first.poolState(), null, "the first owner's pool goes when its download ends");
  assert.notEqual(second.poolState(), null, "the second owner's pool stays while its download runs");
  assert.deepEqual(await b.sink.finish(), digests(['sha256'], bytes.subarray(0, SLOT_BYTES + 1)));
  assert.equal(second.poolState(), null);
  closeSync(a.fd);
  closeSync(b.fd);
});

test('the hashing thread starts whatever Node options the process was given (it takes none of them)', async (t) => {
  // --input-type is valid for `node -e` and refused by a worker thread that inherits it.
  const slots = new URL('../../../src/storage/slots.js', import.meta.url).href;
  const script = `
    const { openSync, closeSync, unlinkSync } = await import('node:fs');
    const { createSlotSink, SlotResources } = await import(${JSON.stringify(slots)});
    const path = process.argv[1];
    const fd = openSync(path, 'w');
    const sink = await createSlotSink(fd, path, ['sha256'], { onRoom() {}, onFailure(err) { throw err; } },
      new SlotResources(), { hashOnThread: true });
    sink.push(Buffer.alloc(3 << 20, 7));
    const [digest] = await sink.finish();
    closeSync(fd);
    unlinkSync(path);
    process.stdout.write(digest);`;
  const path = join(await makeTempDir(t), 'x');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script, path],
    {
      timeout: 20_000,
    },
  );
  assert.equal(stdout, digests(['sha256'], Buffer.alloc(3 << 20, 7))[0]);
});

test('without WebAssembly (node --jitless) the slots are plain shared memory, written through the page cache', async (t) => {
  const slots = new URL('../../../src/storage/slots.js', import.meta.url).href;
  const script = `
    const { openSync, closeSync, readFileSync, readdirSync, readlinkSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const { createSlotSink, SlotResources } = await import(${JSON.stringify(slots)});
    const path = process.argv[1];
    const fd = openSync(path, 'w');
    const sink = await createSlotSink(fd, path, ['sha256'], { onRoom() {}, onFailure(err) { throw err; } },
      new SlotResources());
    const open = readdirSync('/proc/self/fd').filter((n) => {
      try { return readlinkSync('/proc/self/fd/' + n) === path; } catch { return false; }
    });
    const bytes = Buffer.alloc(3 << 20, 5);
    sink.push(bytes);
    const [digest] = await sink.finish();
    closeSync(fd);
    process.stdout.write(JSON.stringify({
      wasm: typeof WebAssembly,
      descriptors: open.length,
      digestOk: digest === createHash('sha256').update(bytes).digest('hex'),
      fileOk: readFileSync(path).equals(bytes),
    }));`;
  const path = join(await makeTempDir(t), 'x');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--jitless', '--no-warnings', '--input-type=module', '-e', script, path],
    { timeout: 20_000 },
  );
  assert.deepEqual(JSON.parse(stdout), { wasm: 'undefined', descriptors: 1, digestOk: true, fileOk: true });
});
