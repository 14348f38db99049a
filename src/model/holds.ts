// What a run holds back and what it removes, as records, state.json and status.json keep them: the files
// `min_release_age` holds back on a page (plan/quarantine.ts decides), the removals counted against the
// deletion guards and a hold of them (sync/guards.ts decides). Types only.

/** Files held back by `min_release_age` on one page: how many, and when the first of them comes of age. */
export interface QuarantineHold {
  readonly files: number;
  /** ISO 8601: the earliest instant a held file is old enough. */
  readonly until: string;
}

export interface DeletionCounts {
  readonly projects: number;
  readonly files: number;
}

/**
 * One run's removals, kept in state.json (pruned to the window) so that a slow bleed is caught: whole projects,
 * and files of projects that stayed.
 */
export interface RemovalEntry extends DeletionCounts {
  /** When the run removed them (ISO 8601). */
  readonly at: string;
}

/** A hold, as status.json, state.json and `check` show it. */
export interface DeletionHold {
  /** The one warning the run logged. */
  readonly message: string;
  /** Start of the first run of this uninterrupted series of held runs (ISO 8601). */
  readonly since: string;
  /** Projects and files whose removal was held. */
  readonly projects: number;
  readonly files: number;
  /** Before the run: mirrored projects with a page, and their files. */
  readonly selectedProjects: number;
  readonly mirroredFiles: number;
}
