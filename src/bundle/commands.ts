// The air-gapped pair's commands (`export`, `import`, `keygen`) and their exit codes, wired for commands.ts
// and app.ts.
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { takeRunLock } from '../mirror/run-lock.js';
import { exportBundle } from './export.js';
import { importBundles } from './import.js';
import { BundleError } from '../errors.js';
import { generateKeys } from './signing.js';
import { BUNDLE_EXIT } from '../exit-codes.js';

export { BUNDLE_EXIT };

export interface BundleCommandOptions {
  readonly operands: readonly string[];
  readonly isFull: boolean;
  readonly maxVolume: number;
  readonly dryRun: boolean;
  readonly allowDeletions: boolean;
  readonly signal: AbortSignal;
  readonly print: (line: string) => void;
}

/** `export CONFIG OUT_DIR [--full] [--max-volume SIZE]`: 0 written, 3 nothing to export. */
export async function runExportCommand(
  cfg: Config,
  log: Logger,
  opts: BundleCommandOptions,
): Promise<number> {
  const outDir = opts.operands[0] as string;
  try {
    const { manifest } = await exportBundle(cfg, log, {
      outDir,
      isFull: opts.isFull,
      maxVolume: opts.maxVolume,
    });
    opts.print(`${manifest.id}`);
    return 0;
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    if (err.code === 'BUNDLE_NOTHING') {
      log.info(err.message);
      return BUNDLE_EXIT.NOTHING;
    }
    log.error(err.message);
    return err.code === 'BUNDLE_KEY' ? 2 : 1;
  }
}

/** `import CONFIG BUNDLE_DIR... [--dry-run] [--allow-deletions]`: 0, 1 deletions held, 4 gap, 65 refused. */
export async function runImportCommand(
  cfg: Config,
  log: Logger,
  opts: BundleCommandOptions,
): Promise<number> {
  const run = async (): Promise<number> => {
    const outcome = await importBundles(cfg, log, {
      dirs: opts.operands,
      dryRun: opts.dryRun,
      allowDeletions: opts.allowDeletions,
      print: opts.print,
      signal: opts.signal,
    });
    if (outcome.held !== null) {
      log.warn(outcome.held);
      return 1;
    }
    if (outcome.gap !== null) {
      log.warn(outcome.gap);
      return BUNDLE_EXIT.GAP;
    }
    log.info('import finished', {
      applied: outcome.applied.length,
      alreadyImported: outcome.alreadyImported.length,
    });
    return 0;
  };
  try {
    if (opts.dryRun) return await run();
    const lock = await takeRunLock(cfg, { log, onLost: () => {} });
    try {
      return await run();
    } finally {
      await lock.release();
    }
  } catch (err) {
    if (!(err instanceof BundleError)) throw err;
    log.error(err.message);
    return err.code === 'BUNDLE_KEY' ? 2 : BUNDLE_EXIT.REFUSED;
  }
}

/** `keygen DIR`: a new Ed25519 pair; no config needed. */
export async function runKeygenCommand(dir: string, print: (line: string) => void): Promise<number> {
  const { privateKey, publicKey } = await generateKeys(dir);
  print(`private key (bundle_private_key, outside only): ${privateKey}`);
  print(`public key (bundle_public_key, inside): ${publicKey}`);
  return 0;
}
