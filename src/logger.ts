// The winston-backed Logger (src/log.ts is the interface). Console lines are journal-friendly: no colours
// and no timestamps when stdout is not a terminal or JOURNAL_STREAM is set, with an sd-daemon `<N>`
// priority prefix under journald so `journalctl -p warning` works. The log file gets timestamps.
//
// Log rotation is logrotate's job (samples/logrotate): the file is opened in append mode and reopened by
// reopen(), which `run` calls on SIGHUP, so a rotated file is let go of at once. A short-lived `sync`
// opens the file anew each time.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { redactSecrets } from './errors.js';
import { isPerFileLine, type LogFields, type Logger, type LogLevel } from './log.js';

export interface LoggerOptions {
  readonly verbose: boolean;
  /** Also log to this file (timestamped), or null. */
  readonly logFile: string | null;
  /** process.env, passed in. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isTty: boolean;
  /** Where console lines go (tests pass their own stream). */
  readonly stream?: NodeJS.WritableStream;
  /** Under a progress line: console lines about one file are debug lines (log.ts isPerFileLine). */
  readonly isPerFileDebug?: boolean;
}

const SYSLOG_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? String(value);
}

/** `message key=value key2="two words"`, with any URL's secrets hidden (redactSecrets). */
export function formatLine(message: string, fields: LogFields): string {
  const pairs = Object.entries(fields)
    .filter(([k, v]) => v !== undefined && k !== 'summary')
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return redactSecrets(pairs.length === 0 ? message : `${message} ${pairs.join(' ')}`);
}

/** The caller's fields of a log entry: everything but winston's own properties. */
function fieldsOf(info: winston.Logform.TransformableInfo): LogFields {
  const fields: LogFields = {};
  for (const [key, value] of Object.entries(info)) {
    if (key !== 'level' && key !== 'message' && key !== 'timestamp') fields[key] = value;
  }
  return fields;
}

/**
 * An entry's line as formatLine writes it. The logger's own format makes it once, before winston hands each
 * transport its copy of the entry (a copy keeps the symbol), so the console and the file share it.
 */
const LINE = Symbol('line');
type LinedInfo = winston.Logform.TransformableInfo & { [LINE]?: string };
const withLine = winston.format((info: LinedInfo) => {
  info[LINE] = formatLine(String(info.message), fieldsOf(info));
  return info;
});
function lineOf(info: LinedInfo): string {
  return info[LINE] ?? formatLine(String(info.message), fieldsOf(info));
}

export interface LoggerHandle {
  readonly logger: Logger;
  /** Reopens the log file (after logrotate moved it). */
  reopen(): void;
  /** Applies a reloaded config's `verbose` and `log_filename`. */
  configure(opts: { readonly verbose: boolean; readonly logFile: string | null }): void;
  /** Flushes and closes the log file. */
  close(): Promise<void>;
}

/**
 * The log file as a stream that can be reopened or pointed elsewhere while winston writes to it. Lines are
 * dropped while no file is set, or after the file could not be opened (until the next reopen). A reopened
 * file is opened once the previous stream has closed, and the lines written meanwhile wait for it: the two
 * streams' opens and writes would otherwise race on the thread pool, and a line could land in the file
 * before one written earlier.
 */
class ReopenableFile extends Writable {
  private path: string | null;
  private out: WriteStream | null = null;
  /** While the previous stream closes: resolves once the next one is opened (or none is, with no path). */
  private reopening: Promise<void> | null = null;
  private readonly onError: (path: string, err: Error) => void;

  constructor(path: string | null, onError: (path: string, err: Error) => void) {
    super({ decodeStrings: false });
    this.path = path;
    this.onError = onError;
    this.open();
  }

  get currentPath(): string | null {
    return this.path;
  }

  /** Whether a line written now would reach a file. */
  get isOpen(): boolean {
    return this.out !== null || (this.reopening !== null && this.path !== null);
  }

  private open(): void {
    const path = this.path;
    if (path === null) return;
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch {
      // createWriteStream reports it.
    }
    const out = createWriteStream(path, { flags: 'a', mode: 0o640 });
    out.on('error', (err) => {
      if (this.out === out) this.out = null;
      this.onError(path, err);
    });
    this.out = out;
  }

  reopen(): void {
    const old = this.out;
    this.out = null;
    if (this.reopening !== null) return; // the stream that follows the one closing opens at the path set now
    if (old === null || old.closed) {
      this.open();
      return;
    }
    this.reopening = new Promise<void>((resolve) => {
      old.once('close', () => {
        this.reopening = null;
        this.open();
        resolve();
      });
      old.end();
    });
  }

  setPath(path: string | null): void {
    if (path === this.path) return;
    this.path = path;
    this.reopen();
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.reopening !== null) {
      // Writable holds the lines after this one until the callback: they keep their order.
      void this.reopening.then(() => this._write(chunk, _encoding, callback));
      return;
    }
    this.out?.write(chunk as string | Buffer);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.reopening !== null) {
      void this.reopening.then(() => this._final(callback));
      return;
    }
    const out = this.out;
    this.out = null;
    if (out === null || out.closed) return callback();
    out.once('close', () => callback());
    out.end();
  }
}

function waitFor(emitter: NodeJS.EventEmitter, event: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function createLogger(opts: LoggerOptions): LoggerHandle {
  const isJournal = opts.env['JOURNAL_STREAM'] !== undefined && opts.env['JOURNAL_STREAM'] !== '';
  const isPlain = isJournal || !opts.isTty;
  const renderConsole = (level: string, line: string, timestamp: string): string => {
    if (isJournal) return `<${SYSLOG_PRIORITY[level] ?? 6}>${line}`;
    if (isPlain) return `${level}: ${line}`;
    return `${timestamp} ${level}: ${line}`;
  };
  const consoleStream = opts.stream ?? process.stdout;
  const consoleFormat = winston.format.printf((info) =>
    renderConsole(info.level, lineOf(info), String(info['timestamp'])),
  );
  // Per-file lines leave the console at info (the progress line counts them) and show as debug with -v.
  const perFileAtDebug = winston.format((info) => {
    if (opts.isPerFileDebug !== true || !isPerFileLine(info.level, fieldsOf(info))) return info;
    return w.level === 'debug' ? Object.assign(info, { level: 'debug' }) : false;
  })();
  const consoleTransport = new winston.transports.Stream({
    stream: consoleStream,
    format: winston.format.combine(
      perFileAtDebug,
      ...(isPlain ? [consoleFormat] : [winston.format.timestamp(), consoleFormat]),
    ),
  });
  // Said on the console only: the file is what failed.
  const file = new ReopenableFile(opts.logFile, (path, err) => {
    const line = formatLine('cannot write the log file', { file: path, error: err.message });
    consoleStream.write(`${renderConsole('error', line, new Date().toISOString())}\n`);
  });
  // With no file open, a line is dropped before it is timestamped and rendered for nothing.
  const onlyWhileOpen = winston.format((info) => (file.isOpen ? info : false))();
  const fileTransport = new winston.transports.Stream({
    stream: file,
    format: winston.format.combine(
      onlyWhileOpen,
      winston.format.timestamp(),
      winston.format.printf((info) => `${String(info['timestamp'])} ${info.level}: ${lineOf(info)}`),
    ),
  });
  const w = winston.createLogger({
    level: opts.verbose ? 'debug' : 'info',
    // The line, once; winston's default here (json) would stringify every entry for nothing.
    format: withLine(),
    transports: [consoleTransport, fileTransport],
  });
  const wrap = (base: LogFields): Logger => {
    // A line below the level is dropped before winston makes an entry of it (a sync's per-file debug lines).
    const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
      if (w.isLevelEnabled(level)) w.log(level, msg, { ...base, ...fields });
    };
    return {
      error: emit('error'),
      warn: emit('warn'),
      info: emit('info'),
      debug: emit('debug'),
      child: (fields) => wrap({ ...base, ...fields }),
    };
  };
  let isClosed = false;
  return {
    logger: wrap({}),
    reopen: () => {
      if (!isClosed) file.reopen();
    },
    configure: ({ verbose, logFile }) => {
      if (isClosed) return;
      w.level = verbose ? 'debug' : 'info';
      file.setPath(logFile);
    },
    close: async () => {
      if (isClosed) return;
      isClosed = true;
      // Every line winston holds reaches the file stream, then the file is flushed and closed.
      const transportDone = waitFor(fileTransport, 'finish', 2000);
      w.end();
      await transportDone;
      const fileDone = waitFor(file, 'finish', 2000);
      file.end();
      await fileDone;
    },
  };
}
