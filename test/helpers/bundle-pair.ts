// An air-gapped pair for the bundle tests: an outside mirror synced from the fake upstream (sync-harness.ts),
// an Ed25519 key pair, an inside mirror in another directory, and the export/import commands run in-process.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runExportCommand, runImportCommand } from '../../src/bundle/commands.js';
import { generateKeys } from '../../src/bundle/signing.js';
import type { Config } from '../../src/config/types.js';
import { claimRoot } from '../../src/mirror/ownership.js';
import { type CaptureLogger, createCaptureLogger } from './capture-logger.js';
import { makeConfig } from './config.js';
import { type Harness, seedCatalogue, startHarness } from './sync-harness.js';
import { listTree, makeTempDir } from './tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

export interface BundlePair {
  readonly outside: Harness;
  readonly keys: { privateKey: string; publicKey: string };
  /** A fresh inside mirror (its own directory) for each call. */
  newInside(over?: Partial<Config>): Promise<Inside>;
  /** sync the outside (with `over`), then export into a new directory; returns the directory and exit code. */
  syncAndExport(
    over?: Partial<Config>,
    opts?: { maxVolume?: number; isFull?: boolean },
  ): Promise<{ dir: string; code: number }>;
  exportTo(dir: string, opts?: { maxVolume?: number; isFull?: boolean }): Promise<number>;
}

export interface Inside {
  readonly cfg: Config;
  readonly log: CaptureLogger;
  /** `import` with these bundle directories; returns the exit code and what it printed. */
  import(
    dirs: readonly string[],
    opts?: { dryRun?: boolean; allowDeletions?: boolean },
  ): Promise<{ code: number; printed: string[] }>;
}

export async function startBundlePair(t: TestContext, selection: Partial<Config> = {}): Promise<BundlePair> {
  const outside = await startHarness(t);
  seedCatalogue(outside.fake);
  const keys = await generateKeys(await makeTempDir(t, 'pypimirror-keys-'));
  const outsideCfg = (over: Partial<Config> = {}): Config =>
    outside.config({ ...selection, bundlePrivateKey: keys.privateKey, ...over });
  const exportTo = async (
    dir: string,
    opts: { maxVolume?: number; isFull?: boolean } = {},
  ): Promise<number> =>
    runExportCommand(outsideCfg(), outside.log, {
      operands: [dir],
      isFull: opts.isFull === true,
      maxVolume: opts.maxVolume ?? 4 * 1024 ** 3,
      dryRun: false,
      allowDeletions: false,
      signal: new AbortController().signal,
      print: () => {},
    });
  return {
    outside,
    keys,
    exportTo,
    async syncAndExport(over = {}, opts = {}) {
      const report = await outside.sync({ ...selection, ...over });
      if (report.failures.length > 0)
        throw new Error(`outside sync failed: ${JSON.stringify(report.failures)}`);
      const dir = await makeTempDir(t, 'pypimirror-bundle-');
      return { dir, code: await exportTo(dir, opts) };
    },
    async newInside(over = {}) {
      const root = join(await makeTempDir(t, 'pypimirror-inside-'), 'mirror');
      const cfg = makeConfig({
        mirrorRoot: root,
        indexUrl: 'https://unused.invalid/simple/',
        bundlePublicKey: keys.publicKey,
        ...over,
      });
      await claimRoot(cfg, createLocalStorage(cfg.mirrorRoot));
      const log = createCaptureLogger();
      return {
        cfg,
        log,
        async import(dirs, opts = {}) {
          const printed: string[] = [];
          const code = await runImportCommand(cfg, log, {
            operands: dirs,
            isFull: false,
            maxVolume: 0,
            dryRun: opts.dryRun === true,
            allowDeletions: opts.allowDeletions === true,
            signal: new AbortController().signal,
            print: (line) => printed.push(line),
          });
          return { code, printed };
        },
      };
    },
  };
}

/** Every file of the tree (pages included, `.pypimirror/` and the lock left out) → its sha256. */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of await listTree(root)) {
    if (path.startsWith('.pypimirror')) continue;
    out[path] = createHash('sha256')
      .update(await readFile(join(root, path)))
      .digest('hex');
  }
  return out;
}
