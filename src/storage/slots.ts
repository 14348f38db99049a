// The sink for large files (LARGE_FILE_BYTES and up). The event loop copies the received bytes once, into
// 1 MiB slots of memory that every thread of the process can read (slot-pool.ts); each full slot is then, at
// the same time, written to the temp file by libuv's thread pool and hashed by the hashing thread
// (hashing-thread.ts, hash-worker.ts), and it is reused once both are done. The file is opened a second time
// with O_DIRECT: a full slot goes from its memory straight to the disk, with no copy into the page cache.
// Measured on 1 GiB served by nginx on loopback, interleaved rounds (README "Benchmark"): 1.54-1.57 s against
// 1.8-2.0 s through the page cache; 1.0-1.2 s with the heap setting on main.ts's #! line; curl to a file took
// 1.15-1.5 s in the same rounds.
//
// Direct writes need their memory, file offset and length aligned to the disk's block size. The slots live
// in a WebAssembly.Memory, whose base V8 aligns to a 64 KiB page; every slot but a file's last is full, and
// written at a multiple of 1 MiB. The last one, a write cut short, and every write on a file system that
// refuses O_DIRECT go through the ordinary descriptor instead.
//
// The pool and the thread belong to a SlotResources that the caller owns (the local storage has one of its
// own, storage/local.ts): each is created when the first large file needs it; the pool goes when no download
// uses it, the thread once no large file has come for a few seconds.
import type { Hash } from 'node:crypto';
import { constants, open, close, write } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createHash } from './hash.js';
import { startHashingThread, type HashingThread } from './hashing-thread.js';
import { diskError, type FileSink, type SinkEvents } from './sink.js';
import { POOL_SLOTS, SLOT_BYTES, SlotPool, type SlotOwner } from './slot-pool.js';

/** Slots one download may hold (one being filled, the rest being written and hashed) before it pauses. */
export const STREAM_SLOTS = 8;

/** How long the hashing thread outlives the last large download (a sync's next large file is usually sooner). */
const THREAD_IDLE_MS = 5_000;

/**
 * The slot pool and the hashing thread that one owner's large downloads share: each is created when a
 * download first needs it; the pool (and the thread's hold on its memory) goes once no download uses it, so
 * an idle process holds no slot memory, and the thread ends `idleMs` later unless a download comes (an owner
 * made per run leaves no thread behind); a thread that fails is replaced at the next download.
 */
export class SlotResources {
  private pool: SlotPool | null = null;
  private thread: HashingThread | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly idleMs: number = THREAD_IDLE_MS) {}

  /** The pool, joined: the caller leaves it when done. */
  joinPool(): SlotPool {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.pool === null) {
      this.pool = new SlotPool((idle) => {
        if (this.pool !== idle) return;
        this.pool = null;
        this.thread?.forget(idle);
        if (this.thread !== null) this.idleTimer = setTimeout(() => this.closeThread(), this.idleMs).unref();
      });
    }
    return this.pool.join();
  }

  hashingThread(): HashingThread {
    this.thread ??= startHashingThread((failed) => {
      if (this.thread === failed) this.thread = null;
    });
    return this.thread;
  }

  /** No download has used the pool for `idleMs` (every stream on the thread ended before the pool went). */
  private closeThread(): void {
    this.idleTimer = null;
    const thread = this.thread;
    this.thread = null;
    thread?.close();
  }

  /** The pool's size and the slots taken; null when there is none. For tests: every download gives back what it took. */
  poolState(): { slots: number; inUse: number } | null {
    return this.pool === null ? null : { slots: POOL_SLOTS, inUse: this.pool.inUse() };
  }
}

export interface SlotSinkOptions {
  /** Hash on the hashing thread (default: when there is more than one core) or on the event loop. */
  readonly hashOnThread?: boolean;
  /** Also open the file with O_DIRECT when the memory allows it (default true). */
  readonly direct?: boolean;
}

/**
 * A sink for the large temp file `path`, whose ordinary descriptor is `fd` (the caller opened it and closes
 * it), with the pool and thread of `resources`. Hashes with `algorithms` (hashlib names).
 */
export async function createSlotSink(
  fd: number,
  path: string,
  algorithms: readonly string[],
  events: SinkEvents,
  resources: SlotResources,
  options: SlotSinkOptions = {},
): Promise<FileSink> {
  const pool = resources.joinPool();
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
  const thread = hashOnThread ? resources.hashingThread() : null;
  return new SlotStream(pool, fd, directFd, path, algorithms, thread, events);
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
    private readonly pool: SlotPool,
    private readonly fd: number,
    private readonly directFd: number | null,
    private readonly path: string,
    algorithms: readonly string[],
    on: HashingThread | null,
    private readonly events: SinkEvents,
  ) {
    this.isDirect = directFd !== null;
    if (on !== null) {
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
