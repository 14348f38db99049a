// The hashing thread (started by hashing-thread.ts, fed by slots.ts): digests the slots of many downloads at
// once, in arrival order per download, reading them from the memory the event loop shares with it, and says
// when each slot is hashed so that it can be reused.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** From the event loop. Slot `slot` is bytes [slot × 1 MiB, + length) of the last memory sent. */
export type HashRequest =
  | { readonly memory: SharedArrayBuffer | null }
  | { readonly id: number; readonly start: readonly string[] }
  | { readonly id: number; readonly slot: number; readonly length: number }
  | { readonly id: number; readonly end: true }
  | { readonly id: number; readonly abort: true };

/** To the event loop: a slot is hashed (also when its stream was aborted meanwhile); or a stream's digests. */
export type HashReply = { readonly slot: number } | { readonly id: number; readonly digests: string[] };

const SLOT_BYTES = 1 << 20; // slot-pool.ts SLOT_BYTES

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs as a worker thread (see hashing-thread.ts)');
const streams = new Map<number, Hash[]>();
let memory: SharedArrayBuffer | null = null;

port.on('message', (message: HashRequest) => {
  if ('memory' in message) {
    memory = message.memory;
  } else if ('start' in message) {
    streams.set(
      message.id,
      message.start.map((algo) => createHash(algo)),
    );
  } else if ('slot' in message) {
    const hashes = streams.get(message.id); // none: aborted meanwhile
    if (hashes !== undefined) {
      if (memory === null) throw new Error(`slot ${message.slot} of stream ${message.id} before any memory`);
      const bytes = new Uint8Array(memory, message.slot * SLOT_BYTES, message.length);
      for (const hash of hashes) hash.update(bytes);
    }
    port.postMessage({ slot: message.slot } satisfies HashReply);
  } else if ('end' in message) {
    const hashes = streams.get(message.id);
    streams.delete(message.id);
    if (hashes === undefined) return;
    port.postMessage({ id: message.id, digests: hashes.map((h) => h.digest('hex')) } satisfies HashReply);
  } else {
    streams.delete(message.id);
  }
});
