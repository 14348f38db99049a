// Composition root: argv → config → dependencies → command. It reads process.env, the working directory
// and the terminals, and sets the exit code; commands.ts owns the signal handlers and process.exit, and
// below them only process.pid and process.versions are read (docs/architecture.md "Layers").
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { loadConfig } from './config/load.js';
import { describeConfig } from './config/describe.js';
import type { Config } from './config/types.js';
import { type CliArgs, parseCli, USAGE, UsageError } from './cli.js';
import { ConfigError, LockError, redactSecrets } from './errors.js';
import type { Logger } from './log.js';
import { createLogger } from './logger.js';
import { createStatusLine, isProgressShown } from './progress.js';
import type { StartupHangups } from './startup-hangups.js';
import { describeSelection, EXIT, runCommand } from './commands.js';
import { describeRefusal, inspectRoot, rootError } from './mirror/ownership.js';
import { readState } from './mirror/state.js';
import { describeClosure } from './sync/closure.js';
import { describeDiscovery } from './sync/discover.js';
import { runKeygenCommand } from './bundle/commands.js';
import { describeBundles } from './bundle/state.js';
import { describeHold } from './sync/guards.js';
import {
  type Invoker,
  isConfigMissing,
  locateConfig,
  missingConfigError,
  writeStarterConfig,
} from './init.js';
import { describeHeldFiles } from './sync/release-times.js';
import { describeSectionDiscovery } from './sync/upstreams.js';

export { EXIT };

/** After main() returns, anything still holding the event loop gets this long before the process exits. */
const EXIT_GRACE_MS = 3_000;

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: readonly string[], hangups: StartupHangups): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`pypimirror: ${err.message}\n\n${USAGE}\n`);
    return EXIT.CONFIG;
  }
  if (args.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  if (args.command === 'version') {
    process.stdout.write(`pypimirror ${readVersion()}\n`);
    return EXIT.OK;
  }
  if (args.command === 'keygen') {
    return runKeygenCommand(args.operands[0] as string, (line) => process.stdout.write(`${line}\n`)).catch(
      (err: unknown) => {
        process.stderr.write(`pypimirror: ${err instanceof Error ? err.message : String(err)}\n`);
        return EXIT.CONFIG;
      },
    );
  }
  const who: Invoker = { isRoot: process.getuid?.() === 0, home: homedir(), env: process.env };
  const configPath = locateConfig(args.configPath, who, existsSync);
  const isDefaultPath = (args.configPath ?? '') === '';
  let cfg: Config;
  try {
    if (args.command === 'init' && (await isConfigMissing(configPath, process.cwd()))) {
      const opts = { configPath, isDefaultPath, cwd: process.cwd(), who, adopt: args.adopt };
      process.stdout.write(`${await writeStarterConfig(opts)}\n`);
      return EXIT.OK;
    }
    cfg = await loadConfig(configPath, { cwd: process.cwd() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const isMissing = err.code === 'CONFIG_NOT_FOUND' && (await isConfigMissing(configPath, process.cwd()));
    const shown = isMissing ? missingConfigError(configPath, isDefaultPath, err) : err;
    process.stderr.write(`pypimirror: ${shown.message}\n`);
    return EXIT.CONFIG;
  }
  if (args.command === 'check') {
    for (const w of [...args.warnings, ...cfg.warnings]) process.stderr.write(`warning: ${w}\n`);
    const refusal = describeRefusal(await inspectRoot(cfg.mirrorRoot, cfg.lockFile), cfg.file);
    if (refusal !== null) {
      process.stderr.write(`pypimirror: ${rootError(cfg, refusal).message}\n`);
      return EXIT.CONFIG;
    }
    // The discovery line says how changes will be found, and what the last run used (from the state).
    const state = await readState(cfg.mirrorRoot).catch(() => null);
    const hold = describeHold(state?.deletionsHeld);
    const bundles = await describeBundles(cfg.mirrorRoot);
    const discovery = [
      ...describeDiscovery(cfg, state),
      ...describeSectionDiscovery(cfg, state),
      ...(hold === null ? [] : [hold]),
      ...describeHeldFiles(state),
      ...(await describeClosure(cfg, state)),
      ...bundles,
    ].join('\n');
    process.stdout.write(
      `# ${cfg.file}: valid\n${describeConfig(cfg)}\n${describeSelection(cfg)}\n${discovery}\n`,
    );
    return EXIT.OK;
  }
  // -v and -f on the command line win over the config, at start and after each reload.
  const logOptions = (c: Config): { verbose: boolean; logFile: string | null } => ({
    verbose: args.verbose || c.verbose,
    logFile: args.logFile ?? c.logFile,
  });
  // `sync` on a terminal draws its progress on stderr, under the log lines; per-file lines are debug there.
  const statusLine =
    args.command === 'sync' && !args.dryRun && isProgressShown(process.env, process.stderr)
      ? createStatusLine(process.stderr, process.stdout)
      : null;
  const logging = createLogger({
    ...logOptions(cfg),
    env: process.env,
    isTty: process.stdout.isTTY === true,
    stream: statusLine?.logStream ?? process.stdout,
    isPerFileDebug: statusLine !== null,
  });
  const logger = logging.logger;
  try {
    for (const w of [...args.warnings, ...cfg.warnings]) logger.warn(w);
    return await runCommand(args.command, cfg, {
      configPath,
      log: logger,
      env: process.env,
      version: readVersion(),
      isTty: process.stdout.isTTY === true,
      cwd: process.cwd(),
      repair: args.repair,
      adopt: args.adopt,
      allowDeletions: args.allowDeletions,
      dryRun: args.dryRun,
      bundle: { operands: args.operands, isFull: args.full, maxVolume: args.maxVolume },
      logControl: { reopen: logging.reopen, configure: (c) => logging.configure(logOptions(c)) },
      startupHangups: hangups,
      ...(statusLine === null ? {} : { statusLine }),
    });
  } catch (err) {
    return reportFatal(err, logger);
  } finally {
    await logging.close();
  }
}

function reportFatal(err: unknown, log: Logger): number {
  if (err instanceof LockError && err.code === 'LOCK_HELD') {
    log.error(err.message);
    return EXIT.LOCKED;
  }
  if (err instanceof ConfigError) {
    log.error(err.message);
    return EXIT.CONFIG;
  }
  log.error('fatal error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return EXIT.FAILED;
}

/** Runs the command line `argv` and sets the exit code; main.ts calls it once the modules have loaded. */
export function runMain(argv: readonly string[], hangups: StartupHangups): void {
  main(argv, hangups)
    .finally(() => hangups.release()) // a command that does not handle SIGHUP gets the default action back
    .then(
      (code) => {
        process.exitCode = code;
        // A stray handle (a keep-alive socket, a watcher) must not keep a stopped daemon alive.
        setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
      },
      (err: unknown) => {
        process.stderr.write(
          `pypimirror: ${redactSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
        );
        process.exitCode = EXIT.FAILED;
      },
    );
}
