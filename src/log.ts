// The Logger interface the program uses. Built by createLogger (winston) in main; tests pass a capturing one.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** A Logger that drops everything (for library callers that do not care). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};

/**
 * Whether a log line is about one file (`file fetched`, `file removed`: an info line with a `file` field).
 * Under `sync`'s progress line these are debug lines: the progress line counts them, and `-v` shows them.
 */
export function isPerFileLine(level: string, fields: LogFields): boolean {
  return level === 'info' && fields['file'] !== undefined;
}
