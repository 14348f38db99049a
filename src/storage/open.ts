// Which storage holds the served tree, from the config: the local file system at mirror_file_path, or the
// bucket of `storage = s3://...` (storage/s3.ts). Async, so that a storage whose client is heavy is imported
// only when a config names it (`check` stays light).
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createLocalStorage } from './local.js';
import type { Storage } from './types.js';

/** One S3 storage (and so one client, one connection pool) per config, however often it is opened. */
const s3Storages = new WeakMap<Config, Promise<Storage>>();

/** The storage the config names: the local directory `mirror_file_path`, or an S3 bucket. */
export async function openStorage(cfg: Config): Promise<Storage> {
  const s3 = cfg.s3Storage;
  if (s3 === null) return createLocalStorage(cfg.mirrorRoot);
  let opened = s3Storages.get(cfg);
  if (opened === undefined) {
    // Credentials come from the SDK's own chain; the region is the config's (config/load.ts).
    opened = import('./s3.js').then(({ createS3Storage }) => createS3Storage(s3, {}));
    s3Storages.set(cfg, opened);
  }
  return opened;
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
