// Composition root: argv → config → dependencies → command. It reads process.env, the working directory
// and the terminals, and sets the exit code; commands.ts owns the signal handlers and process.exit, and
// below them only process.pid and process.versions are read (docs/architecture.md "Layers").
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Config } from './config/types.js';
import { type CliArgs, parseCli, USAGE, UsageError } from './cli.js';
import { ConfigError, LockError, redactSecrets, StateError } from './errors.js';
import { EXIT } from './exit-codes.js';
import type { Invoker } from './init.js';
import type { Logger } from './log.js';
import type { StartupHangups } from './startup-hangups.js';
import { readVersion } from './version.js';

// Everything else loads when a command needs it (issue #14 part 3): `--version` and `--help` load nothing
// more, `check` neither the logger nor the upstream client nor the sync, `keygen` only its signing code.

/** After main() returns, anything still holding the event loop gets this long before the process exits. */
const EXIT_GRACE_MS = 3_000;

async function main(argv: readonly string[], hangups: StartupHangups): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`pypimirror: ${err.message}\n\n${USAGE}\n`);
    return EXIT.CONFIG;
  }
  if (args.command === 'help' || args.command === 'version') {
    process.stdout.write(args.command === 'help' ? `${USAGE}\n` : `pypimirror ${readVersion()}\n`);
    return EXIT.OK;
  }
  if (args.command === 'keygen') {
    const { runKeygenCommand } = await import('./bundle/commands.js');
    return runKeygenCommand(args.operands[0] as string, (line) => process.stdout.write(`${line}\n`)).catch(
      (err: unknown) => {
        process.stderr.write(`pypimirror: ${err instanceof Error ? err.message : String(err)}\n`);
        return EXIT.CONFIG;
      },
    );
  }
  const { isConfigMissing, locateConfig, missingConfigError, writeStarterConfig } = await import('./init.js');
  const { loadConfig } = await import('./config/load.js');
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
    const { runCheck } = await import('./check.js');
    return runCheck(cfg, [...args.warnings, ...cfg.warnings], {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
  }
  // -v and -f on the command line win over the config, at start and after each reload.
  const logOptions = (c: Config): { verbose: boolean; logFile: string | null } => ({
    verbose: args.verbose || c.verbose,
    logFile: args.logFile ?? c.logFile,
  });
  const [{ createLogger }, { createStatusLine, isProgressShown }, { runCommand }] = await Promise.all([
    import('./logger.js'),
    import('./progress.js'),
    import('./commands.js'),
  ]);
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
      deep: args.deep,
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
  if (err instanceof StateError) {
    log.error(err.message); // names the file and what is wrong with it: no stack
    return EXIT.FAILED;
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
