// undici parses HTTP with llhttp, compiled to WebAssembly. V8 compiles it at once with its baseline compiler
// (Liftoff), then recompiles the hot parser with TurboFan, which takes ~30 MiB for a moment: every run that
// made a request peaked there (a no-op sync 108-110 MiB under GNU time, 72-75 MiB without). The parser's
// share of a sync's CPU is small (a body's bytes are skipped, not parsed), so the baseline code stays.
// Set when the first HTTP client is made, not on the command's #! line: a V8 flag there made Node reject
// its code cache for the modules it loads later, +10 ms of CPU for `--version` and +20 ms for `check`.
//
// Left to itself, V8 also compiles each WebAssembly function lazily, on its first call, on the main thread,
// in the middle of the first response. Compiled eagerly instead, and ahead (compileAhead: on V8's background
// threads while the run reads its state), the module is ready when undici asks for it: V8 keeps one native
// module per wire bytes, so undici's own `new WebAssembly.Module` of the same bytes takes it from there.
import { setFlagsFromString } from 'node:v8';

/** The part of the WebAssembly global used here (TypeScript's lib for Node declares only its types). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<unknown>;
}

let isSet = false;

/**
 * Keeps WebAssembly at its baseline code from now on (V8's --liftoff-only), compiled whole rather than
 * function by function on first call. Call before the first request.
 */
export function keepWasmBaseline(): void {
  if (isSet) return;
  setFlagsFromString('--liftoff-only');
  setFlagsFromString('--no-wasm-lazy-compilation');
  isSet = true;
}

/** Starts compiling `bytes` on V8's background threads; whoever compiles the same bytes later gets the result. */
export function compileAhead(bytes: Uint8Array): void {
  // A failure is the later compile's to report (undici falls back to its non-SIMD parser).
  (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly.compile(bytes).catch(() => undefined);
}
