// Watches the config file for the daemon (docs/architecture.md). It watches the file's directory, filtered to
// the one name, so every way an editor saves is seen: in place (truncate and write), by renaming a temp
// file over it (vim, sed -i, most IDEs), or by delete and re-create. Bursts of events (a truncate then a
// write, a rename dance) are debounced into one notification once the file has been quiet for `debounceMs`.
// It only says that the file changed or is gone: loading and validating is the caller's job. The files the
// config reads besides itself (the `requirements` files and their includes) are watched the same way, and
// a change to one is a change to the config.
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
  /** Files the config reads (requirements files): a change to one reports 'changed'. */
  readonly alsoFiles?: readonly string[];
}

export interface ConfigWatcher {
  /** Resolves once the watch is in place (edits before that may be missed). */
  readonly ready: Promise<void>;
  /** Replaces the files watched besides the config (after a reload that names other ones). */
  watchAlso(files: readonly string[]): void;
  close(): Promise<void>;
}

const DEFAULT_DEBOUNCE_MS = 250;

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
  let watched = new Set([file]);
  let dirs = new Set([dirname(file)]);
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

  const names = (): Set<string> => new Set([...watched].map((f) => basename(f)));
  let watchedNames = names();
  const watcher: FSWatcher = watch([...dirs], {
    depth: 0,
    ignoreInitial: true,
    persistent: true,
    // Only the directories themselves and the watched names; everything else in (say) /etc is ignored.
    ignored: (path) => {
      const full = resolve(path);
      return !dirs.has(full) && !watchedNames.has(basename(full));
    },
  });
  watcher.on('all', (event, path) => {
    if (watched.has(resolve(path))) schedule(event);
  });
  const watchAlso = (files: readonly string[]): void => {
    watched = new Set([file, ...files.map((f) => resolve(f))]);
    watchedNames = names();
    const added = [...watched].map((f) => dirname(f)).filter((d) => !dirs.has(d));
    dirs = new Set([...dirs, ...added]);
    if (added.length > 0) watcher.add([...new Set(added)]);
  };
  if (opts.alsoFiles !== undefined && opts.alsoFiles.length > 0) watchAlso(opts.alsoFiles);
  watcher.on('error', (err) => {
    opts.log.warn('config watcher error', { file, error: err instanceof Error ? err.message : String(err) });
  });
  const ready = new Promise<void>((res) => watcher.once('ready', () => res()));

  return {
    ready,
    watchAlso,
    close: async () => {
      isClosed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await watcher.close();
    },
  };
}
