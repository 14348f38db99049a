// Reading what the closure's dependencies come from, as the mirror holds them: a `.metadata` file checked
// against the sha256 recorded when the sync verified it, and the requirement strings of the dependency cache.
import { createHash } from 'node:crypto';
import { parseRequirement, RequirementSyntaxError, type Requirement } from '../plan/requirements.js';
import type { Storage } from '../storage/types.js';

/** A `.metadata` file whose sha256 is the one recorded when the sync verified it, or null. */
export async function readVerified(
  storage: Storage,
  key: string,
  sha256: string | null,
): Promise<Buffer | null> {
  if (sha256 === null) return null;
  const bytes = await storage.get(key).catch(() => null);
  if (bytes === null) return null;
  return createHash('sha256').update(bytes).digest('hex') === sha256 ? bytes : null;
}

/** Requirements stored in the dependency cache; one that no longer parses is skipped. */
export function parseStored(texts: readonly string[]): Requirement[] {
  const requirements: Requirement[] = [];
  for (const text of texts) {
    try {
      requirements.push(parseRequirement(text));
    } catch (err) {
      if (!(err instanceof RequirementSyntaxError)) throw err;
    }
  }
  return requirements;
}
