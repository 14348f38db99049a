// V8's heap kept small in a run that downloads files (README "Where a run's memory goes"). By default the
// young generation doubles up to two semi-spaces of 16 MiB each once a few collections see survivors, and
// the old generation may grow up to about four times what the last full collection left live: a first
// sync of 5 000 files peaked at 136-161 MiB, 32 MiB of it the young generation. Kept at its initial size
// (1 MiB semi-spaces), the young generation is collected more often and sends more short-lived objects to
// the old one (the bodies of responses in flight, among them), so the old generation's headroom is cut to
// a fifth of what is live. Set when the first file is fetched, not at start: on the command's #! line a
// V8 flag costs every command's start-up (Node rejects its code cache), and a run that fetches no file (a
// no-op, or the 100 000-project state parsed and written whole, where a small young generation cost 30-40
// MiB) keeps V8's defaults. These flags are read by V8 each time it sizes a generation, so setting them
// at run time takes effect from the next collection.
import { setFlagsFromString } from 'node:v8';

/** The old generation's headroom over what a full collection left live, in percent (V8's: up to 300). */
const HEAP_GROWING_PERCENT = 20;

let isSet = false;

/** Keeps the young generation at its initial size and the old one's headroom small, from now on. */
export function keepHeapSmall(): void {
  if (isSet) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  isSet = true;
}
