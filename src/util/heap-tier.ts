// V8's heap kept small in a run that syncs projects (README "Where a run's memory goes"). By default the
// young generation doubles up to two semi-spaces of 16 MiB each once collections see survivors, and the
// old generation may grow to several times what the last full collection left live before the next one:
// a first sync of 5 000 files peaked at 143-161 MiB, 32 MiB of it the young generation. From the first
// project page or file fetched, the young generation grows no more, and the old one's headroom is a fifth
// of what is live. A smaller young generation is collected more often and sends more short-lived objects
// to the old one (the response bodies in flight, among them), which the smaller headroom then collects.
// Set at run time, when the first page or file is fetched, not on the command's #! line: there V8 resets
// a growth factor below 2, and a V8 flag costs every command's start-up (Node rejects its code cache);
// a run that fetches no page (a no-op through the changelog, the 100 000-project state parsed and written
// whole, where a small young generation cost 30-40 MiB) keeps V8's defaults. V8 reads both flags each
// time it sizes a generation, so they apply from the next collection; the young generation keeps the size
// it grew to before (4 MiB semi-spaces once the modules are loaded).
import { setFlagsFromString } from 'node:v8';

/** The old generation's headroom over what a full collection left live, in percent. */
const HEAP_GROWING_PERCENT = 20;

let isSet = false;

/** Keeps the young generation at its present size and the old one's headroom small, from now on. */
export function keepHeapSmall(): void {
  if (isSet) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  isSet = true;
}
