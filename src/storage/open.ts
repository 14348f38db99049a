// Which storage holds the served tree, from the config: the local file system at mirror_file_path. Async, so
// that a storage whose client is heavy is imported only when a config names it (`check` stays light).
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createLocalStorage } from './local.js';
import type { Storage } from './types.js';

/** The storage the config names (today: the local directory `mirror_file_path`). */
export async function openStorage(cfg: Config): Promise<Storage> {
  return Promise.resolve(createLocalStorage(cfg.mirrorRoot));
}

/**
 * The config's storage for a feature that needs the tree on this machine's file system (bundle export and
 * import: their staging and hard links); a ConfigError (exit 2) naming the feature for any other storage.
 */
export async function openLocalStorage(cfg: Config, feature: string): Promise<Storage> {
  const storage = await openStorage(cfg);
  if (storage.localRoot() !== null) return storage;
  throw new ConfigError('CONFIG_INVALID', cfg.file, [
    {
      file: cfg.file,
      line: null,
      section: 'mirror',
      key: 'storage',
      value: storage.where,
      expected: `a mirror on this machine's file system: ${feature} needs one`,
    },
  ]);
}
