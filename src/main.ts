#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432:${GLIBC_TUNABLES} node --single-threaded-gc
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
// - glibc.malloc.trim_threshold=32 MiB: those socket buffers (64 KiB each) are freed in bulk at each
//   collection, and glibc's default (128 KiB) handed the freed heap back to the kernel every time, so the
//   next ones were faulted in afresh. Medians of 8 interleaved rounds on 1 GiB: 1.99 s by default, 1.73 s
//   with 32 MiB, 1.60 s with 64 MiB; 64 MiB also raised the peak RSS of processing PyPI's listing from 119
//   to 144 MiB (the target is 150), 32 MiB did not. It costs a no-op sync ~2.5 MiB (72 against 69.5). A
//   GLIBC_TUNABLES of the environment is kept, after ours, so that its settings win. Other C libraries
//   ignore it.
// Measured and left out: --max-semi-space-size=2 (MiB; V8's young generation grows to 16 by default). It
// saved a no-op ~3 MiB (70 against 73) and a first sync some more, but cost every command 10-24 ms of CPU
// at start (most likely Node's code cache for its own modules, which V8 rejects under other flags) and, at 100 000 mirrored
// projects, 30-40 MiB at the no-op's peak (250-295 against 250-264). V8's --liftoff-only, which saves ~30
// MiB at every run's peak, costs start-up the same way on this line: it is set at run time instead, when
// the first HTTP client is made (src/util/wasm-tier.ts).
import { guardStartupHangups } from './startup-hangups.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered before the command line parser and the rest load (issue #14 part 3); as app.ts answers it.
  const { readVersion } = await import('./version.js');
  process.stdout.write(`pypimirror ${readVersion()}\n`);
} else {
  // The AWS SDK warns on every start under Node 20 that its releases after January 2027 will need Node 22;
  // the version package.json pins supports Node 20 (engines), so a user would see it on every command.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const hangups = guardStartupHangups();
  const { runMain } = await import('./app.js');
  runMain(argv, hangups);
}
