// A stored file's sha256 and size, from its bytes (verify, and a file an interrupted run left in place).
import { createHash } from 'node:crypto';
import type { Storage } from './types.js';

/** sha256 and size of the bytes at `key`, read through the storage; null when there is no file there. */
export async function hashStored(
  storage: Storage,
  key: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number } | null> {
  const stream = await storage.open(key, signal);
  if (stream === null) return null;
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}
