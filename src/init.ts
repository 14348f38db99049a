// The first five minutes (issue #13 part 6): where the config is when none is named, and `pypimirror init`
// for a config that does not exist yet, which writes a commented starter config: the mirror and the log
// under the user's home for an ordinary user, in /srv and /var/log as root, selecting requests and what it
// needs so that the first sync is small and `pip install requests` works from it. `init` on a config that
// exists keeps its own meaning (create or adopt the root, mirror/ownership.ts `initRoot`).
import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH, loadConfig } from './config/load.js';
import type { Env } from './util/env.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { inspectRoot } from './mirror/ownership.js';
import { ensureDir, FILE_MODE, isNotFound } from './util/fs.js';
import { openStorage } from './storage/open.js';

/** Who runs the command: root gets the system's paths, anyone else their home's. */
export interface Invoker {
  readonly isRoot: boolean;
  /** The user's home directory (os.homedir()). */
  readonly home: string;
  /** process.env, passed in: $PYPIMIRROR_CONFIG, $XDG_CONFIG_HOME, $XDG_STATE_HOME. */
  readonly env: Env;
}

/** Where root's starter config puts the mirror and the log file. */
const SYSTEM_MIRROR_ROOT = '/srv/pypimirror';
const SYSTEM_LOG_FILE = '/var/log/pypimirror/pypimirror.log';

/** The sample that documents every key, shipped with the program (package.json "files"). */
const SAMPLE_CONFIG = fileURLToPath(new URL('../../samples/pypimirror.cfg', import.meta.url));

/** `$XDG_<name>`, or `<home>/<fallback>` when unset or not absolute (the XDG Base Directory rule). */
function xdgDir(who: Invoker, name: string, fallback: string): string {
  const value = who.env[`XDG_${name}`] ?? '';
  return value.startsWith('/') ? value : join(who.home, fallback);
}

/** An ordinary user's own config file: `~/.config/pypimirror/pypimirror.cfg`. */
function userConfigPath(who: Invoker): string {
  return join(xdgDir(who, 'CONFIG_HOME', '.config'), 'pypimirror', 'pypimirror.cfg');
}

/**
 * The config file a command reads: CONFIG as given, else $PYPIMIRROR_CONFIG, else /etc/pypimirror.cfg as
 * root. An ordinary user reads their own file when it exists, else /etc/pypimirror.cfg when that exists
 * (a system mirror's), else their own, which `init` then writes.
 */
export function locateConfig(arg: string | null, who: Invoker, exists: (path: string) => boolean): string {
  if (arg !== null && arg !== '') return arg;
  const fromEnv = who.env[CONFIG_PATH_ENV] ?? '';
  if (fromEnv !== '') return fromEnv;
  if (who.isRoot) return DEFAULT_CONFIG_PATH;
  const own = userConfigPath(who);
  return exists(own) || !exists(DEFAULT_CONFIG_PATH) ? own : DEFAULT_CONFIG_PATH;
}

/** Where a starter config puts the mirror and the log: /srv and /var/log as root, the home otherwise. */
function starterPaths(who: Invoker): { readonly mirrorRoot: string; readonly logFile: string } {
  if (who.isRoot) return { mirrorRoot: SYSTEM_MIRROR_ROOT, logFile: SYSTEM_LOG_FILE };
  return {
    mirrorRoot: join(who.home, 'pypimirror'),
    logFile: join(xdgDir(who, 'STATE_HOME', '.local/state'), 'pypimirror', 'pypimirror.log'),
  };
}

/** The starter config's text: the keys a first mirror needs, each with a comment. Pure. */
function renderStarterConfig(o: {
  readonly mirrorRoot: string;
  readonly logFile: string;
  readonly samplePath: string;
  readonly now: Date;
}): string {
  return `# pypimirror config, written by \`pypimirror init\` on ${o.now.toISOString().slice(0, 10)}.
# Every key, with its default and what it means: ${o.samplePath}
# \`pypimirror check\` with this file validates it and prints the effective settings.

[mirror]
# Where the mirror is written: serve it with a web server (samples/nginx.conf), or give pip
# --index-url file://${o.mirrorRoot}/ directly.
mirror_file_path = ${o.mirrorRoot}

# The index mirrored from (PEP 503 HTML or PEP 691 JSON).
index_url = https://pypi.org/simple/

# The projects to mirror, one per line: names, globs (zope.*) and !globs that exclude; a name may
# carry a version specifier (requests>=2.30). Empty would mean every project of the index: all of
# PyPI is tens of terabytes. requests and what it needs to install:
package_matches =
    requests
    urllib3
    idna
    certifi
    charset-normalizer

# The files to mirror: globs on file names (empty = every file).
filename_matches = *.whl *.tar.gz

# Keep only what pip on these CPython versions and platforms would install (empty = all):
# python_versions = 3.11 3.12
# platforms = manylinux_x86_64 win_amd64
# Keep the N newest releases of each project (empty = all):
# keep_latest = 3

# Also log to this file, with timestamps.
log_filename = ${o.logFile}
`;
}

/** The lines `init` prints after writing a starter config: what it wrote, and what to do next. */
function describeNextSteps(o: {
  readonly configPath: string;
  readonly isDefaultPath: boolean;
  readonly mirrorRoot: string;
  readonly rootNote: string | null;
}): string {
  const arg = o.isDefaultPath ? '' : ` ${o.configPath}`;
  return [
    `wrote a starter config to ${o.configPath}: it mirrors requests and what it needs into ${o.mirrorRoot}`,
    ...(o.rootNote === null ? [] : [o.rootNote]),
    'next:',
    `  edit package_matches (and filename_matches) in ${o.configPath} to choose what to mirror`,
    `  pypimirror check${arg}     validates it and shows what would be mirrored`,
    `  pypimirror sync${arg}      syncs once (from cron), or \`pypimirror run${arg}\` keeps syncing`,
    `  pip install --index-url file://${o.mirrorRoot}/ requests`,
  ].join('\n');
}

/** The ConfigError for a config that is not there: say where, and that `init` writes one. */
export function missingConfigError(configPath: string, isDefaultPath: boolean, cause: unknown): ConfigError {
  const init = isDefaultPath ? 'pypimirror init' : `pypimirror init ${configPath}`;
  const expected =
    `the config file does not exist; run "${init}" to write a commented starter config there, ` +
    `or give CONFIG as an argument or in $${CONFIG_PATH_ENV}`;
  const issue: ConfigIssue = {
    file: configPath,
    line: null,
    section: null,
    key: null,
    value: null,
    expected,
  };
  return new ConfigError('CONFIG_NOT_FOUND', configPath, [issue], { cause });
}

/** Whether `path` (relative to `cwd`) is missing; a path that cannot be looked at is not (reading it says why). */
export async function isConfigMissing(path: string, cwd: string): Promise<boolean> {
  return access(resolve(cwd, path), constants.F_OK).then(
    () => false,
    (err: unknown) => isNotFound(err),
  );
}

/**
 * `pypimirror init` for a config that does not exist: writes the starter config (never over a file that
 * appeared meanwhile) and returns what to print. The mirror root is not created: the first sync does, so
 * that editing mirror_file_path first leaves no directory behind. A root that is there already and not
 * pypimirror's is pointed out. `--adopt` needs an existing config naming the directory to adopt.
 */
export async function writeStarterConfig(o: {
  readonly configPath: string;
  readonly isDefaultPath: boolean;
  readonly cwd: string;
  readonly who: Invoker;
  readonly adopt: boolean;
  readonly now?: Date;
}): Promise<string> {
  const path = o.configPath;
  const fail = (expected: string, cause?: unknown): ConfigError => {
    const issue: ConfigIssue = { file: path, line: null, section: null, key: null, value: null, expected };
    return new ConfigError('CONFIG_NOT_WRITTEN', path, [issue], cause === undefined ? {} : { cause });
  };
  if (o.adopt) {
    throw fail(
      `the config file does not exist, and --adopt needs one naming the directory to adopt; run "pypimirror init ` +
        `${path}" first, set mirror_file_path to that directory, then "pypimirror init ${path} --adopt"`,
    );
  }
  const paths = starterPaths(o.who);
  const text = renderStarterConfig({ ...paths, samplePath: SAMPLE_CONFIG, now: o.now ?? new Date() });
  const absolute = resolve(o.cwd, path);
  try {
    await ensureDir(dirname(absolute));
    const handle = await open(absolute, 'wx', FILE_MODE);
    try {
      await handle.chmod(FILE_MODE);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : String(err);
    const hint = o.who.isRoot
      ? ''
      : ` (as an ordinary user, run "pypimirror init" to write ${userConfigPath(o.who)})`;
    throw fail(`cannot write a starter config here: ${why}${hint}`, err);
  }
  // Read back as every command will read it: a starter that does not validate is a bug, said at once.
  const cfg = await loadConfig(absolute, { cwd: o.cwd });
  const verdict = await inspectRoot(await openStorage(cfg), cfg.lockFile);
  const rootNote =
    verdict.kind === 'foreign' || verdict.kind === 'refused'
      ? `note: ${paths.mirrorRoot} exists and is not pypimirror's: set mirror_file_path to a new directory, ` +
        `or mirror into it with "pypimirror init${o.isDefaultPath ? '' : ` ${path}`} --adopt"`
      : null;
  return describeNextSteps({
    configPath: path,
    isDefaultPath: o.isDefaultPath,
    mirrorRoot: paths.mirrorRoot,
    rootNote,
  });
}
