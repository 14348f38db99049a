// The sink for large files (LARGE_FILE_BYTES and up). The event loop copies the received bytes once, into
// 1 MiB slots of memory that every thread of the process can read; each full slot is then, at the same time,
// written to the temp file by libuv's thread pool and hashed by the hashing thread (hash-worker.ts), and it
// is reused once both are done. The file is opened a second time with O_DIRECT: a full slot goes from its
// memory straight to the disk, with no copy into the page cache. Measured on 1 GiB served by nginx on
// loopback, interleaved rounds (README "Benchmark"): 1.54-1.57 s against 1.8-2.0 s through the page cache;
// 1.0-1.2 s with the heap setting on main.ts's #! line; curl to a file took 1.15-1.5 s in the same rounds.
//
// Direct writes need their memory, file offset and length aligned to the disk's block size. The slots live
// in a WebAssembly.Memory, whose base V8 aligns to a 64 KiB page; every slot but a file's last is full, and
// written at a multiple of 1 MiB. The last one, a write cut short, and every write on a file system that
// refuses O_DIRECT go through the ordinary descriptor instead.
import { createHash, type Hash } from 'node:crypto';
import { constants, open, close, write } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-worker.js';
import { diskError, type FileSink, type SinkEvents } from './sink.js';

/** Bytes in one slot: one write, one message to the hashing thread. */
export const SLOT_BYTES = 1 << 20;

/** Slots in the process's pool, shared by every large download (their pages are touched as they are used). */
const POOL_SLOTS = 32;

/** Slots one download may hold (one being filled, the rest being written and hashed) before it pauses. */
export const STREAM_SLOTS = 8;

export interface SlotSinkOptions {
  /** Hash on the hashing thread (default: when there is more than one core) or on the event loop. */
  readonly hashOnThread?: boolean;
  /** Also open the file with O_DIRECT when the memory allows it (default true). */
  readonly direct?: boolean;
}

/**
 * A sink for the large temp file `path`, whose ordinary descriptor is `fd` (the caller opened it and closes
 * it). Hashes with `algorithms` (hashlib names).
 */
export async function createSlotSink(
  fd: number,
  path: string,
  algorithms: readonly string[],
  events: SinkEvents,
  options: SlotSinkOptions = {},
): Promise<FileSink> {
  const pool = takePool();
  let directFd: number | null = null;
  if (options.direct !== false && pool.isAligned && constants.O_DIRECT !== undefined) {
    // Refused by some file systems (tmpfs before Linux 6.6, some FUSE ones): then the page cache it is.
    directFd = await new Promise<number | null>((resolve) =>
      open(path, constants.O_WRONLY | constants.O_DIRECT, (err, opened) =>
        resolve(err === null ? opened : null),
      ),
    );
  }
  const hashOnThread = options.hashOnThread ?? availableParallelism() > 1;
  return new SlotStream(pool, fd, directFd, path, algorithms, hashOnThread, events);
}

/**
 * The process's slot pool: its size and the slots taken (being filled, written or hashed); null when there is
 * none (no large download since the last one ended). For tests: every download gives back what it took.
 */
export function slotPoolState(): { slots: number; inUse: number } | null {
  return current === null ? null : { slots: POOL_SLOTS, inUse: current.inUse() };
}

/** A holder of slots, told when one of its own is free again, or when a slot it waited for may be taken. */
interface SlotOwner {
  onSlotFree(wasOwn: boolean): void;
}

class SlotStream implements FileSink, SlotOwner {
  /** Chunks received and not yet copied into a slot (the pool, or this stream's share of it, ran out). */
  private pending: Buffer[] = [];
  private filling = -1;
  private filled = 0;
  /** File offset of the slot being filled. */
  private position = 0;
  /** Slots this stream holds: the one being filled and those being written or hashed. */
  private held = 0;
  private writesInFlight = 0;
  private isDirect: boolean;
  private isPaused = false;
  private isEnding = false;
  private isReleased = false;
  private failure: Error | null = null;
  private settled: (() => void)[] = [];
  private readonly hashes: Hash[] | null;
  /** On the hashing thread: the thread and this stream's number there. */
  private readonly thread: { readonly on: HashingThread; readonly id: number } | null;
  private digests: Promise<string[]> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly fd: number,
    private readonly directFd: number | null,
    private readonly path: string,
    algorithms: readonly string[],
    hashOnThread: boolean,
    private readonly events: SinkEvents,
  ) {
    this.isDirect = directFd !== null;
    if (hashOnThread) {
      const on = hashingThread();
      this.hashes = null;
      this.thread = { on, id: on.start(algorithms, (err) => this.fail(err)) };
    } else {
      this.hashes = algorithms.map((algo) => createHash(algo));
      this.thread = null;
    }
  }

  push(chunk: Buffer): boolean {
    if (this.failure !== null || chunk.length === 0) return true;
    this.pending.push(chunk);
    this.place();
    if (this.pending.length > 0) this.isPaused = true;
    return !this.isPaused;
  }

  async finish(): Promise<string[]> {
    this.isEnding = true;
    this.place();
    await this.settle();
    if (this.failure !== null) throw this.failure;
    const digests = await (this.digests as Promise<string[]>);
    await this.release();
    return digests;
  }

  async abort(): Promise<void> {
    this.failure ??= new Error('aborted');
    this.pending = [];
    this.thread?.on.abort(this.thread.id);
    if (this.filling >= 0) {
      const slot = this.filling;
      this.filling = -1;
      this.pool.unref(slot);
    }
    await this.settle(); // no write uses the descriptors any more
    await this.release();
  }

  onSlotFree(wasOwn: boolean): void {
    if (wasOwn) this.held--;
    this.place();
    this.wake();
  }

  /** Copies pending chunks into slots while this stream may take them, and submits each slot once full. */
  private place(): void {
    while (this.failure === null && this.pending.length > 0) {
      if (this.filling < 0) {
        if (this.held >= STREAM_SLOTS) return; // on again when one of ours is free
        const slot = this.pool.take(this);
        if (slot < 0) return; // on again when this stream's turn for a free slot comes
        this.filling = slot;
        this.filled = 0;
        this.held++;
      }
      const chunk = this.pending[0] as Buffer;
      const room = SLOT_BYTES - this.filled;
      const piece = chunk.length <= room ? chunk : chunk.subarray(0, room);
      const at = this.filling * SLOT_BYTES + this.filled;
      // fill(piece) over exactly piece.length bytes is one memcpy, in C++. copy() and set() would go through
      // V8, which copies into shared memory word by word (relaxed atomics): 0.5 CPU s more per GiB, measured.
      this.pool.bytes.fill(piece, at, at + piece.length);
      const copied = piece.length;
      this.filled += copied;
      if (copied === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(copied);
      if (this.filled === SLOT_BYTES) this.submit();
    }
    if (this.failure !== null) return;
    if (this.isEnding && this.pending.length === 0 && this.digests === null) {
      if (this.filling >= 0) this.submit(); // the file's last bytes
      this.digests =
        this.thread === null
          ? Promise.resolve((this.hashes ?? []).map((h) => h.digest('hex')))
          : this.thread.on.end(this.thread.id);
      this.digests.catch(() => {}); // awaited in finish
    }
    if (this.isPaused && this.pending.length === 0) {
      this.isPaused = false;
      this.events.onRoom();
    }
  }

  /** Sends the slot being filled to be written, and hashed. */
  private submit(): void {
    const slot = this.filling;
    const length = this.filled;
    const at = this.position;
    this.filling = -1;
    this.position += length;
    const view = this.pool.bytes.subarray(slot * SLOT_BYTES, slot * SLOT_BYTES + length);
    if (this.thread === null) {
      for (const hash of this.hashes ?? []) hash.update(view);
      this.pool.hold(slot, 1);
    } else {
      this.pool.hold(slot, 2);
      this.thread.on.hash(this.thread.id, this.pool, slot, length);
    }
    // Only full slots go direct: their memory, offset and length are multiples of SLOT_BYTES.
    this.write(view, slot, at, this.isDirect && length === SLOT_BYTES);
  }

  /** Writes `view` (in slot `slot`) at `at`; a write cut short, or refused as direct, goes on through `fd`. */
  private write(view: Buffer, slot: number, at: number, isDirect: boolean): void {
    this.writesInFlight++;
    write(isDirect ? (this.directFd as number) : this.fd, view, 0, view.length, at, (err, written) => {
      this.writesInFlight--;
      if (err !== null && isDirect && err.code === 'EINVAL') {
        // The file system took O_DIRECT at open but not this alignment: the page cache from here on.
        this.isDirect = false;
        this.write(view, slot, at, false);
        return;
      }
      if (err === null && written > 0 && written < view.length) {
        // Cut short (the disk filled up, a file size limit): the rest, which then fails with the reason.
        this.write(view.subarray(written), slot, at + written, false);
        return;
      }
      if (err !== null) this.fail(diskError(err, this.path));
      else if (written === 0) {
        this.fail(diskError(new Error(`wrote 0 of ${view.length} bytes at offset ${at}`), this.path));
      }
      this.pool.unref(slot);
      this.wake();
    });
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.events.onFailure(err);
    this.wake();
  }

  /** Finished (every byte written and hashed) or failed, and in either case no write in flight. */
  private isSettled(): boolean {
    if (this.writesInFlight > 0) return false;
    if (this.failure !== null) return true;
    return this.held === 0 && this.digests !== null;
  }

  private wake(): void {
    if (!this.isSettled()) return;
    const settled = this.settled;
    this.settled = [];
    for (const resolve of settled) resolve();
  }

  private settle(): Promise<void> {
    return this.isSettled() ? Promise.resolve() : new Promise((resolve) => this.settled.push(resolve));
  }

  /** Only once no write is in flight: the descriptor's number could otherwise be reused under one. */
  private async release(): Promise<void> {
    if (this.isReleased) return;
    this.isReleased = true;
    this.pool.leave(this);
    const fd = this.directFd;
    if (fd !== null) await new Promise((resolve) => close(fd, resolve));
  }
}

// ---- the pool ---------------------------------------------------------------------------------------------

class Pool {
  readonly bytes: Buffer;
  /** The memory is aligned for O_DIRECT (a WebAssembly.Memory; a SharedArrayBuffer otherwise). */
  readonly isAligned: boolean;
  readonly memory: SharedArrayBuffer;
  /** Free slots, last freed first: a lone download keeps reusing the same few pages. */
  private readonly free: number[] = [];
  /** Per slot: 1 while being filled; then 1 for its write plus 1 for its hashing on the thread. */
  private readonly refs = new Uint8Array(POOL_SLOTS);
  private readonly owners: (SlotOwner | null)[] = new Array<SlotOwner | null>(POOL_SLOTS).fill(null);
  /** Owners waiting for a free slot, first come first served. */
  private readonly waiting: SlotOwner[] = [];
  private users = 0;
  /** Slots taken so far: tells whether a waiter offered a free slot took it. */
  private takes = 0;

  constructor() {
    ({ memory: this.memory, isAligned: this.isAligned } = allocate(POOL_SLOTS * SLOT_BYTES));
    this.bytes = Buffer.from(this.memory);
    for (let slot = POOL_SLOTS - 1; slot >= 0; slot--) this.free.push(slot);
  }

  inUse(): number {
    return POOL_SLOTS - this.free.length;
  }

  join(): this {
    this.users++;
    return this;
  }

  /** A free slot for `owner` (held once, while it is filled), or -1: `owner` is told when one is free. */
  take(owner: SlotOwner): number {
    const slot = this.waiting.length > 0 && this.waiting[0] !== owner ? undefined : this.free.pop();
    if (slot === undefined) {
      if (!this.waiting.includes(owner)) this.waiting.push(owner);
      return -1;
    }
    if (this.waiting[0] === owner) this.waiting.shift();
    this.takes++;
    this.refs[slot] = 1;
    this.owners[slot] = owner;
    return slot;
  }

  /** The slot, filled, is now held `count` times (its write, and its hashing when on the thread). */
  hold(slot: number, count: number): void {
    this.refs[slot] = count;
  }

  unref(slot: number): void {
    const refs = this.refs[slot] as number;
    if (refs === 0) throw new Error(`slot ${slot} freed twice`);
    this.refs[slot] = refs - 1;
    if (refs > 1) return;
    const owner = this.owners[slot];
    this.owners[slot] = null;
    this.free.push(slot);
    owner?.onSlotFree(true);
    while (this.free.length > 0 && this.waiting.length > 0) {
      const next = this.waiting[0] as SlotOwner;
      const takes = this.takes;
      next.onSlotFree(false);
      // It took none (it failed, or waits for its own slots now): it asks again when it needs one.
      if (this.takes === takes && this.waiting[0] === next) this.waiting.shift();
    }
    this.dropIfIdle();
  }

  leave(owner: SlotOwner): void {
    const at = this.waiting.indexOf(owner);
    if (at >= 0) this.waiting.splice(at, 1);
    this.users--;
    this.dropIfIdle();
  }

  private dropIfIdle(): void {
    if (this.users > 0 || this.free.length < POOL_SLOTS || current !== this) return;
    current = null; // an idle process holds no slot memory
    currentThread?.forget(this);
  }
}

let current: Pool | null = null;

function takePool(): Pool {
  current ??= new Pool();
  return current.join();
}

/**
 * `bytes` of memory that every thread may read. A WebAssembly.Memory when the process may have one (its base
 * is page-aligned); not under `--jitless` (no WebAssembly) or a low `ulimit -v` (V8 reserves several GiB of
 * address space for it).
 */
function allocate(bytes: number): { memory: SharedArrayBuffer; isAligned: boolean } {
  try {
    const pages = bytes / (64 << 10);
    const memory = new (globalThis as unknown as WebAssemblyGlobal).WebAssembly.Memory({
      initial: pages,
      maximum: pages,
      shared: true,
    });
    return { memory: memory.buffer, isAligned: true };
  } catch {
    return { memory: new SharedArrayBuffer(bytes), isAligned: false };
  }
}

/** The part of the WebAssembly global used here (our `lib` setting, ES2023 without DOM, does not declare it). */
interface WebAssemblyGlobal {
  readonly WebAssembly: {
    readonly Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => {
      readonly buffer: SharedArrayBuffer;
    };
  };
}

// ---- the hashing thread -----------------------------------------------------------------------------------

interface ThreadStream {
  onFailure(err: Error): void;
  finish?: { resolve(digests: string[]): void; reject(err: Error): void };
}

interface HashingThread {
  /** A new stream hashed with `algorithms`; `onFailure` if the thread fails before its digests are out. */
  start(algorithms: readonly string[], onFailure: (err: Error) => void): number;
  /** Hashes `length` bytes of `slot` as the stream's next bytes; the pool's slot is unref'd once done. */
  hash(id: number, pool: Pool, slot: number, length: number): void;
  /** The stream's digests, after every slot sent before. */
  end(id: number): Promise<string[]>;
  abort(id: number): void;
  /** `pool` is gone: the thread lets go of its memory. */
  forget(pool: Pool): void;
}

let currentThread: HashingThread | null = null;

/**
 * The process's hashing thread, started on first use. It keeps the process alive only while a stream is
 * being hashed (an idle daemon, or a sync that has finished, does not wait for it).
 */
function hashingThread(): HashingThread {
  if (currentThread !== null) return currentThread;
  // No Node options from the command line (--input-type, --require, loaders: not for this thread); V8 flags
  // such as --single-threaded-gc are the process's, and apply here anyway.
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { execArgv: [] });
  worker.unref();
  const streams = new Map<number, ThreadStream>();
  /** Slots sent and not yet hashed, all of one pool (a pool is replaced only once all its slots are free). */
  const outstanding = new Set<number>();
  let sentPool: Pool | null = null;
  let nextId = 1;
  const post = (message: HashRequest): void => worker.postMessage(message);
  const add = (id: number, stream: ThreadStream): void => {
    if (streams.size === 0) worker.ref();
    streams.set(id, stream);
  };
  const remove = (id: number): void => {
    if (streams.delete(id) && streams.size === 0) worker.unref();
  };
  const thread: HashingThread = {
    start(algorithms, onFailure) {
      const id = nextId++;
      add(id, { onFailure });
      post({ id, start: algorithms });
      return id;
    },
    hash(id, pool, slot, length) {
      if (sentPool !== pool) {
        sentPool = pool;
        post({ memory: pool.memory });
      }
      outstanding.add(slot);
      post({ id, slot, length });
    },
    end(id) {
      const stream = streams.get(id);
      if (stream === undefined) return Promise.reject(new Error('hashing thread: no such stream'));
      return new Promise((resolve, reject) => {
        stream.finish = { resolve, reject };
        post({ id, end: true });
      });
    },
    abort(id) {
      if (!streams.has(id)) return;
      remove(id);
      post({ id, abort: true });
    },
    forget(pool) {
      if (sentPool !== pool) return;
      sentPool = null;
      post({ memory: null });
    },
  };
  const fail = (err: Error): void => {
    if (currentThread === thread) currentThread = null; // the next download starts a new thread
    const failed = [...streams.values()];
    streams.clear();
    worker.unref();
    const pool = sentPool;
    sentPool = null;
    for (const stream of failed) {
      stream.onFailure(err);
      stream.finish?.reject(err);
    }
    const slots = [...outstanding];
    outstanding.clear();
    for (const slot of slots) pool?.unref(slot);
  };
  worker.on('message', (reply: HashReply) => {
    if ('slot' in reply) {
      outstanding.delete(reply.slot);
      sentPool?.unref(reply.slot);
    } else {
      const stream = streams.get(reply.id);
      remove(reply.id);
      stream?.finish?.resolve(reply.digests);
    }
  });
  worker.on('error', (err) => fail(new Error(`hashing thread failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => fail(new Error(`hashing thread exited with code ${code}`)));
  currentThread = thread;
  return thread;
}
