// A valid Config for in-process tests, without going through a file.
import type { Config } from '../../src/config/types.js';
import { OPEN_SELECTION } from '../../src/plan/filters.js';

export function makeConfig(
  over: Partial<Omit<Config, 'indexUrl'>> & { mirrorRoot: string; indexUrl: URL | string },
): Config {
  const { indexUrl, ...rest } = over;
  return Object.freeze({
    file: '/test/pypimirror.cfg',
    packageMatches: [],
    filenameMatches: [],
    requirements: [],
    requirementRoots: [],
    requirementFiles: [],
    ...OPEN_SELECTION,
    cleanup: true,
    createIndexes: true,
    findLinksDir: null,
    lockFile: `${over.mirrorRoot}/.pypimirror.lock`,
    logFile: null,
    verbose: false,
    baseUrl: null,
    syncIntervalMs: 600_000,
    workers: 4,
    timeoutMs: 5_000,
    metricsFile: null,
    maxDeletionsPercent: 10,
    maxDeletionsWindowMs: 7 * 86_400_000,
    allowReplacedFiles: false,
    maxFileSize: 10 * 1024 ** 3,
    requestDeadlineMs: 15 * 60_000,
    caFile: null,
    upstreams: [],
    minReleaseAgeMs: null,
    quarantineExempt: [],
    excludeNewer: null,
    bundlePrivateKey: null,
    bundlePublicKey: null,
    s3Storage: null,
    warnings: [],
    ...rest,
    indexUrl: typeof indexUrl === 'string' ? new URL(indexUrl) : indexUrl,
  });
}
