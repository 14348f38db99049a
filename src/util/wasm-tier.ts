// undici parses HTTP with llhttp, compiled to WebAssembly. V8 compiles it at once with its baseline compiler
// (Liftoff), then recompiles the hot parser with TurboFan, which takes ~30 MiB for a moment: every run that
// made a request peaked there (a no-op sync 108-110 MiB under GNU time, 72-75 MiB without). The parser's
// share of a sync's CPU is small (a body's bytes are skipped, not parsed), so the baseline code stays.
// Set when the first HTTP client is made, not on the command's #! line: a V8 flag there made Node reject
// its code cache for the modules it loads later, +10 ms of CPU for `--version` and +20 ms for `check`.
import { setFlagsFromString } from 'node:v8';

let isSet = false;

/** Keeps WebAssembly at its baseline code from now on (V8's --liftoff-only). Call before the first request. */
export function keepWasmBaseline(): void {
  if (isSet) return;
  setFlagsFromString('--liftoff-only');
  isSet = true;
}
