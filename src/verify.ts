// `pypimirror verify [--repair]`: re-hash every mirrored file against its record. With --repair, files
// that are missing or wrong are forgotten in their record (so the planner fetches them again) and a sync
// runs: the new copy is verified in a temp file and renamed over the bad one, and the page rewritten.
import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import { filePath } from './mirror/layout.js';
import type { ProjectRecord } from './mirror/record.js';
import { listRecords, readRecord, readState, writeRecord, writeState } from './mirror/state.js';
import { hashFile } from './mirror/store.js';

export interface VerifyProblem {
  readonly project: string;
  readonly file: string;
  readonly problem: 'missing' | 'size' | 'sha256';
  readonly detail: string;
}

/** Re-hashes every file of every record; returns the problems found. */
export async function verifyTree(cfg: Config, log: Logger, signal: AbortSignal): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  let files = 0;
  for (const name of await listRecords(cfg.mirrorRoot)) {
    const record = await readRecord(cfg.mirrorRoot, name);
    if (record === null) continue;
    for (const file of record.files) {
      signal.throwIfAborted();
      files++;
      const path = filePath(cfg.mirrorRoot, name, file.filename);
      const checks: [string, string, number | null][] = [[path, file.sha256, file.size]];
      if (file.metadataSha256 !== null) checks.push([`${path}.metadata`, file.metadataSha256, null]);
      for (const [p, sha256, size] of checks) {
        const shown = p === path ? file.filename : `${file.filename}.metadata`;
        const got = await hashFile(p, signal);
        if (got === null) problems.push({ project: name, file: shown, problem: 'missing', detail: p });
        else if (size !== null && got.size !== size) {
          problems.push({
            project: name,
            file: shown,
            problem: 'size',
            detail: `${got.size} bytes, expected ${size}`,
          });
        } else if (got.sha256 !== sha256) {
          problems.push({
            project: name,
            file: shown,
            problem: 'sha256',
            detail: `${got.sha256}, expected ${sha256}`,
          });
        }
      }
    }
  }
  for (const p of problems) log.error(`verify: ${p.problem}`, { ...p });
  log.info('verify finished', { files, problems: problems.length });
  return problems;
}

/** Makes the next sync fetch the problem files again: they leave their records, the projects their serials. */
export async function forgetBadFiles(cfg: Config, problems: readonly VerifyProblem[]): Promise<string[]> {
  const byProject = new Map<string, Set<string>>();
  for (const p of problems) {
    const file = p.file.endsWith('.metadata') ? p.file.slice(0, -'.metadata'.length) : p.file;
    byProject.set(p.project, (byProject.get(p.project) ?? new Set()).add(file));
  }
  for (const [name, bad] of byProject) {
    const record = (await readRecord(cfg.mirrorRoot, name)) as ProjectRecord;
    await writeRecord(cfg.mirrorRoot, {
      ...record,
      etag: null,
      lastModified: null,
      files: record.files.filter((f) => !bad.has(f.filename)),
    });
  }
  const state = await readState(cfg.mirrorRoot);
  const projects = { ...state.projects };
  for (const name of byProject.keys()) {
    const entry = projects[name];
    if (entry !== undefined) projects[name] = { ...entry, serial: null };
  }
  await writeState(cfg.mirrorRoot, { ...state, projects });
  return [...byProject.keys()];
}
