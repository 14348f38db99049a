// Config files for daemon and lock tests: `[mirror]` with the given keys, written as an editor would.
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type ConfigValues = Readonly<Record<string, string>>;

export function renderConfig(values: ConfigValues): string {
  return `[mirror]\n${Object.entries(values)
    .map(([key, value]) => `${key} = ${value}`)
    .join('\n')}\n`;
}

/**
 * A config in `dir` for a mirror of `packageMatches` from `indexUrl`, syncing hourly, logging to a file:
 * what the CLI process tests start `run` or `sync` with.
 */
export async function writeMirrorConfig(
  dir: string,
  indexUrl: string,
  packageMatches: string,
): Promise<{ root: string; config: string; log: string }> {
  const root = join(dir, 'mirror');
  const config = join(dir, 'pypimirror.cfg');
  const log = join(dir, 'pypimirror.log');
  const values = { mirror_file_path: root, index_url: indexUrl, package_matches: packageMatches };
  await writeFile(config, renderConfig({ ...values, sync_interval: '1h', log_filename: log }));
  return { root, config, log };
}

/** Saves like vim or sed -i: write a temp file beside it, then rename it over the config. */
export async function saveByRename(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.swp`);
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Saves in place, like nano or `echo >`: truncate, then write. */
export async function saveInPlace(path: string, text: string): Promise<void> {
  await writeFile(path, text);
}
