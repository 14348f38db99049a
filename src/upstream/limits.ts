// The two limits every upstream answer is held to, besides the idle timeout of http.ts: a total deadline per
// request, body included (`request_deadline`), so that an upstream trickling a byte now and then cannot hold a
// run forever; and the largest file (`max_file_size`), so that a body of no declared size cannot fill the disk.
// A deadline hit is an UPSTREAM_TIMEOUT that is not retried (retry.ts): a retry would only multiply the time,
// so the worst case of one request is its deadline, and the next run tries again.
import { IntegrityError, UpstreamError, redactUrl } from '../errors.js';
import { formatDuration } from '../util/duration.js';

const MIB = 1024 * 1024;

/** A file download gets this much more time per MiB (started) of its declared or announced size. */
const FILE_DEADLINE_MS_PER_MIB = 1000;

/** The deadline of a file of `bytes` (null: size unknown): `baseMs` plus one second per MiB. */
export function fileDeadlineMs(baseMs: number, bytes: number | null): number {
  return baseMs + (bytes === null ? 0 : Math.ceil(bytes / MIB) * FILE_DEADLINE_MS_PER_MIB);
}

/** A request that was not complete, body included, within its total deadline. Its code is UPSTREAM_TIMEOUT. */
export class RequestDeadlineError extends UpstreamError {
  readonly deadlineMs: number;
  constructor(url: string | URL, deadlineMs: number, baseMs: number) {
    const where = redactUrl(url);
    const extra = deadlineMs === baseMs ? '' : ` (${formatDuration(baseMs)} plus 1s per MiB of the file)`;
    super(
      'UPSTREAM_TIMEOUT',
      `${where}: not complete within the request deadline of ${formatDuration(deadlineMs)}${extra}; ` +
        'see request_deadline',
      { url: where },
    );
    this.name = 'UpstreamError';
    this.deadlineMs = deadlineMs;
  }
}

/** One request's deadline: its `signal` aborts with a RequestDeadlineError, or with the caller's reason. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Moves the deadline to `totalMs` after the start (only ever later). */
  extendTo(totalMs: number): void;
  /** The request is over (answered and its body consumed, or failed): stop the timer, let go of the caller. */
  done(): void;
}

/** A monotonic clock in milliseconds (process.hrtime: `performance` would load perf_hooks on every run). */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Starts the deadline of a request to `url`: `totalMs` from now (`baseMs` is the configured request_deadline,
 * for the message). The returned signal also aborts when `outer` does, with `outer.reason`.
 */
export function startDeadline(url: URL, totalMs: number, baseMs: number, outer: AbortSignal): Deadline {
  const controller = new AbortController();
  const started = monotonicMs();
  let deadlineMs = totalMs;
  let timer: NodeJS.Timeout | null = null;
  const onOuter = (): void => controller.abort(outer.reason);
  const arm = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(
      () => controller.abort(new RequestDeadlineError(url, deadlineMs, baseMs)),
      Math.max(0, started + deadlineMs - monotonicMs()),
    );
    timer.unref();
  };
  const done = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    outer.removeEventListener('abort', onOuter);
  };
  if (outer.aborted) onOuter();
  else {
    outer.addEventListener('abort', onOuter, { once: true });
    arm();
  }
  return {
    signal: controller.signal,
    extendTo(ms) {
      if (ms <= deadlineMs || timer === null) return;
      deadlineMs = ms;
      arm();
    },
    done,
  };
}

/**
 * The file of `url` is larger than `maxFileSize`: refused, and not retried (its bytes would not change).
 * `declared` says who said how large it is (`the index declares 20 bytes`); null: nobody, the body went on.
 */
export function fileTooLarge(
  url: string | URL,
  declared: string | null,
  maxFileSize: number,
): IntegrityError {
  const what =
    declared === null
      ? `no size declared, and the body goes on past max_file_size (${maxFileSize} bytes)`
      : `${declared}, more than max_file_size (${maxFileSize} bytes)`;
  return new IntegrityError('INTEGRITY_TOO_LARGE', `${redactUrl(url)}: ${what}: refused`);
}
