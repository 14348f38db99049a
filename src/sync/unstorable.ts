// Project names that cannot be stored (model/layout.ts whyUnstorableProjectName) are skipped where they come
// in (listing, changelog, package_matches), each with one warning per run: one bad name affects only itself.
import type { Logger } from '../log.js';
import { whyUnstorableProjectName } from '../model/layout.js';

/** Names warned about individually per run; past this, one line says the rest are skipped silently. */
const MAX_NAMES_WARNED = 100;

/** A per-run check: true when the normalised `name` can be stored; false (warned once) when not. */
export type StorableCheck = (name: string) => boolean;

export function createStorableCheck(log: Logger): StorableCheck {
  const warned = new Set<string>();
  let isCapped = false;
  return (name) => {
    const why = whyUnstorableProjectName(name);
    if (why === null) return true;
    if (warned.has(name) || isCapped) return false;
    if (warned.size >= MAX_NAMES_WARNED) {
      isCapped = true;
      log.warn(`more than ${MAX_NAMES_WARNED} project names cannot be stored; the rest are skipped silently`);
      return false;
    }
    warned.add(name);
    log.warn('project skipped: its name cannot be stored', {
      project: name.length > 80 ? `${name.slice(0, 80)}… (${name.length} bytes)` : name,
      reason: why,
    });
    return false;
  };
}
