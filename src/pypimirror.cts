#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432:glibc.malloc.arena_max=2:${GLIBC_TUNABLES} node --single-threaded-gc
// The pypimirror command (package.json `bin`, npm's link, systemd's ExecStart). It runs the program as one
// script, the bundle the build makes of main.ts and everything it loads (build/command.ts), compiled with a
// V8 code cache that the build's training runs made, one per kind of command: a start then neither looks for,
// reads and compiles ~150 modules nor parses the bundle, and `--version` loads nothing at all (issue #14
// part 3; README "Benchmark": the start-up lines). CommonJS, as Node starts a CommonJS entry ~8 ms sooner
// than an ES module. A cache V8 rejects (another Node, other flags) only costs speed: V8 then compiles from
// the source. Without a bundle (a build with tsc alone) the program runs unbundled, from main.js.
// What V8 checks of a cache is the source's length, not its content, so bundle and caches are made
// together, by every build (which starts from an empty dist/), and never edited; and the compiled code keeps
// the file name it was trained under, so a stack trace names the bundle where it was built.
//
// The #! line sets what cannot be set once the process runs, each kept because the bench shows it earns its
// place (README "Benchmark": the figures with and without each). The pypimirror command runs with them;
// `node pypimirror.cjs` (or `node main.js`) runs without, and works the same, slower and larger.
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
// - glibc.malloc.arena_max=2: glibc gives each thread that allocates (libuv's four file system threads,
//   the hashing thread) an arena of its own, each holding on to 2-3 MiB it has freed. Two arenas: a first
//   sync of 5 000 files peaked at 92-95 MiB against 100-107 without, the 1 GiB download at 126 against
//   143 MiB, at the same speed and CPU.
// Measured and left out: --max-semi-space-size=2 (MiB; V8's young generation grows to 16 by default). It
// saved a no-op ~3 MiB (70 against 73) and a first sync some more, but cost every command 10-24 ms of CPU
// at start (most likely Node's code cache for its own modules, which V8 rejects under other flags) and, at
// 100 000 mirrored projects, 30-40 MiB at the no-op's peak (250-295 against 250-264). V8's --liftoff-only,
// which saves ~30 MiB at every run's peak, costs start-up the same way on this line: it is set at run time
// instead, when the first HTTP client is made (src/util/wasm-tier.ts).
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');

/** The bundle of main.ts, beside this file (build/command.ts writes it and the caches). */
const BUNDLE = path.join(__dirname, 'pypimirror.bundle.cjs');

/**
 * Set by the build only (build/command.ts): a training run, which says on stderr whether V8 took the code
 * cache it was given, and replaces it with the cache of the bundle as compiled once the command has run.
 */
const TRAINING = 'PYPIMIRROR_TRAIN_CODE_CACHE';

/** The code cache for `argv`'s command: one trained on `check`, one on a no-op `sync` (for every other). */
function cacheFile(argv: readonly string[]): string {
  return path.join(__dirname, `pypimirror.${argv[0] === 'check' ? 'check' : 'sync'}.cache`);
}

/** What `read` returns, or null when the file it reads does not exist. */
function readOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Compiles the bundle with its code cache and runs it. The bundle is ASCII (the build checks), so read as
 * latin1 it becomes a one-byte string with no decoding. It is one function expression, called with the
 * `require` its externals (the AWS SDK) are loaded with and the file and directory it runs as.
 */
function runBundle(source: string, argv: readonly string[]): void {
  const cache = cacheFile(argv);
  const cachedData = readOrNull(() => fs.readFileSync(cache));
  const script = new vm.Script(source, { filename: BUNDLE, ...(cachedData === null ? {} : { cachedData }) });
  if (process.env[TRAINING] !== undefined) {
    const taken = cachedData === null ? 'none' : script.cachedDataRejected === true ? 'rejected' : 'accepted';
    process.stderr.write(`code cache ${path.basename(cache)}: ${taken}\n`);
    // V8 rejects a cache made under other flags, and --liftoff-only, set once the first HTTP client is
    // made, would count: the training run keeps the flags the command starts with.
    process.getBuiltinModule('node:v8').setFlagsFromString = () => {};
    process.once('exit', () => fs.writeFileSync(cache, script.createCachedData()));
  }
  const run = script.runInThisContext() as (load: NodeJS.Require, file: string, dir: string) => void;
  run(require, BUNDLE, __dirname);
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // As app.ts answers it (version.ts), without loading the program.
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
    version: string;
  };
  process.stdout.write(`pypimirror ${pkg.version}\n`);
} else {
  const source = readOrNull(() => fs.readFileSync(BUNDLE, 'latin1'));
  if (source === null) void import('./main.js');
  else runBundle(source, argv);
}
