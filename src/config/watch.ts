// Watches the config file for the daemon (docs/architecture.md). It watches the file's directory, filtered to
// the one name, so every way an editor saves is seen: in place (truncate and write), by renaming a temp
// file over it (vim, sed -i, most IDEs), or by delete and re-create. Bursts of events (a truncate then a
// write, a rename dance) are debounced into one notification once the file has been quiet for `debounceMs`.
// It only says that the file changed or is gone: loading and validating is the caller's job.
import { access } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';

export type ConfigFileEvent = 'changed' | 'deleted';

export interface ConfigWatcherOptions {
  /** The config file (made absolute). */
  readonly file: string;
  readonly log: Logger;
  /** Quiet time after the last event before `onEvent` is called. Default 250 ms. */
  readonly debounceMs?: number;
  readonly onEvent: (event: ConfigFileEvent) => void;
}

export interface ConfigWatcher {
  /** Resolves once the watch is in place (edits before that may be missed). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_DEBOUNCE_MS = 250;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export function watchConfig(opts: ConfigWatcherOptions): ConfigWatcher {
  const file = resolve(opts.file);
  const dir = dirname(file);
  const name = basename(file);
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | null = null;
  let isClosed = false;

  const fire = async (): Promise<void> => {
    timer = null;
    const isThere = await exists(file);
    if (isClosed) return;
    opts.onEvent(isThere ? 'changed' : 'deleted');
  };
  const schedule = (event: string): void => {
    if (isClosed) return;
    opts.log.debug('config file event', { event, file });
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => void fire(), debounceMs);
  };

  const watcher: FSWatcher = watch(dir, {
    depth: 0,
    ignoreInitial: true,
    persistent: true,
    // Only the directory itself and the config's own name; everything else in (say) /etc is ignored.
    ignored: (path) => {
      const full = resolve(path);
      return full !== dir && basename(full) !== name;
    },
  });
  watcher.on('all', (event, path) => {
    if (resolve(path) === file) schedule(event);
  });
  watcher.on('error', (err) => {
    opts.log.warn('config watcher error', { file, error: err instanceof Error ? err.message : String(err) });
  });
  const ready = new Promise<void>((res) => watcher.once('ready', () => res()));

  return {
    ready,
    close: async () => {
      isClosed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await watcher.close();
    },
  };
}
