// The process's exit codes, in one place that loads nothing else, so that every command can name them
// without loading the modules of the others (README "Exit codes").

/** Exit codes of the bundle commands (issue #16). */
export const BUNDLE_EXIT = {
  /** `export`: nothing changed since the last export; no bundle written. */
  NOTHING: 3,
  /** `import`: bundles are held until the one they follow is imported (the message names it). */
  GAP: 4,
  /** `import`: a bundle failed a check (signature, sha256, consistency); nothing of it was written. */
  REFUSED: 65,
} as const;

/** Every exit code (README "Exit codes"). */
export const EXIT = { OK: 0, FAILED: 1, CONFIG: 2, LOCKED: 75, ...BUNDLE_EXIT } as const;
