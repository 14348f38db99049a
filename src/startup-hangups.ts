// SIGHUP's default action ends the process. `run` handles it (reopen the log, reload the config), but only
// once its modules have loaded, ~150 ms after exec; systemd (Type=exec) counts the service as started at
// exec, so a `systemctl reload` or logrotate's postrotate in that window would kill the daemon. main.ts
// installs this guard before loading anything else: it notes hangups until a command takes SIGHUP over.
// No imports: it must load in no time.

export interface StartupHangups {
  /** Stops noting hangups and returns how many arrived. Call right after installing your own handler. */
  takeOver(): number;
  /**
   * Gives SIGHUP its default action back (a one-shot command is ended by a hangup, as before); a hangup
   * noted during start-up is raised again now.
   */
  restoreDefault(): void;
  /** Stops noting hangups (idempotent; the process is about to exit). */
  release(): void;
}

export function guardStartupHangups(proc: NodeJS.Process = process): StartupHangups {
  let count = 0;
  let isActive = true;
  const note = (): void => {
    count++;
  };
  const release = (): void => {
    if (!isActive) return;
    isActive = false;
    proc.off('SIGHUP', note);
  };
  proc.on('SIGHUP', note);
  return {
    takeOver: () => {
      release();
      const n = count;
      count = 0;
      return n;
    },
    restoreDefault: () => {
      const wasActive = isActive;
      release();
      if (wasActive && count > 0) proc.kill(proc.pid, 'SIGHUP');
    },
    release,
  };
}
