// A file's sha256 and size from its bytes: a file of the tree through its storage (verify, a file an
// interrupted run left in place), or a local file outside it (find_links_dir's copies).
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { isNotFound } from '../util/fs.js';
import type { Storage } from './types.js';

/** Read size of a local file being hashed: 1 MiB hashed 1 GiB in 0.63 s, the default 64 KiB in 0.9 s. */
export const HASH_READ_BYTES = 1 << 20;

export interface Digest {
  readonly sha256: string;
  readonly size: number;
}

/**
 * node:crypto's createHash, the module loaded with the first hash rather than with the storage's modules:
 * `check` loads those and hashes nothing (~3 ms of its start, issue #14 part 3).
 */
export function createHash(algorithm: string): Hash {
  return process.getBuiltinModule('node:crypto').createHash(algorithm);
}

async function hashStream(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** sha256 and size of the bytes at `key`, read through the storage; null when there is no file there. */
export async function hashStored(
  storage: Storage,
  key: string,
  signal?: AbortSignal,
): Promise<Digest | null> {
  const stream = await storage.open(key, signal);
  return stream === null ? null : hashStream(stream);
}

/** sha256 and size of the local file `path`, or null when it does not exist. */
export async function hashLocalFile(path: string, signal?: AbortSignal): Promise<Digest | null> {
  try {
    const stream = createReadStream(path, {
      highWaterMark: HASH_READ_BYTES,
      ...(signal === undefined ? {} : { signal }),
    });
    return await hashStream(stream);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}
