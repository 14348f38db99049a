// The winston-backed Logger (src/log.ts is the interface). Console lines are journal-friendly: no colours
// and no timestamps when stdout is not a terminal or JOURNAL_STREAM is set, with an sd-daemon `<N>`
// priority prefix under journald so `journalctl -p warning` works. The log file gets timestamps.
import winston from 'winston';
import type { LogFields, Logger, LogLevel } from './log.js';

export interface LoggerOptions {
  readonly verbose: boolean;
  /** Also log to this file (timestamped), or null. */
  readonly logFile: string | null;
  /** process.env, passed in. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isTty: boolean;
  /** Where console lines go (tests pass their own stream). */
  readonly stream?: NodeJS.WritableStream;
}

const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? String(value);
}

/** `message key=value key2="two words"` */
export function formatLine(message: string, fields: LogFields): string {
  const pairs = Object.entries(fields)
    .filter(([k, v]) => v !== undefined && k !== 'summary')
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return pairs.length === 0 ? message : `${message} ${pairs.join(' ')}`;
}

const SPLAT = Symbol.for('splat');

function fieldsOf(info: winston.Logform.TransformableInfo): LogFields {
  const {
    level: _l,
    message: _m,
    timestamp: _t,
    [SPLAT]: _s,
    ...rest
  } = info as Record<string | symbol, unknown>;
  return rest as LogFields;
}

export function createLogger(opts: LoggerOptions): { logger: Logger; close(): Promise<void> } {
  const isJournal = opts.env['JOURNAL_STREAM'] !== undefined && opts.env['JOURNAL_STREAM'] !== '';
  const isPlain = isJournal || !opts.isTty;
  const consoleFormat = winston.format.printf((info) => {
    const line = formatLine(String(info.message), fieldsOf(info));
    if (isJournal) return `<${SYSLOG_PRIORITY[info.level] ?? 6}>${line}`;
    if (isPlain) return `${info.level}: ${line}`;
    return `${String(info['timestamp'])} ${info.level}: ${line}`;
  });
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: opts.stream ?? process.stdout,
      format: isPlain ? consoleFormat : winston.format.combine(winston.format.timestamp(), consoleFormat),
    }),
  ];
  if (opts.logFile !== null) {
    transports.push(
      new winston.transports.File({
        filename: opts.logFile,
        format: winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(
            (info) =>
              `${String(info['timestamp'])} ${info.level}: ${formatLine(String(info.message), fieldsOf(info))}`,
          ),
        ),
      }),
    );
  }
  const w = winston.createLogger({ level: opts.verbose ? 'debug' : 'info', transports });
  const wrap = (base: LogFields): Logger => {
    const emit = (level: LogLevel) => (msg: string, fields?: LogFields) =>
      w.log(level, msg, { ...base, ...fields });
    return {
      error: emit('error'),
      warn: emit('warn'),
      info: emit('info'),
      debug: emit('debug'),
      child: (fields) => wrap({ ...base, ...fields }),
    };
  };
  return {
    logger: wrap({}),
    close: () =>
      new Promise<void>((resolve) => {
        // Wait for the file transport to flush before the process exits.
        const files = transports.filter((t) => t instanceof winston.transports.File);
        if (files.length === 0) return resolve();
        let pending = files.length;
        for (const t of files) t.on('finish', () => --pending === 0 && resolve());
        w.end();
        setTimeout(resolve, 2000).unref();
      }),
  };
}
