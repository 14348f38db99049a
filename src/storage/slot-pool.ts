// The slot pool of the large-file sink (slots.ts): POOL_SLOTS slots of SLOT_BYTES in memory that every
// thread of the process can read (the hashing thread reads them where the event loop wrote them), handed
// out first come first served and reused once their write and their hashing are done. The memory is a
// WebAssembly.Memory when the process may have one: V8 aligns its base to a 64 KiB page, so full slots can
// be written with O_DIRECT.

/** Bytes in one slot: one write, one message to the hashing thread (hash-worker.ts reads the same value). */
export const SLOT_BYTES = 1 << 20;

/** Slots in a pool, shared by every large download (their pages are touched as they are used). */
export const POOL_SLOTS = 32;

/** A holder of slots, told when one of its own is free again, or when a slot it waited for may be taken. */
export interface SlotOwner {
  onSlotFree(wasOwn: boolean): void;
}

/** The slots, who holds each, and who waits for one. */
export class SlotPool {
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

  /** `onIdle` is called whenever the pool has no user left and every slot is free. */
  constructor(private readonly onIdle: (pool: SlotPool) => void) {
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
    this.tellIfIdle();
  }

  leave(owner: SlotOwner): void {
    const at = this.waiting.indexOf(owner);
    if (at >= 0) this.waiting.splice(at, 1);
    this.users--;
    this.tellIfIdle();
  }

  private tellIfIdle(): void {
    if (this.users === 0 && this.free.length === POOL_SLOTS) this.onIdle(this);
  }
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
