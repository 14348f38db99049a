// The commands, wired from their dependencies. app.ts builds the logger and config; this builds the rest.
// `export`/`import` and `verify` load their modules when they run: a sync does without them (issue #14 part 3).
import { constants } from 'node:os';
import { loadConfig } from './config/load.js';
import type { Config } from './config/types.js';
import type { Command } from './cli.js';
import { startDaemon, runLockedSync, type Daemon, type UpstreamClient } from './daemon.js';
import { LockError } from './errors.js';
import { EXIT } from './exit-codes.js';
import type { Logger } from './log.js';
import type { RunLock } from './mirror/lock.js';
import { takeRunLock } from './mirror/run-lock.js';
import { claimRoot, initRoot } from './mirror/ownership.js';
import { createPublisher } from './mirror/publish.js';
import { republishFromRecords } from './mirror/republish.js';
import { createProgressLine, type StatusLine } from './progress.js';
import { isReportOk } from './sync/report.js';
import { runSync } from './sync/run.js';
import { compileHttpParserAhead, createHttp, userAgent } from './upstream/http.js';
import { createUpstream } from './upstream/simple-api.js';
import type { StartupHangups } from './startup-hangups.js';
import type { VerifyProblem } from './verify.js';
import { openStorage } from './storage/open.js';
import { keepWasmBaseline } from './util/wasm-tier.js';

export interface CommandDeps {
  /** `verify --repair`. */
  readonly repair?: boolean;
  /** `verify --deep`: re-hash every file, also where the storage keeps its sha256. */
  readonly deep?: boolean;
  /** `init --adopt`. */
  readonly adopt?: boolean;
  /** `sync --allow-deletions`: release this run's held deletions. */
  readonly allowDeletions?: boolean;
  /** `sync --dry-run`: print what would be fetched and removed; change nothing (no lock, no state, no status). */
  readonly dryRun?: boolean;
  /** `export`/`import`: their operands and options (cli.ts). */
  readonly bundle?: {
    readonly operands: readonly string[];
    readonly isFull: boolean;
    readonly maxVolume: number;
  };
  readonly configPath: string;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly isTty: boolean;
  /** Relative paths in a reloaded config resolve against this (as at start). */
  readonly cwd: string;
  /** The log file's controls: reopen after rotation, re-apply a reloaded config's verbose/log_filename. */
  readonly logControl?: {
    reopen(): void;
    configure(cfg: Config): void;
  };
  /** `sync` on a terminal: the line its progress is drawn on, under the log lines (progress.ts). */
  readonly statusLine?: StatusLine;
  /** SIGHUPs noted while the program loaded (main.ts); `run` replays them, other commands get the default. */
  readonly startupHangups?: StartupHangups;
}

/** A graceful stop that takes longer than this ends the process anyway (systemd allows 30 s). */
const STOP_DEADLINE_MS = 9_000;

export async function runCommand(command: Command, cfg: Config, deps: CommandDeps): Promise<number> {
  if (command !== 'run') deps.startupHangups?.restoreDefault();
  if (command === 'init') {
    deps.log.info(await initRoot(cfg, await openStorage(cfg), deps.adopt === true));
    return EXIT.OK;
  }
  // A root that is not ours (a system directory, a file, foreign entries) is refused: ConfigError, exit 2.
  // (A dry run creates nothing: runSync checks the root without claiming it.)
  if (command !== 'check' && deps.dryRun !== true) await claimRoot(cfg, await openStorage(cfg));
  switch (command) {
    case 'sync':
      return runSyncCommand(cfg, deps);
    case 'reindex':
      return withRunLock(cfg, deps.log, () => reindex(cfg, deps.log));
    case 'run':
      return runDaemonCommand(cfg, deps);
    case 'check':
      // app.ts answers `check` itself, before any logger exists.
      return EXIT.OK;
    case 'verify':
      return runVerifyCommand(cfg, deps);
    case 'export':
    case 'import':
      return runBundleCommand(command, cfg, deps);
    case 'keygen':
      return EXIT.OK; // app.ts answers `keygen` itself: it needs no config
    case 'migrate':
      return runMigrateCommand(cfg, deps);
  }
}

/** `export` and `import` (src/bundle/commands.ts), stopped gracefully by SIGINT/SIGTERM. */
async function runBundleCommand(
  command: 'export' | 'import',
  cfg: Config,
  deps: CommandDeps,
): Promise<number> {
  const stop = abortOnSignals(deps.log);
  try {
    const { runExportCommand, runImportCommand } = await import('./bundle/commands.js');
    const opts = {
      operands: deps.bundle?.operands ?? [],
      isFull: deps.bundle?.isFull === true,
      maxVolume: deps.bundle?.maxVolume ?? 4 * 1024 ** 3,
      dryRun: deps.dryRun === true,
      allowDeletions: deps.allowDeletions === true,
      signal: stop.signal,
      print: (line: string) => process.stdout.write(`${line}\n`),
    };
    return await (command === 'export' ? runExportCommand : runImportCommand)(cfg, deps.log, opts);
  } finally {
    stop.dispose();
  }
}

/**
 * `migrate FROM_CONFIG TO_CONFIG`: the tree of `from` copied into TO_CONFIG's storage (src/migrate.ts),
 * both under their run locks; exit 1 when a file could not be verified.
 */
async function runMigrateCommand(from: Config, deps: CommandDeps): Promise<number> {
  const toPath = deps.bundle?.operands[0] ?? '';
  const to = await loadConfig(toPath, { cwd: deps.cwd });
  const { migrateTree } = await import('./migrate.js');
  const [source, target] = await Promise.all([openStorage(from), openStorage(to)]);
  if (source.where === target.where) {
    deps.log.error(`migrate: both configs name ${source.where}; nothing to do`);
    return EXIT.CONFIG;
  }
  await claimRoot(to, target);
  const stop = abortOnSignals(deps.log);
  try {
    return await withRunLock(from, deps.log, () =>
      withRunLock(to, deps.log, async () => {
        deps.log.info(`migrating ${source.where} to ${target.where}`);
        const report = await migrateTree(source, target, { log: deps.log, signal: stop.signal });
        deps.log.info(
          `migrate finished: ${report.copied} files copied (${report.bytes} bytes), ` +
            `${report.skipped} already in place, ${report.problems.length} not verified`,
        );
        return report.problems.length === 0 ? EXIT.OK : EXIT.FAILED;
      }),
    );
  } finally {
    stop.dispose();
  }
}

/** Runs `fn` under the run lock, so no sync changes the tree meanwhile; EXIT.LOCKED if another run holds it. */
async function withRunLock(cfg: Config, log: Logger, fn: () => Promise<number>): Promise<number> {
  let lock: RunLock;
  try {
    lock = await takeRunLock(cfg, { log, onLost: () => {} });
  } catch (err) {
    if (err instanceof LockError && err.code === 'LOCK_HELD') {
      log.error(err.message);
      return EXIT.LOCKED;
    }
    throw err;
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * `verify [--repair]`: re-hash the tree and check every published page against it, under the run lock.
 * With --repair, the bad files leave the disk and their records and every page is rewritten from the
 * records, through the publisher (verify.ts repairTree), and a sync fetches the files again: 0 once healed.
 */
async function runVerifyCommand(cfg: Config, deps: CommandDeps): Promise<number> {
  const { repairTree, verifyTree } = await import('./verify.js');
  const stop = abortOnSignals(deps.log);
  let problems: VerifyProblem[] = [];
  let code: number;
  try {
    code = await withRunLock(cfg, deps.log, async () => {
      const storage = await openStorage(cfg);
      problems = await verifyTree(cfg, storage, deps.log, stop.signal, { isDeep: deps.deep === true });
      if (problems.length > 0 && deps.repair === true) {
        await repairTree(cfg, storage, problems, deps.log);
      }
      return problems.length === 0 ? EXIT.OK : EXIT.FAILED;
    });
  } finally {
    stop.dispose();
  }
  if (code !== EXIT.FAILED || deps.repair !== true) return code;
  deps.log.info(
    'repairing: pages rewritten from the records; a sync fetches the missing or wrong files again',
    {
      problems: problems.length,
    },
  );
  return runSyncCommand(cfg, deps);
}

/**
 * Aborts on the first SIGINT/SIGTERM (the graceful stop must end within STOP_DEADLINE_MS, or the process
 * exits 1); a second signal exits at once, with 128 + the signal number.
 * @public test/integration/shutdown.test.ts imports it in a child process, where knip cannot see it.
 */
export function abortOnSignals(log: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      log.warn(`second ${name}: exiting now`);
      process.exit(128 + (constants.signals[name] ?? 0));
    }
    log.warn(`${name} received: stopping after cleaning up in-flight downloads`);
    setTimeout(() => {
      log.error(`graceful stop took longer than ${STOP_DEADLINE_MS / 1000} s: exiting now`);
      process.exit(EXIT.FAILED);
    }, STOP_DEADLINE_MS).unref();
    controller.abort(new Error(`${name} received`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * The upstream clients for one config ([mirror]'s index_url and each `[upstream:NAME]` section, each with its
 * own timeout, CA file and connection pools), closed when the config replaces them.
 */
function createClient(cfg: Config, deps: Pick<CommandDeps, 'log' | 'env' | 'version'>): UpstreamClient {
  keepWasmBaseline(); // before undici compiles its HTTP parser
  compileHttpParserAhead(deps.env);
  const https: { close(): Promise<void> }[] = [];
  const connect = (transport: Pick<Config, 'indexUrl' | 'timeoutMs' | 'caFile' | 'requestDeadlineMs'>) => {
    const http = createHttp({
      timeoutMs: transport.timeoutMs,
      workers: cfg.workers,
      userAgent: userAgent(deps.version), // with contact URL and node version, as PyPI's policy asks
      log: deps.log,
      env: deps.env,
      caFile: transport.caFile,
    });
    https.push(http);
    return createUpstream({
      indexUrl: transport.indexUrl,
      http,
      log: deps.log,
      requestDeadlineMs: transport.requestDeadlineMs,
      maxFileSize: cfg.maxFileSize,
    });
  };
  const upstream = connect(cfg);
  const upstreams = new Map(cfg.upstreams.map((section) => [section.name, connect(section)]));
  return { upstream, upstreams, close: async () => void (await Promise.all(https.map((h) => h.close()))) };
}

/**
 * `sync --dry-run`: discovery and every page as a sync would read them, then what would be fetched and removed,
 * on stdout. It takes no lock and writes nothing (no file in the tree, no state, no status, no metrics).
 * Exits as the sync it previews would: 0, or 1 when some project failed or deletions would be held.
 */
async function runDryRunCommand(cfg: Config, deps: CommandDeps): Promise<number> {
  const { signal, dispose } = abortOnSignals(deps.log);
  const client = createClient(cfg, deps);
  try {
    const report = await runSync(
      {
        upstream: client.upstream,
        upstreams: client.upstreams,
        log: deps.log,
        print: (line) => process.stdout.write(`${line}\n`),
      },
      cfg,
      signal,
      { dryRun: true, allowDeletions: deps.allowDeletions === true },
    );
    return isReportOk(report) || signal.aborted ? EXIT.OK : EXIT.FAILED;
  } finally {
    dispose();
    await client.close();
  }
}

/**
 * `sync`: one run under the lock. 0 ok (or stopped by a signal), 1 some projects failed or deletions were
 * held, 75 lock held.
 */
async function runSyncCommand(cfg: Config, deps: CommandDeps): Promise<number> {
  if (deps.dryRun === true) return runDryRunCommand(cfg, deps);
  const { signal, dispose } = abortOnSignals(deps.log);
  const client = createClient(cfg, deps);
  const progress = deps.statusLine === undefined ? null : createProgressLine(deps.statusLine);
  let closing: Promise<void> | null = null;
  try {
    const outcome = await runLockedSync(
      {
        log: deps.log,
        upstream: client.upstream,
        upstreams: client.upstreams,
        command: 'sync',
        version: deps.version,
        allowDeletions: deps.allowDeletions === true,
        ...(progress === null ? {} : { onProgress: progress.update }),
        // Closing the connections takes a few ms (each socket's close is an event-loop turn): beside the
        // status file and the lock's release rather than after them.
        onSyncEnd: () => void (closing ??= client.close()),
      },
      cfg,
      signal,
      () => null,
    );
    if (outcome.kind === 'locked') {
      deps.log.error(outcome.error.message);
      return EXIT.LOCKED;
    }
    if (outcome.kind === 'no-lock') return EXIT.FAILED;
    if (outcome.result === 'ok') return EXIT.OK;
    return outcome.result === 'aborted' && signal.aborted ? EXIT.OK : EXIT.FAILED;
  } finally {
    progress?.clear();
    dispose();
    await (closing ?? client.close());
  }
}

/** `run`: the daemon until SIGTERM/SIGINT (then 0). SIGHUP reopens the log file and reloads the config. */
async function runDaemonCommand(cfg: Config, deps: CommandDeps): Promise<number> {
  const { signal, dispose } = abortOnSignals(deps.log);
  let daemon: Daemon | null = null;
  const onHangup = (): void => {
    deps.logControl?.reopen();
    deps.log.info('SIGHUP received: log file reopened');
    daemon?.reload('SIGHUP');
  };
  process.on('SIGHUP', onHangup);
  try {
    daemon = startDaemon(
      cfg,
      {
        log: deps.log,
        version: deps.version,
        configPath: deps.configPath,
        loadConfig: (path) => loadConfig(path, { cwd: deps.cwd }),
        createClient: (c) => createClient(c, deps),
        onConfigApplied: (c) => deps.logControl?.configure(c),
      },
      signal,
    );
    // Hangups that came while the program loaded (a reload right after `systemctl start`): handled now.
    const early = deps.startupHangups?.takeOver() ?? 0;
    if (early > 0) {
      deps.log.info(`SIGHUP received during start-up (${early}×): handling it now`);
      onHangup();
    }
    await daemon.done;
    return EXIT.OK;
  } finally {
    process.off('SIGHUP', onHangup);
    dispose();
  }
}

/** Rewrites every page from the records, offline (`reindex`, z3c `-i`). The records are the truth. */
async function reindex(cfg: Config, log: Logger): Promise<number> {
  const storage = await openStorage(cfg);
  const publisher = createPublisher(storage, { createIndexes: true, baseUrl: cfg.baseUrl, log });
  const foreign = new Set((await claimRoot(cfg, storage)).foreign);
  const projects = await republishFromRecords(storage, publisher, log, foreign);
  log.info('reindex finished', { projects });
  return 0;
}
