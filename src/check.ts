// `pypimirror check`: the config as read, what it selects, and what the mirror's state says (discovery,
// held deletions and files, the dependency closure, bundles), on stdout. Loaded only for `check`, so that it
// starts without the upstream client, the logger or the sync (issue #14 part 3); the closure, the
// [upstream:NAME] sections, held deletions and held files are described by modules loaded only when the
// config or the state has any.
import { describeBundles } from './bundle/state.js';
import { describeConfig } from './config/describe.js';
import { describeFileSelection } from './config/selection-keys.js';
import type { Config } from './config/types.js';
import { describeUpstreams } from './config/upstream-sections.js';
import { redactUrl } from './errors.js';
import { EXIT } from './exit-codes.js';
import { describeRefusal, inspectRoot, rootError } from './mirror/ownership.js';
import { type MirrorState, readState } from './mirror/state.js';
import { describeDiscovery } from './sync/discover.js';
import { openStorage } from './storage/open.js';
import type { Storage } from './storage/types.js';

/** Where `check` writes. */
export interface CheckOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Runs `check` on a loaded config; its exit code. `warnings`: the command line's and the config's. */
export async function runCheck(cfg: Config, warnings: readonly string[], io: CheckOutput): Promise<number> {
  for (const w of warnings) io.err(`warning: ${w}\n`);
  const storage = await openStorage(cfg);
  const storageLines: string[] = [];
  if (storage.kind === 's3') {
    const { probeStorage } = await import('./storage/probe.js');
    try {
      storageLines.push(await probeStorage(storage));
    } catch (err) {
      io.err(`pypimirror: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT.FAILED;
    }
  }
  const refusal = describeRefusal(await inspectRoot(storage, cfg.lockFile), cfg.file);
  if (refusal !== null) {
    io.err(`pypimirror: ${rootError(cfg, refusal).message}\n`);
    return EXIT.CONFIG;
  }
  // The discovery line says how changes will be found, and what the last run used (from the state).
  const state = await readState(storage).catch(() => null);
  const bundles = await describeBundles(cfg.mirrorRoot);
  const discovery = [
    ...describeDiscovery(cfg, state),
    ...(await describeOnDemand(cfg, storage, state)),
    ...bundles,
    ...storageLines,
  ].join('\n');
  io.out(`# ${cfg.file}: valid\n${describeConfig(cfg)}\n${describeSelection(cfg)}\n${discovery}\n`);
  return EXIT.OK;
}

/**
 * The discovery lines of the [upstream:NAME] sections, held deletions, held files and the dependency closure,
 * in that order; each module is loaded only when there is something for it to describe.
 */
async function describeOnDemand(cfg: Config, storage: Storage, state: MirrorState | null): Promise<string[]> {
  const lines: string[] = [];
  if (cfg.upstreams.length > 0) {
    const { describeSectionDiscovery } = await import('./sync/upstreams.js');
    lines.push(...describeSectionDiscovery(cfg, state));
  }
  if (state?.deletionsHeld != null) {
    const { describeHold } = await import('./sync/guards.js');
    lines.push(describeHold(state.deletionsHeld) ?? '');
  }
  if (Object.values(state?.projects ?? {}).some((p) => p.quarantine !== undefined)) {
    const { describeHeldFiles } = await import('./sync/release-times.js');
    lines.push(...describeHeldFiles(state));
  }
  if (cfg.requirements.length > 0) {
    const { describeClosure } = await import('./sync/closure.js');
    lines.push(...(await describeClosure(cfg, storage, state)));
  }
  return lines;
}

/** "What would be mirrored", for `check`. */
function describeSelection(cfg: Config): string {
  const includes = cfg.packageMatches.filter((g) => !g.startsWith('!'));
  const excludes = cfg.packageMatches.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const hasClosure = cfg.requirements.length > 0;
  const lines = [
    `# would mirror from ${redactUrl(cfg.indexUrl)} into ${cfg.mirrorRoot}:`,
    includes.length > 0
      ? `#   projects matching: ${includes.join(' ')}`
      : hasClosure
        ? '#   no project by name (package_matches has none): the dependency closure only'
        : '#   every project',
  ];
  if (hasClosure) {
    lines.push(
      `#   the dependency closure of ${cfg.requirements.join(' ')} (and of the names in package_matches)`,
    );
  }
  if (excludes.length > 0) lines.push(`#   except projects matching: ${excludes.join(' ')}`);
  lines.push(
    cfg.filenameMatches.length === 0
      ? '#   every file'
      : `#   files matching: ${cfg.filenameMatches.join(' ')}`,
  );
  lines.push(...describeFileSelection(cfg));
  if (cfg.baseUrl !== null) lines.push(`#   served at ${cfg.baseUrl.toString()}`);
  if (cfg.findLinksDir !== null)
    lines.push(`#   every file also in ${cfg.findLinksDir} (for pip --find-links)`);
  lines.push(...describeUpstreams(cfg, redactUrl));
  return lines.join('\n');
}
