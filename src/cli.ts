// Command line → what to do. Pure: no process.*, no I/O (app.ts does those).
import { parseArgs } from 'node:util';
import { MIN_VOLUME_SIZE, parseVolumeSize } from './bundle/volume-size.js';

export type Command =
  'run' | 'sync' | 'check' | 'verify' | 'reindex' | 'init' | 'export' | 'import' | 'keygen' | 'migrate';
const COMMANDS: readonly Command[] = [
  'run',
  'sync',
  'check',
  'verify',
  'reindex',
  'init',
  'export',
  'import',
  'keygen',
  'migrate',
];
/** Commands that take operands after CONFIG (keygen: instead of it). */
const WITH_OPERANDS: readonly string[] = ['export', 'import', 'keygen', 'migrate'];

export interface CliArgs {
  readonly command: Command | 'help' | 'version';
  /** CONFIG as given, or null (then $PYPIMIRROR_CONFIG, then the default: init.ts locateConfig). */
  readonly configPath: string | null;
  readonly verbose: boolean;
  /** z3c `-f FILE`: log to this file too (overrides log_filename). */
  readonly logFile: string | null;
  /** z3c `-c`: also log to the console (we always do; accepted for compatibility). */
  readonly isConsole: boolean;
  /** `verify --repair`. */
  readonly repair: boolean;
  /** `verify --deep`: re-hash every file even where the storage keeps its sha256 (an S3 object's metadata). */
  readonly deep: boolean;
  /** `init --adopt`: mirror into a non-empty directory, leaving what it holds alone. */
  readonly adopt: boolean;
  /** `sync --allow-deletions`: release this run's held deletions. */
  readonly allowDeletions: boolean;
  /** `sync --dry-run`: print what would be fetched and removed; change nothing. */
  readonly dryRun: boolean;
  /** `export CONFIG OUT_DIR`, `import CONFIG BUNDLE_DIR...`, `keygen DIR`, `migrate FROM TO`: what follows CONFIG. */
  readonly operands: readonly string[];
  /** `export --full`. */
  readonly full: boolean;
  /** `export --max-volume SIZE`, bytes. */
  readonly maxVolume: number;
  /** Accepted-but-meaningless z3c options, one message each. */
  readonly warnings: readonly string[];
}

export class UsageError extends Error {
  readonly code = 'USAGE';
}

export const USAGE = `Usage: pypimirror <command> [CONFIG] [options]

Commands:
  run      sync now, then every sync_interval; reload on SIGHUP or when CONFIG changes
  sync     one sync, then exit (for cron)
  check    validate CONFIG and print the effective settings
  verify   re-hash the tree against the recorded hashes (--repair re-downloads what is wrong)
  reindex  rewrite every index page from the tree and the recorded state, offline
  init     no CONFIG yet: write a commented starter config there, and say what to do next;
           CONFIG exists: create the mirror root and mark it as pypimirror's (--adopt: a non-empty
           directory, its entries left alone)
  export   CONFIG OUT_DIR: write the changes since the last export as a signed bundle (air-gapped pair)
  import   CONFIG BUNDLE_DIR...: check and apply bundles in order; hold those whose predecessor is missing
  keygen   DIR: write a new Ed25519 key pair for bundles (bundle.key, bundle.pub)
  migrate  FROM_CONFIG TO_CONFIG: copy the tree and its state from one storage to another (local disk,
           an s3:// bucket), verifying every file; nothing is fetched from the upstream

CONFIG defaults to $PYPIMIRROR_CONFIG, then /etc/pypimirror.cfg as root; an ordinary user's default is
~/.config/pypimirror/pypimirror.cfg (unless only /etc/pypimirror.cfg exists).

Options:
  -v, --verbose        debug logging
  -f, --log-file FILE  also log to FILE (overrides log_filename)
  -c, --console        also log to the console (always on; for z3c.pypimirror compatibility)
      --repair         with verify: re-download files that are missing or wrong
      --deep           with verify: re-hash the bytes of every file, also in a bucket (where verify
                       otherwise compares the sha256 each object carries, downloading nothing)
      --adopt          with init: accept a non-empty directory as the root (what it holds is never touched)
      --allow-deletions  with sync: let this run's held deletions go (max_deletions, suspect pages, listing)
      --dry-run        with sync or import: print what would change, and change nothing
      --full           with export: carry the whole tree, not only the changes
      --max-volume SIZE  with export: largest tar volume (default 4G; at least 64K)
  -h, --help           show this help
  -V, --version        show the version

z3c.pypimirror forms: pypimirror CONFIG --initial-fetch|-I, --update-fetch|-U (= sync),
--indexes-only|-i (= reindex); -d N, -e, -x are accepted and ignored with a warning.

Exit codes: 0 ok; 1 finished, but some projects failed or deletions were held (verify: problems found);
2 bad config or usage; 3 nothing to export; 4 bundles held for a missing one; 65 a bundle refused;
75 another run holds the lock.`;

export function parseCli(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        verbose: { type: 'boolean', short: 'v', default: false },
        'log-file': { type: 'string', short: 'f' },
        console: { type: 'boolean', short: 'c', default: false },
        repair: { type: 'boolean', default: false },
        deep: { type: 'boolean', default: false },
        adopt: { type: 'boolean', default: false },
        'allow-deletions': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
        'max-volume': { type: 'string', default: '4G' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'V', default: false },
        'initial-fetch': { type: 'boolean', short: 'I', default: false },
        'update-fetch': { type: 'boolean', short: 'U', default: false },
        'indexes-only': { type: 'boolean', short: 'i', default: false },
        'fetch-since-days': { type: 'string', short: 'd' },
        'follow-external-links': { type: 'boolean', short: 'e', default: false },
        'follow-external-index-pages': { type: 'boolean', short: 'x', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values: v, positionals } = parsed;
  const base = {
    verbose: v.verbose === true,
    logFile: v['log-file'] ?? null,
    isConsole: v.console === true,
    repair: v.repair === true,
    deep: v.deep === true,
    adopt: v.adopt === true,
    allowDeletions: v['allow-deletions'] === true,
    dryRun: v['dry-run'] === true,
    full: v.full === true,
    maxVolume: parseVolumeSize(v['max-volume'] ?? '4G') ?? NaN,
    operands: [] as string[],
  };
  if (!(base.maxVolume >= MIN_VOLUME_SIZE)) {
    throw new UsageError(`--max-volume ${v['max-volume']}: expected a size like 4G or 700M, at least 64K`);
  }
  if (v.help === true) return { ...base, command: 'help', configPath: null, warnings: [] };
  if (v.version === true) return { ...base, command: 'version', configPath: null, warnings: [] };

  const warnings: string[] = [];
  if (v['fetch-since-days'] !== undefined) {
    warnings.push('-d/--fetch-since-days has no effect: pypimirror tracks upstream serials instead');
  }
  if (v['follow-external-links'] === true || v['follow-external-index-pages'] === true) {
    warnings.push('-e/-x (external links) have no effect: PEP 470 removed external hosting from PyPI');
  }

  const z3c = [
    v['initial-fetch'] && 'sync',
    v['update-fetch'] && 'sync',
    v['indexes-only'] && 'reindex',
  ].filter((c): c is Command => typeof c === 'string');
  const [first, ...rest] = positionals;
  if (first !== undefined && WITH_OPERANDS.includes(first))
    return withOperands(first as Command, rest, base, warnings);
  if (base.full || v['max-volume'] !== '4G')
    throw new UsageError('--full and --max-volume go with the export command');
  if (first !== undefined && (COMMANDS as readonly string[]).includes(first)) {
    if (z3c.length > 0) throw new UsageError(`-I/-U/-i cannot be combined with the command "${first}"`);
    if (rest.length > 1) throw new UsageError(`too many arguments: ${rest.join(' ')}`);
    if (base.repair && first !== 'verify') throw new UsageError('--repair goes with the verify command');
    if (base.deep && first !== 'verify') throw new UsageError('--deep goes with the verify command');
    if (base.adopt && first !== 'init') throw new UsageError('--adopt goes with the init command');
    if (base.allowDeletions && first !== 'sync')
      throw new UsageError('--allow-deletions goes with the sync command (the daemon never releases a hold)');
    if (base.dryRun && first !== 'sync') throw new UsageError('--dry-run goes with the sync command');
    return { ...base, command: first as Command, configPath: rest[0] ?? null, warnings };
  }
  if (base.adopt) throw new UsageError('--adopt goes with the init command');
  if (base.deep) throw new UsageError('--deep goes with the verify command');
  if (z3c.length > 0) {
    if (new Set(z3c).size > 1)
      throw new UsageError('choose one of --update-fetch/--initial-fetch and --indexes-only');
    if (positionals.length > 1) throw new UsageError(`too many arguments: ${positionals.join(' ')}`);
    if ((base.allowDeletions || base.dryRun) && z3c[0] !== 'sync')
      throw new UsageError('--allow-deletions and --dry-run go with a sync (--update-fetch)');
    return { ...base, command: z3c[0] as Command, configPath: first ?? null, warnings };
  }
  if (first === undefined) throw new UsageError('no command given');
  throw new UsageError(
    `unknown command "${first}" (expected one of ${COMMANDS.join(', ')}, or CONFIG with --update-fetch)`,
  );
}

/** `export CONFIG OUT_DIR`, `import CONFIG BUNDLE_DIR...`, `keygen DIR`. */
function withOperands(
  command: Command,
  rest: readonly string[],
  base: Omit<CliArgs, 'command' | 'configPath' | 'warnings'>,
  warnings: readonly string[],
): CliArgs {
  if (base.repair || base.adopt || base.deep) {
    throw new UsageError(`--repair, --deep and --adopt do not go with ${command}`);
  }
  if ((base.full || base.maxVolume !== parseVolumeSize('4G')) && command !== 'export') {
    throw new UsageError('--full and --max-volume go with the export command');
  }
  if ((base.dryRun || base.allowDeletions) && command !== 'import') {
    throw new UsageError(`--dry-run and --allow-deletions do not go with ${command}`);
  }
  if (command === 'keygen') {
    if (rest.length !== 1) throw new UsageError('keygen takes one directory: pypimirror keygen DIR');
    return { ...base, command, configPath: null, operands: rest, warnings };
  }
  const [config, ...operands] = rest;
  if (config === undefined || operands.length === 0) {
    throw new UsageError(
      command === 'export'
        ? 'export takes CONFIG and OUT_DIR: pypimirror export CONFIG OUT_DIR [--full] [--max-volume 4G]'
        : command === 'migrate'
          ? 'migrate takes two configs: pypimirror migrate FROM_CONFIG TO_CONFIG'
          : 'import takes CONFIG and one or more BUNDLE_DIRs: pypimirror import CONFIG BUNDLE_DIR...',
    );
  }
  if ((command === 'export' || command === 'migrate') && operands.length > 1)
    throw new UsageError(`too many arguments: ${operands.join(' ')}`);
  return { ...base, command, configPath: config, operands, warnings };
}
