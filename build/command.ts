// The build's last step (`npm run build`, after tsc): makes what the pypimirror command runs
// (src/pypimirror.cts). esbuild bundles dist/src/main.js and everything it loads, node_modules included, into
// one CommonJS script, dist/src/pypimirror.bundle.cjs; then training runs of the command against a fake
// upstream on 127.0.0.1 write V8's code cache of that script once it has run: `check`, and a no-op `sync`
// (which every command but `check` starts from). Why (issue #14 part 3), with the figures: README
// "Benchmark: how to read it", the start-up lines.
//
// What the bundle keeps of the program as tsc built it:
// - lazy loading: a module imported with `import()` is evaluated when the import runs, as before (esbuild
//   wraps it in a function called then), so a command evaluates only what it needs;
// - `import.meta.url`: each module's own, as if it still ran from its file in dist/src/ (package.json is
//   read, the hash worker started and the samples found beside it, as before);
// - winston's own debug output is left out (quietDiagnostics), and undici's HTTP/2 client loads when used
//   (lazyHttp2);
// - the AWS SDK stays outside, in node_modules, loaded with `require` when a storage is a bucket: the bundle
//   is read and its cache taken at every start, and the SDK is the larger part of what the bundle would hold.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build, formatMessages, type Message, type Plugin } from 'esbuild';
import { buildWheel } from '../test/helpers/dist-builder.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { repoRoot } from '../test/helpers/repo-root.js';

const DIST_SRC = join(repoRoot, 'dist', 'src');
/** The command (src/pypimirror.cts as tsc built it) and the bundle it runs. */
const COMMAND = join(DIST_SRC, 'pypimirror.cjs');
const BUNDLE = join(DIST_SRC, 'pypimirror.bundle.cjs');
/** What the bundle does not hold: loaded from node_modules with `require`, when needed. */
const EXTERNAL = ['@aws-sdk/*'];
/** The command's environment variable for a training run (src/pypimirror.cts). */
const TRAINING = 'PYPIMIRROR_TRAIN_CODE_CACHE';
/** A training run that has not ended by then has failed. */
const RUN_TIMEOUT_MS = 120_000;

/**
 * Gives each module of dist/src/ its own `import.meta.url` (which a CommonJS bundle has not): the URL of
 * its file, resolved at run time against the directory the bundle runs in (`__pypimirrorSrc`, set at the
 * top of the bundle), which is dist/src/ wherever the package is installed.
 */
const ownImportMetaUrl: Plugin = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(`${DIST_SRC}/`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      const url = `new URL(${JSON.stringify(relative(DIST_SRC, args.path))}, __pypimirrorSrc).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};

/**
 * winston's debug output (`@dabh/diagnostics`, shown when DEBUG names a winston namespace) in its production
 * form, which prints nothing: the development form, which Node gets unless NODE_ENV=production, loads a
 * colour library that took ~5 % of a no-op sync's start to evaluate, on every run, for a developer's aid.
 */
const quietDiagnostics: Plugin = {
  name: 'quiet-diagnostics',
  setup(b) {
    b.onResolve({ filter: /^@dabh\/diagnostics$/ }, (args) =>
      b.resolve('@dabh/diagnostics/node/production.js', { kind: args.kind, resolveDir: args.resolveDir }),
    );
  },
};

/** What undici's client module (a CommonJS module of node_modules) loads at once, and what the bundle loads. */
const UNDICI_CLIENT = /\/node_modules\/undici\/lib\/dispatcher\/client\.js$/;
const EAGER_H2 = "const connectH2 = require('./client-h2.js')";
const LAZY_H2 = "const connectH2 = (...args) => require('./client-h2.js')(...args)";

/**
 * undici's HTTP/2 client, loaded when a connection negotiates HTTP/2 (never: pypimirror does not allow it),
 * not when undici loads: it loads node:http2 (and with it node:tls), ~8 ms of CPU at every start. A build
 * against an undici whose line differs fails here, rather than leave the load eager unnoticed.
 */
const lazyHttp2: Plugin = {
  name: 'lazy-http2',
  setup(b) {
    b.onLoad({ filter: UNDICI_CLIENT }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes(EAGER_H2)) throw new Error(`${args.path}: no "${EAGER_H2}" to make lazy`);
      return { contents: text.replace(EAGER_H2, LAZY_H2), loader: 'js' };
    });
  },
};

/** esbuild's messages as text; a warning fails the build as an error does (it would be a broken command). */
async function failOn(messages: readonly Message[], kind: 'error' | 'warning'): Promise<void> {
  if (messages.length === 0) return;
  const text = await formatMessages([...messages], { kind, color: false });
  throw new Error(`bundling dist/src/main.js: ${messages.length} ${kind}(s)\n${text.join('\n')}`);
}

/** Writes dist/src/pypimirror.bundle.cjs: one function expression of (require, __filename, __dirname). */
async function bundle(): Promise<void> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: [join(DIST_SRC, 'main.js')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL,
    // An external's `import()` becomes a `require` (a script compiled by node:vm has no module loader).
    supported: { 'dynamic-import': false },
    charset: 'ascii',
    legalComments: 'inline',
    banner: {
      js:
        '(function (require, __filename, __dirname) {\n' +
        "const __pypimirrorSrc = require('node:url').pathToFileURL(__dirname + '/');",
    },
    footer: { js: '})' },
    plugins: [ownImportMetaUrl, quietDiagnostics, lazyHttp2],
    logLevel: 'silent',
    write: false,
  });
  await failOn(result.errors, 'error');
  await failOn(result.warnings, 'warning');
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('bundling dist/src/main.js: esbuild wrote nothing');
  // The command reads the bundle as latin1, which decodes ASCII as UTF-8 would. esbuild escapes what is
  // not ASCII in the code (charset), but not in the comments it keeps: those are written as \u escapes.
  const ascii = output.text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
  await writeFile(BUNDLE, ascii);
}

/** Runs the built command through its #! line in training mode; its stderr, once it has exited 0. */
function train(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(COMMAND, args, {
      env: { ...process.env, PYPIMIRROR_CONFIG: undefined, [TRAINING]: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: RUN_TIMEOUT_MS,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stderr);
      else reject(new Error(`training run pypimirror ${args.join(' ')}: ${code ?? signal}\n${stderr}`));
    });
  });
}

/**
 * The training runs: `check`, a first sync (not kept) and a no-op sync, each of those kept run twice, the
 * second time to see that V8 takes the cache the first wrote (it rejects one made under other flags).
 */
async function trainCaches(): Promise<void> {
  const fake = await startFakeUpstream();
  const work = await mkdtemp(join(tmpdir(), 'pypimirror-build-'));
  try {
    for (const name of ['alpha', 'beta', 'gamma']) {
      fake.addProject(name, [buildWheel({ name, version: '1.0' }), buildWheel({ name, version: '1.1' })]);
    }
    const config = join(work, 'pypimirror.cfg');
    const mirror = join(work, 'mirror');
    await writeFile(
      config,
      `[mirror]\nmirror_file_path = ${mirror}\nindex_url = ${fake.url}\npackage_matches = alpha beta gamma\n`,
    );
    await train(['sync', config]);
    for (const args of [
      ['check', config],
      ['sync', config],
    ]) {
      await train(args);
      const said = await train(args);
      if (!/^code cache \S+: accepted$/m.test(said)) {
        throw new Error(`training run pypimirror ${args.join(' ')}: V8 did not take the cache:\n${said}`);
      }
    }
  } finally {
    await fake.close();
    await rm(work, { recursive: true, force: true });
  }
}

await bundle();
await trainCaches();
