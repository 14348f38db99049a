// What a config reload changed, for the daemon (daemon.ts): the keys that differ, whether the upstream client
// must be rebuilt, and whether the change warrants a sync now rather than at the next tick.
import type { Config } from './config/types.js';
import { computeScopeKey } from './sync/run.js';

/** Keys whose change makes a new upstream client. */
export function clientKey(cfg: Config): string {
  return JSON.stringify([cfg.indexUrl.href, cfg.workers, cfg.timeoutMs, cfg.upstreams]);
}

/** A change to these starts a sync now rather than at the next tick. */
export function isSyncTrigger(before: Config, after: Config): boolean {
  const requirements = (cfg: Config): string => JSON.stringify([cfg.requirements, cfg.requirementRoots]);
  return (
    computeScopeKey(before) !== computeScopeKey(after) ||
    before.mirrorRoot !== after.mirrorRoot ||
    before.findLinksDir !== after.findLinksDir ||
    requirements(before) !== requirements(after)
  );
}

/** Config properties whose config-file key is not their snake_case name. */
const KEY_NAMES: Readonly<Record<string, string>> = {
  mirrorRoot: 'mirror_file_path',
  lockFile: 'lock_file_name',
  logFile: 'log_filename',
};

/** `syncIntervalMs` → `sync_interval`: the name the config file uses. */
function keyName(property: string): string {
  return KEY_NAMES[property] ?? property.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The config-file keys whose values differ. */
export function diffConfig(before: Config, after: Config): string[] {
  const properties = new Set([...Object.keys(before), ...Object.keys(after)]);
  properties.delete('warnings');
  properties.delete('file');
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  return [...properties]
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map(keyName)
    .sort();
}
