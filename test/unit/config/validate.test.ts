import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/errors.js';
import { listDocumentedKeys } from '../../../src/config/defaults.js';
import { describeConfig } from '../../../src/config/describe.js';
import { loadConfig, resolveConfigPath } from '../../../src/config/load.js';
import { parseIni } from '../../../src/config/parse-ini.js';
import type { Config } from '../../../src/config/types.js';
import { validateConfig } from '../../../src/config/validate.js';
import { OPEN_SELECTION } from '../../../src/plan/filters.js';
import { repoRoot } from '../../helpers/repo-root.js';

/** Compiled tests run from dist/test/...: fixtures live in the source tree, beside package.json. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'no package.json above the test file');
    dir = parent;
  }
  return dir;
}

const INVALID_DIR = join(findRepoRoot(), 'test', 'fixtures', 'config', 'invalid');

function readConfig(text: string, file = '/etc/pypimirror/mirror.cfg'): Config {
  const { raw, issues } = parseIni(text, file);
  return validateConfig(raw, { cwd: '/work', parseIssues: issues });
}

/** The Config as plain data (URLs as strings), for deepEqual. */
function flattenConfig(cfg: Config): Record<string, unknown> {
  return { ...cfg, baseUrl: cfg.baseUrl?.href ?? null, indexUrl: cfg.indexUrl.href };
}

/** z3c.pypimirror's sample config, verbatim. */
const Z3C_SAMPLE = readFileSync(join(repoRoot, 'test/fixtures/config/z3c-sample.cfg'), 'utf8');

const Z3C_EXPECTED = {
  file: '/etc/pypimirror/mirror.cfg',
  mirrorRoot: '/tmp/mirror',
  packageMatches: ['zope.*', 'plone.*', 'Products.*', 'collective.*'],
  filenameMatches: ['*.zip', '*.tgz', '*.egg', '*.tar.gz', '*.tar.bz2'],
  requirements: [],
  requirementRoots: [],
  requirementFiles: [],
  ...OPEN_SELECTION,
  cleanup: true,
  createIndexes: true,
  findLinksDir: null,
  lockFile: '/tmp/mirror/pypi-poll-access.lock',
  logFile: '/tmp/pypimirror.log',
  verbose: true,
  baseUrl: 'http://your-host.com/index',
  indexUrl: 'https://pypi.org/simple/',
  syncIntervalMs: 600_000,
  workers: 8,
  timeoutMs: 30_000,
  metricsFile: null,
  maxDeletionsPercent: 10,
  maxDeletionsWindowMs: 604_800_000,
  allowReplacedFiles: false,
  maxFileSize: 10 * 1024 ** 3,
  requestDeadlineMs: 900_000,
  caFile: null,
  upstreams: [],
  minReleaseAgeMs: null,
  quarantineExempt: [],
  excludeNewer: null,
  bundlePrivateKey: null,
  bundlePublicKey: null,
  s3Storage: null,
  warnings: [
    '/etc/pypimirror/mirror.cfg:20: [DEFAULT] external_links = "False": has no effect since PEP 470 (indexes no longer list files hosted elsewhere); ignored',
    '/etc/pypimirror/mirror.cfg:21: [DEFAULT] follow_external_index_pages = "False": has no effect since PEP 470 (indexes no longer link to external pages); ignored',
  ],
};

describe('validateConfig: the z3c.pypimirror sample', () => {
  it('reads the sample unchanged', () => {
    assert.deepEqual(flattenConfig(readConfig(Z3C_SAMPLE)), Z3C_EXPECTED);
  });

  it('reads the sample plus an index_url, which gets a trailing /', () => {
    const cfg = readConfig(`${Z3C_SAMPLE}index_url = https://mirror.example.org/pypi/simple\n`);
    assert.deepEqual(flattenConfig(cfg), {
      ...Z3C_EXPECTED,
      indexUrl: 'https://mirror.example.org/pypi/simple/',
    });
  });
});

describe('validateConfig: values', () => {
  it('takes the documented default for every missing key', () => {
    assert.deepEqual(flattenConfig(readConfig('[mirror]\nmirror_file_path = /srv/pypi\n')), {
      file: '/etc/pypimirror/mirror.cfg',
      mirrorRoot: '/srv/pypi',
      packageMatches: [],
      filenameMatches: [],
      requirements: [],
      requirementRoots: [],
      requirementFiles: [],
      ...OPEN_SELECTION,
      cleanup: true,
      createIndexes: true,
      findLinksDir: null,
      lockFile: '/srv/pypi/.pypimirror.lock',
      logFile: null,
      verbose: false,
      baseUrl: null,
      indexUrl: 'https://pypi.org/simple/',
      syncIntervalMs: 600_000,
      workers: 8,
      timeoutMs: 30_000,
      metricsFile: null,
      maxDeletionsPercent: 10,
      maxDeletionsWindowMs: 604_800_000,
      allowReplacedFiles: false,
      maxFileSize: 10 * 1024 ** 3,
      requestDeadlineMs: 900_000,
      caFile: null,
      upstreams: [],
      minReleaseAgeMs: null,
      quarantineExempt: [],
      excludeNewer: null,
      bundlePrivateKey: null,
      bundlePublicKey: null,
      s3Storage: null,
      warnings: [],
    });
  });

  it('lets a [mirror] value win over a [DEFAULT] one', () => {
    const cfg = readConfig(
      '[DEFAULT]\nmirror_file_path = /a\nworkers = 2\n[mirror]\nworkers = 3\ntimeout = 5s\n',
    );
    assert.deepEqual([cfg.mirrorRoot, cfg.workers, cfg.timeoutMs], ['/a', 3, 5_000]);
  });

  it('resolves relative paths: against the config directory, the lock file inside the mirror', () => {
    const text = '[mirror]\nmirror_file_path = data/pypi\nlog_filename = log/m.log\nmetrics_file = m.prom\n';
    const cfg = readConfig(text, 'conf/m.cfg');
    assert.equal(cfg.file, '/work/conf/m.cfg');
    assert.equal(cfg.mirrorRoot, '/work/conf/data/pypi');
    assert.equal(cfg.lockFile, '/work/conf/data/pypi/.pypimirror.lock');
    assert.equal(cfg.logFile, '/work/conf/log/m.log');
    assert.equal(cfg.metricsFile, '/work/conf/m.prom');
    assert.equal(
      readConfig('[mirror]\nmirror_file_path = /m\nlock_file_name = /run/m.lock\n').lockFile,
      '/run/m.lock',
    );
  });

  it('reads booleans the way ConfigParser.getboolean does, in any case', () => {
    const words = {
      true: true,
      YES: true,
      On: true,
      '1': true,
      False: false,
      no: false,
      OFF: false,
      '0': false,
    };
    for (const [word, expected] of Object.entries(words)) {
      assert.equal(
        readConfig(`[mirror]\nmirror_file_path = /m\nverbose = ${word}\n`).verbose,
        expected,
        word,
      );
    }
  });

  it('reads durations from 50ms to 24d and workers from 1 to 64', () => {
    const cfg = readConfig(
      '[mirror]\nmirror_file_path = /m\nsync_interval = 50ms\ntimeout = 24d\nworkers = 64\n',
    );
    assert.deepEqual([cfg.syncIntervalMs, cfg.timeoutMs, cfg.workers], [50, 2_073_600_000, 64]);
    assert.equal(readConfig('[mirror]\nmirror_file_path = /m\nsync_interval = 90\n').syncIntervalMs, 90_000);
  });

  it("accepts microrepo's processes for workers", () => {
    assert.equal(readConfig('[mirror]\nmirror_file_path = /m\nprocesses = 3\n').workers, 3);
  });

  it('splits globs on any whitespace and keeps ! excludes as written', () => {
    const cfg = readConfig(
      '[mirror]\nmirror_file_path = /m\npackage_matches = zope.* !zope.app.*\n  Foo_[ab]?\n',
    );
    assert.deepEqual(cfg.packageMatches, ['zope.*', '!zope.app.*', 'Foo_[ab]?']);
  });

  it('takes up to 10 000 globs per key, and refuses more naming the cap', () => {
    const globs = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');
    const ok = readConfig(`[mirror]\nmirror_file_path = /m\npackage_matches = ${globs(10_000, 'p')}\n`);
    assert.equal(ok.packageMatches.length, 10_000);
    const text =
      `[mirror]\nmirror_file_path = /m\npackage_matches = ${globs(200_000, 'p')}\n` +
      `filename_matches = ${globs(10_001, '*.x')}\n`;
    assert.throws(
      () => readConfig(text, 'm.cfg'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const lines = err.message.split('\n');
        assert.equal(lines.length, 3, err.message.slice(0, 2000));
        assert.match(
          lines[1] ?? '',
          /^ {2}m\.cfg:3: \[mirror\] package_matches = "p0 p1 p2 .*"… \(\d+ characters\): expected at most 10000 globs \(the cap\); this list has 200000$/,
        );
        assert.match(
          lines[2] ?? '',
          /^ {2}m\.cfg:4: \[mirror\] filename_matches = .*: expected at most 10000 globs \(the cap\); this list has 10001$/,
        );
        return true;
      },
    );
  });

  it('refuses credentials, a query or a fragment in base_url, showing neither password nor token', () => {
    for (const [url, expected] of [
      ['https://alice:s3cret@m.example.org/', 'https://***@m.example.org/'],
      ['https://alice@m.example.org/', 'https://***@m.example.org/'],
      ['https://m.example.org/simple/?token=s3cret', 'https://m.example.org/simple/?token=***'],
      ['https://m.example.org/simple/#s3cret', 'https://m.example.org/simple/#s3cret'],
    ] as const) {
      assert.throws(
        () => readConfig(`[mirror]\nmirror_file_path = /m\nbase_url = ${url}\n`, 'm.cfg'),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.ok(
            err.message.includes(`m.cfg:3: [mirror] base_url = "${expected}": expected`),
            err.message,
          );
          if (!url.includes('#')) assert.ok(!err.message.includes('s3cret'), err.message);
          return true;
        },
      );
    }
    assert.equal(
      readConfig('[mirror]\nmirror_file_path = /m\nbase_url = https://m.example.org/simple/\n').baseUrl?.href,
      'https://m.example.org/simple/',
    );
  });

  it('treats an empty optional value as unset', () => {
    const cfg = readConfig('[mirror]\nmirror_file_path = /m\nlog_filename =\nbase_url =\nmetrics_file =\n');
    assert.deepEqual([cfg.logFile, cfg.baseUrl, cfg.metricsFile], [null, null, null]);
  });

  it('keeps index_url credentials in the Config but out of every message', () => {
    const cfg = readConfig(
      '[mirror]\nmirror_file_path = /m\nindex_url = http://bob:hunter2@10.0.0.1:8080/simple\n',
    );
    assert.equal(cfg.indexUrl.href, 'http://bob:hunter2@10.0.0.1:8080/simple/');
    assert.deepEqual(cfg.warnings, [
      '/etc/pypimirror/mirror.cfg:3: [mirror] index_url = "http://***@10.0.0.1:8080/simple/": sends its password in clear text over http; use https',
    ]);
  });

  it('returns a frozen Config', () => {
    const cfg = readConfig(Z3C_SAMPLE);
    assert.ok(Object.isFrozen(cfg));
    assert.ok(Object.isFrozen(cfg.packageMatches) && Object.isFrozen(cfg.filenameMatches));
    assert.ok(Object.isFrozen(cfg.warnings));
  });
});

describe('validateConfig: warnings', () => {
  it('warns about unknown keys with their line, suggesting a near name', () => {
    const text = '[mirror]\nmirror_file_path = /m\nworker = 4\nwheel_tags = cp312\n';
    assert.deepEqual(readConfig(text, 'm.cfg').warnings, [
      'm.cfg:3: [mirror]: unknown key "worker" (did you mean workers?), ignored',
      'm.cfg:4: [mirror]: unknown key "wheel_tags", ignored',
    ]);
  });

  it('lists at most 100 warnings, then how many more', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `unknown_key_${i} = v`).join('\n');
    const warnings = readConfig(`[mirror]\nmirror_file_path = /m\n${keys}\n`, 'm.cfg').warnings;
    assert.equal(warnings.length, 101);
    assert.equal(warnings[0], 'm.cfg:3: [mirror]: unknown key "unknown_key_0", ignored');
    assert.equal(warnings[100], '… and 4900 more warnings');
  });

  it('warns about unknown sections, suggesting [mirror] or [DEFAULT] when only the case differs', () => {
    const text = '[DEFAULT]\nmirror_file_path = /m\n[Mirror]\nworkers = 2\n[logging]\nlevel = debug\n';
    const cfg = readConfig(text, 'm.cfg');
    assert.equal(cfg.workers, 8);
    assert.deepEqual(cfg.warnings, [
      'm.cfg:3: [Mirror]: unknown section, ignored; did you mean [mirror]?',
      'm.cfg:5: [logging]: unknown section, ignored; pypimirror reads [mirror], [DEFAULT] and [upstream:NAME]',
    ]);
  });

  it('warns once about each obsolete z3c key', () => {
    const text = '[mirror]\nmirror_file_path = /m\nfetch_since_days = 3\nexternal_links = yes\n';
    assert.deepEqual(readConfig(text, 'm.cfg').warnings, [
      'm.cfg:3: [mirror] fetch_since_days = "3": has no effect: each run fetches exactly what changed upstream since the last one (serials); ignored',
      'm.cfg:4: [mirror] external_links = "yes": has no effect since PEP 470 (indexes no longer list files hosted elsewhere); ignored',
    ]);
  });
});

describe('validateConfig: malformed configs (test/fixtures/config/invalid)', () => {
  const names = readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith('.cfg'))
    .map((f) => f.slice(0, -'.cfg'.length))
    .sort();

  it('has at least 15 fixtures, each with its expected message', () => {
    assert.ok(names.length >= 15, `only ${names.length} fixtures`);
    const expected = readdirSync(INVALID_DIR).filter((f) => f.endsWith('.expected.txt'));
    assert.deepEqual(expected.map((f) => f.slice(0, -'.expected.txt'.length)).sort(), names);
  });

  for (const name of names) {
    it(`${name}.cfg`, async () => {
      const expected = readFileSync(join(INVALID_DIR, `${name}.expected.txt`), 'utf8').replace(/\n$/, '');
      await assert.rejects(loadConfig(`${name}.cfg`, { cwd: INVALID_DIR }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.message, expected);
        assert.ok(!err.message.includes('s3cret'), 'the message shows a password');
        return true;
      });
    });
  }
});

describe('loadConfig and resolveConfigPath', () => {
  it('reports a missing file as CONFIG_NOT_FOUND', async () => {
    await assert.rejects(loadConfig('nope.cfg', { cwd: INVALID_DIR }), {
      code: 'CONFIG_NOT_FOUND',
      message:
        'nope.cfg: 1 problem\n  nope.cfg: cannot read the config file: it does not exist; ' +
        'give the config file as an argument or in $PYPIMIRROR_CONFIG (default /etc/pypimirror.cfg)',
    });
  });

  it('takes the argument, else $PYPIMIRROR_CONFIG, else /etc/pypimirror.cfg', () => {
    assert.equal(resolveConfigPath('a.cfg', { PYPIMIRROR_CONFIG: 'b.cfg' }), 'a.cfg');
    assert.equal(resolveConfigPath(undefined, { PYPIMIRROR_CONFIG: 'b.cfg' }), 'b.cfg');
    assert.equal(resolveConfigPath(undefined, { PYPIMIRROR_CONFIG: '' }), '/etc/pypimirror.cfg');
    assert.equal(resolveConfigPath(undefined, {}), '/etc/pypimirror.cfg');
  });

  it("an empty s3_region takes AWS_REGION (else AWS_DEFAULT_REGION) of the command's environment", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pypimirror-region-'));
    try {
      const write = async (name: string, region: string): Promise<string> => {
        const text = `[mirror]\nstorage = s3://pypi-mirror/simple\ns3_region = ${region}\npackage_matches = demo\n`;
        await writeFile(join(dir, name), text);
        return name;
      };
      const regionOf = async (name: string, env: Record<string, string>): Promise<string | null> =>
        (await loadConfig(name, { cwd: dir, env })).s3Storage?.region ?? null;
      const empty = await write('empty.cfg', '');
      assert.equal(await regionOf(empty, { AWS_REGION: 'eu-west-3' }), 'eu-west-3');
      assert.equal(await regionOf(empty, { AWS_DEFAULT_REGION: 'ca-central-1' }), 'ca-central-1');
      assert.equal(await regionOf(empty, {}), null); // storage/s3-client.ts: us-east-1
      assert.equal(await regionOf(await write('set.cfg', 'default'), { AWS_REGION: 'eu-west-3' }), 'default');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('describeConfig', () => {
  it('prints every key under [mirror], lists as continuation lines, unset keys empty', () => {
    assert.equal(
      describeConfig(readConfig(Z3C_SAMPLE)),
      [
        '[mirror]',
        'mirror_file_path = /tmp/mirror',
        'storage =',
        's3_endpoint =',
        's3_region =',
        'package_matches =\n    zope.*\n    plone.*\n    Products.*\n    collective.*',
        'requirements =',
        'filename_matches =\n    *.zip\n    *.tgz\n    *.egg\n    *.tar.gz\n    *.tar.bz2',
        'python_versions =\nplatforms =\npackage_types =\nextensions =\nkeep_latest =\nprereleases = true',
        'cleanup = true\ncreate_indexes = true\nfind_links_dir =',
        'lock_file_name = /tmp/mirror/pypi-poll-access.lock',
        'log_filename = /tmp/pypimirror.log',
        'verbose = true',
        'base_url = http://your-host.com/index',
        'index_url = https://pypi.org/simple/',
        'sync_interval = 10m\nworkers = 8\ntimeout = 30s\nmetrics_file =',
        'max_deletions = 10\nmax_deletions_window = 7d\nallow_replaced_files = false',
        'max_file_size = 10737418240\nrequest_deadline = 15m\nca_file =\nmin_release_age =\nquarantine_exempt =\nexclude_newer =\nbundle_private_key =\nbundle_public_key =',
      ].join('\n'),
    );
  });

  it('reads back to the same Config (with % and a # glob), with the password hidden', () => {
    const text =
      '[mirror]\nmirror_file_path = /srv/100%%\nfilename_matches = #weird *.whl\n' +
      'index_url = https://u:pw@h/simple\nsync_interval = 1h30m\n';
    const cfg = readConfig(text);
    const shown = describeConfig(cfg);
    assert.ok(!shown.includes('pw@'));
    const again = readConfig(shown);
    assert.deepEqual(flattenConfig(again), { ...flattenConfig(cfg), indexUrl: 'https://***@h/simple/' });
  });

  it('documents every key, alias and obsolete key (for the samples test)', () => {
    assert.deepEqual(listDocumentedKeys().slice(-4), [
      'processes',
      'external_links',
      'follow_external_index_pages',
      'fetch_since_days',
    ]);
  });
});

describe('validateConfig: lock_file_name never collides with a project, a root page, the root or the state', () => {
  const withLock = (lock: string): string =>
    `[mirror]\nmirror_file_path = /srv/mirror\nlock_file_name = ${lock}\n`;
  it('refuses a lock any project (or a root page, the state, the root) could collide with', (t) => {
    const refused = [
      'lock',
      'pypi',
      'locks/run.lock',
      'index.html',
      'index.v1_json',
      '.pypimirror',
      '.pypimirror/state.json',
      '.pypimirror/status.json',
      '.pypimirror/root.json',
      '.pypimirror/projects',
      '.pypimirror/projects/x.json',
      '.',
      '..',
      '/srv',
    ];
    for (const lock of refused) {
      assert.throws(
        () => readConfig(withLock(lock)),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            new RegExp(
              `mirror\\.cfg:3: \\[mirror\\] lock_file_name = "${lock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}": .*` +
                "expected a name no project can have \\(with a '\\.', like \\.pypimirror\\.lock\\) or a path outside the mirror",
            ),
          );
          return true;
        },
        lock,
      );
    }
    t.diagnostic(`cases: ${refused.length}`);
  });
  it('accepts the default, hidden names, z3c names with a dot, and paths outside the mirror', () => {
    for (const lock of [
      '.pypimirror.lock',
      '.locks/run',
      'pypi-poll-access.lock',
      '.pypimirror/run.lock',
      '/run/pypimirror.lock',
      '../mirror.lock',
    ]) {
      assert.doesNotThrow(() => readConfig(withLock(lock)), lock);
    }
  });
});

describe('validateConfig: find_links_dir', () => {
  const withFlat = (dir: string): string =>
    `[mirror]\nmirror_file_path = /srv/mirror\nfind_links_dir = ${dir}\n`;
  it('reads a path, relative to the config file; unset or empty is none', () => {
    assert.equal(readConfig(withFlat('/srv/find-links')).findLinksDir, '/srv/find-links');
    assert.equal(readConfig(withFlat('flat')).findLinksDir, '/etc/pypimirror/flat');
    assert.equal(readConfig(withFlat('')).findLinksDir, null);
    assert.equal(readConfig('[mirror]\nmirror_file_path = /srv/mirror\n').findLinksDir, null);
  });
  it('refuses a directory inside the mirror, one holding it, and a system directory, saying why', () => {
    const cases: [string, string][] = [
      ['/srv/mirror/flat', 'is inside mirror_file_path \\(/srv/mirror\\): the web server would serve it'],
      ['/srv/mirror', 'is inside mirror_file_path'],
      ['/srv/mirror/.pypimirror/flat', 'is inside mirror_file_path'],
      ['/srv', 'holds mirror_file_path \\(/srv/mirror\\)'],
      ['/', 'holds mirror_file_path'],
      ['/usr/local', 'is a system directory'],
    ];
    for (const [dir, why] of cases) {
      assert.throws(
        () => readConfig(withFlat(dir)),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          const shown = dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
          assert.match(
            err.message,
            new RegExp(
              `mirror\\.cfg:3: \\[mirror\\] find_links_dir = "${shown}": ${why}.*` +
                'expected a directory of its own outside the mirror, like /srv/pypimirror-find-links',
            ),
          );
          return true;
        },
        dir,
      );
    }
  });
});
