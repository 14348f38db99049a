// The hashing thread (see hasher.ts): digests batches of bytes for many streams at once, in arrival order per
// stream, and acknowledges each batch so that the sender can bound what is in flight.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** From the event loop. `data` is transferred; its first `length` bytes are the stream's next bytes. */
export type HashRequest =
  | { readonly id: number; readonly start: readonly string[] }
  | { readonly id: number; readonly data: ArrayBuffer; readonly length: number }
  | { readonly id: number; readonly end: true }
  | { readonly id: number; readonly abort: true };

/**
 * To the event loop: `acked` bytes are hashed and `data` is transferred back for reuse; or the hex digests,
 * in the order `start` named the algorithms.
 */
export type HashReply =
  | { readonly id: number; readonly acked: number; readonly data: ArrayBuffer }
  | { readonly id: number; readonly digests: string[] };

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts runs as a worker thread (see hasher.ts)');
const streams = new Map<number, Hash[]>();

port.on('message', (message: HashRequest) => {
  if ('start' in message) {
    streams.set(
      message.id,
      message.start.map((algo) => createHash(algo)),
    );
  } else if ('data' in message) {
    const bytes = new Uint8Array(message.data, 0, message.length);
    for (const hash of streams.get(message.id) ?? []) hash.update(bytes); // none: aborted meanwhile
    const reply: HashReply = { id: message.id, acked: message.length, data: message.data };
    port.postMessage(reply, [message.data]);
  } else if ('end' in message) {
    const hashes = streams.get(message.id);
    streams.delete(message.id);
    if (hashes === undefined) return;
    port.postMessage({ id: message.id, digests: hashes.map((h) => h.digest('hex')) } satisfies HashReply);
  } else {
    streams.delete(message.id);
  }
});
