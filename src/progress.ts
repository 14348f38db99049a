// The progress line `sync` draws on a terminal, and the log lines around it. The line is drawn in place
// (`\r`, erase to the end of the line) on stderr; log lines go to stdout, which on a terminal is the same
// screen. A log line written while the progress line is shown would start right after it
// (`0/25 projects, 1 files (18.7 KiB) fetched2026-12-03T06:59:44.005Z info: ...`), so every log line goes
// through the status line: it erases the progress line, writes the log line, and draws the progress line
// again under it. Terminal writes are synchronous in Node, so the three land in this order.
import { Writable } from 'node:stream';
import { formatProgress, type SyncProgress } from './sync/report.js';

/** Where the status line and the log lines are written (process.stderr and process.stdout, or a test's). */
export interface TextSink {
  write(text: string): unknown;
}

/** One line at the bottom of the terminal, kept under the log lines. */
export interface StatusLine {
  /** Draws `text` in place of the line shown. */
  show(text: string): void;
  /** Erases the line (nothing is drawn again until the next show). */
  clear(): void;
  /** The console stream for the logger: each log line is written above the status line. */
  readonly logStream: Writable;
}

/** Erase the current terminal line: carriage return, then erase to its end (ECMA-48 EL). */
const ERASE_LINE = '\r\x1b[K';

/** `sync` draws a progress line on a terminal; under systemd (JOURNAL_STREAM) or cron it does not. */
export function isProgressShown(
  env: Readonly<Record<string, string | undefined>>,
  stream: { isTTY?: boolean },
): boolean {
  return stream.isTTY === true && (env['JOURNAL_STREAM'] ?? '') === '';
}

/** A status line drawn on `lineOut`, with the log lines of `logOut` written above it. */
export function createStatusLine(lineOut: TextSink, logOut: TextSink = lineOut): StatusLine {
  let shown: string | null = null;
  const logStream = new Writable({
    decodeStrings: false,
    write(chunk: unknown, _encoding, callback) {
      if (shown !== null) lineOut.write(ERASE_LINE);
      logOut.write(String(chunk));
      if (shown !== null) lineOut.write(`${ERASE_LINE}${shown}`);
      callback();
    },
  });
  return {
    show(text) {
      shown = text;
      lineOut.write(`${ERASE_LINE}${text}`);
    },
    clear() {
      if (shown !== null) lineOut.write(ERASE_LINE);
      shown = null;
    },
    logStream,
  };
}

/** The progress of a sync on a status line, redrawn at most every `intervalMs`; the summary line follows it. */
export function createProgressLine(
  line: Pick<StatusLine, 'show' | 'clear'>,
  intervalMs = 200,
  now: () => number = Date.now,
): { update(p: SyncProgress): void; clear(): void } {
  let last = -Infinity;
  return {
    update(p) {
      if (now() - last < intervalMs) return;
      last = now();
      line.show(formatProgress(p));
    },
    clear: () => line.clear(),
  };
}
