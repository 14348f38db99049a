// A wheel's PEP 658 `.metadata` file from the wheel itself (issue #14 part 1). PEP 658 makes the `.metadata`
// file byte for byte the wheel's `*.dist-info/METADATA`, so once the wheel is in the tree its metadata costs no
// request: the member is read (mirror/archive.ts) and checked against the digest the page gives for the
// `.metadata` file. Only when that fails (no such member, other bytes) is the file fetched from the upstream.
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { readWheelMetadata } from '../mirror/archive.js';
import { chooseVerification } from '../mirror/store.js';
import type { Storage } from '../storage/types.js';

/**
 * Writes `<wheel>.metadata` from the wheel at `wheelKey` when its METADATA has the digest `coreMetadata`
 * names (sha256 when given, else the strongest supported). Returns the file's sha256, or null when the
 * file is not a wheel, the page gives no digest to check, the wheel has no readable METADATA, or its bytes
 * are not the page's: then nothing is written, and the caller fetches the file from the upstream.
 * The file is fsynced but not its directory: the project's page, written after it, syncs the directory.
 */
export async function writeMetadataFromWheel(
  storage: Storage,
  wheelKey: string,
  filename: string,
  coreMetadata: Readonly<Record<string, string>>,
  log: Logger,
  project: string,
): Promise<string | null> {
  if (!filename.toLowerCase().endsWith('.whl')) return null;
  const expected = chooseVerification(coreMetadata);
  if (expected === null) return null;
  let bytes: Buffer | null;
  try {
    bytes = await readWheelMetadata(storage, wheelKey);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log.debug('the wheel could not be read for its METADATA; fetching it', {
      project,
      file: filename,
      error,
    });
    return null;
  }
  if (bytes === null) {
    log.debug('the wheel has no readable METADATA; fetching it', { project, file: filename });
    return null;
  }
  const digest = createHash(expected.algo).update(bytes).digest('hex');
  if (digest !== expected.hex.toLowerCase()) {
    log.debug("the wheel's METADATA is not the page's core metadata; fetching it", {
      project,
      file: filename,
      [expected.algo]: digest,
      expected: expected.hex,
    });
    return null;
  }
  try {
    await storage.put(`${wheelKey}.metadata`, bytes, { durability: 'data' });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    log.warn('core metadata from the wheel not written; fetching it', { project, file: filename, error });
    return null;
  }
  return expected.algo === 'sha256' ? digest : createHash('sha256').update(bytes).digest('hex');
}
