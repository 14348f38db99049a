#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432:${GLIBC_TUNABLES} node --single-threaded-gc --max-semi-space-size=2 --liftoff-only
// Entry point. The SIGHUP guard goes in before the rest of the program loads (see startup-hangups.ts);
// app.ts is the composition root.
//
// The #! line sets what cannot be set once the process runs, each kept because the bench shows it earns its
// place (README "Benchmark": the figures with and without each). The pypimirror command (npm's link to this
// file, systemd's ExecStart) runs with them; `node main.js` runs without, and works the same, slower and
// larger.
// - --single-threaded-gc: V8 collects garbage on the main thread only. A download allocates a buffer per
//   socket read, and with V8's default concurrent marking a full collection started every ~35 MiB received,
//   its helper threads taking 0.4-0.5 s of CPU per GiB from the threads that receive, hash and write.
//   Measured on 1 GiB (with the tunable below): 1.00-1.07 s with it, 1.23-1.33 s without. It also keeps the
//   heap smaller: a first sync of 5 000 files peaked at 187-194 MiB without it, 152-155 MiB with it.
// - --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly; V8 compiles it at once with its
//   baseline compiler (Liftoff) and later recompiles the hot parser with TurboFan, which takes ~30 MiB for
//   a moment. Every run that made a request peaked there: a no-op sync 108-110 MiB (GNU time), 72-75 MiB
//   without the recompilation; a first sync 210-215 MiB against 152-158. The parser's share of a sync's
//   CPU is small (the bytes of a body are skipped, not parsed).
// - --max-semi-space-size=2 (MiB): V8's young generation grows to 16 MiB per semi-space by default, most of
//   it empty between collections. At 2 MiB a no-op sync's heap is 17 MiB instead of 30, and the first sync
//   peaked at 115-153 MiB against 152-158 (with --liftoff-only). A 1 GiB download with both settings:
//   120-136 MiB against 124-156, and 2.79 CPU s against 2.65 (medians of 5 on the shared VM, where runs of
//   the same setting spread by 0.8 s).
// - glibc.malloc.trim_threshold=32 MiB: those socket buffers (64 KiB each) are freed in bulk at each
//   collection, and glibc's default (128 KiB) handed the freed heap back to the kernel every time, so the
//   next ones were faulted in afresh. Medians of 8 interleaved rounds on 1 GiB: 1.99 s by default, 1.73 s
//   with 32 MiB, 1.60 s with 64 MiB; 64 MiB also raised the peak RSS of processing PyPI's listing from 119
//   to 144 MiB (the target is 150), 32 MiB did not. It costs a no-op sync ~2.5 MiB (72 against 69.5). A
//   GLIBC_TUNABLES of the environment is kept, after ours, so that its settings win. Other C libraries
//   ignore it.
import { guardStartupHangups } from './startup-hangups.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered before the command line parser and the rest load (issue #14 part 3); as app.ts answers it.
  const { readVersion } = await import('./version.js');
  process.stdout.write(`pypimirror ${readVersion()}\n`);
} else {
  const hangups = guardStartupHangups();
  const { runMain } = await import('./app.js');
  runMain(argv, hangups);
}
