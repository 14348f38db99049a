// `check` on a storage: can pypimirror list the tree and write into it? A listing of the root, then a small
// object written, read back and removed under the private state prefix (a temp name: a sweep would take it
// if a kill left it). For an S3 storage this is the first request with the credentials of the AWS chain.
import { randomBytes } from 'node:crypto';
import { STATE_DIR } from '../model/layout.js';
import { StoreError } from '../errors.js';
import type { Storage } from './types.js';

/** What `check` prints about the storage once it listed and wrote; throws StoreError naming what failed. */
export async function probeStorage(storage: Storage): Promise<string> {
  const listing = await storage.list('');
  const key = `${STATE_DIR}/.check.${randomBytes(6).toString('hex')}.tmp`;
  const body = `pypimirror check ${new Date().toISOString()}\n`;
  await storage.put(key, body, { durability: 'none' });
  try {
    const back = await storage.get(key);
    if (back?.toString() !== body) {
      throw new StoreError(
        'STORE_IO',
        `${storage.describe(key)}: written, but read back ${back === null ? 'nothing' : 'other bytes'}`,
      );
    }
  } finally {
    await storage.remove(key);
  }
  const entries = listing.files.length + listing.dirs.length;
  return `# storage: ${storage.where}: listed (${entries} entries at the top) and wrote a test object`;
}
