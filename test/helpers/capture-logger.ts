// A Logger that records every call, for assertions on what was logged.
import type { LogFields, Logger, LogLevel } from '../../src/log.js';

export interface LogRecord {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

export interface CaptureLogger extends Logger {
  readonly records: LogRecord[];
  /** Records whose message contains `text`. */
  find(text: string, level?: LogLevel): LogRecord[];
}

export function createCaptureLogger(records: LogRecord[] = [], base: LogFields = {}): CaptureLogger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) =>
    void records.push({ level, msg, fields: { ...base, ...fields } });
  return {
    records,
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    child: (fields) => createCaptureLogger(records, { ...base, ...fields }),
    find: (text, level) =>
      records.filter((r) => r.msg.includes(text) && (level === undefined || r.level === level)),
  };
}
