// Real nginx and Apache httpd serving a mirror tree, configured from samples/nginx.conf and
// samples/apache.conf, so the end-to-end tests check the configuration we ship, not a copy of it.
//
// Each server gets a fresh temp directory holding its whole configuration, pid file, logs and temp paths;
// it listens only on 127.0.0.1, on a port found by binding port 0 (retried if another process takes it
// first), runs in the foreground as our child, and stop() ends it and waits for it.
//
// Users and permissions: as root, the servers' workers run as an unprivileged user (www-data, else
// apache/http/nginx/nobody) as in production; Apache refuses to serve as root anyway. So when we are root
// the helper makes the served tree readable to others: directories gain g+rx,o+rx, files gain g+r,o+r, and
// ancestors of the root inside os.tmpdir() gain o+x (mkdtemp makes 0700 directories). An ancestor outside
// os.tmpdir() that others cannot enter is an error, not chmodded. Files written into the tree after start
// must be world-readable (0644) to be served, as with a real web server running as another user.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, sep } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { repoRoot } from './repo-root.js';

/** Where the index is mounted: the tree's root at `/`, or the documented `/simple/` alias variant. */
export type MountPrefix = '/' | '/simple/';

export interface StartServerOptions {
  /** The mirror root to serve (its index.html, project directories, .pypimirror/ ...). */
  readonly root: string;
  /** Default `/`. `/simple/` applies the variant the sample file documents. */
  readonly prefix?: MountPrefix;
}

export interface WebServer {
  readonly kind: 'nginx' | 'apache';
  /** The index URL for pip: `http://127.0.0.1:<port>/` or `http://127.0.0.1:<port>/simple/`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  /** The server's main process (nginx's master, Apache's parent); its workers are its children. */
  readonly pid: number;
  /** The server's error log so far (for assertion messages); '' once stopped. */
  readErrorLog(): Promise<string>;
  /** Stops the server and waits for it to exit (bounded), then removes its temp directory. Idempotent. */
  stop(): Promise<void>;
}

/** The placeholder for the mirror root in the sample files. */
export const SAMPLE_ROOT = '/srv/pypimirror';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const KILL_TIMEOUT_MS = 2_000;
const PORT_ATTEMPTS = 5;
const OUTPUT_LIMIT = 16 * 1024;
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const APACHE_MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules'];
const TOOL_ALIASES: Readonly<Record<string, readonly string[]>> = { apache2: ['apache2', 'httpd'] };

/** Absolute path of an executable on PATH or in the sbin directories (absent from a non-root PATH). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN_DIRS];
  for (const candidate of TOOL_ALIASES[name] ?? [name]) {
    for (const dir of dirs) {
      const path = join(dir, candidate);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Skips the test when `name` is not installed, or fails it when the environment variable CI is set
 * (CI must run every test). Returns whether the tool is there: `if (!requireTool(t, 'nginx')) return;`.
 */
export function requireTool(t: TestContext, name: string): boolean {
  if (findExecutable(name) !== undefined) return true;
  skipOrFail(t, `${name} is not installed (apt-get install nginx apache2)`);
  return false;
}

/** The CI-fail / local-skip rule shared by the tool checks. */
export function skipOrFail(t: TestContext, message: string): void {
  if (process.env['CI'] !== undefined && process.env['CI'] !== '') {
    throw new Error(`${message}; CI is set, so this is a failure, not a skip`);
  }
  t.skip(message);
}

export async function startNginx(options: StartServerOptions): Promise<WebServer> {
  const nginx = mustFind('nginx');
  const sample = await readFile(join(repoRoot, 'samples', 'nginx.conf'), 'utf8');
  return startServer('nginx', options, async (dir, port, user) => {
    const conf = join(dir, 'nginx.conf');
    await writeFile(join(dir, 'site.conf'), renderNginxSite(sample, { ...options, port }));
    await writeFile(conf, renderNginxMain(dir, user));
    return {
      command: nginx,
      args: ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'],
    };
  });
}

export async function startApache(options: StartServerOptions): Promise<WebServer> {
  const apache = mustFind('apache2');
  const sample = await readFile(join(repoRoot, 'samples', 'apache.conf'), 'utf8');
  const modules = apacheModules(apache);
  return startServer('apache', options, async (dir, port, user) => {
    const conf = join(dir, 'httpd.conf');
    await mkdir(join(dir, 'run'));
    await mkdir(join(dir, 'htdocs'));
    await writeFile(join(dir, 'site.conf'), renderApacheSite(sample, { ...options, port }));
    await writeFile(conf, renderApacheMain(dir, port, user, modules));
    // Debian's /etc/apache2/envvars is not needed: this config names its own paths and defines the one
    // variable the sample uses (APACHE_LOG_DIR).
    return { command: apache, args: ['-DFOREGROUND', '-f', conf] };
  });
}

/** samples/nginx.conf with the test's root, port and mount prefix; throws if the sample lost a placeholder. */
export function renderNginxSite(sample: string, o: StartServerOptions & { readonly port: number }): string {
  const root = checkRoot(o.root);
  let text = sample;
  let listens = 0;
  text = text.replace(/^(\s*)listen\s+[^;#]+;[^\n]*\n/gm, (_line, indent: string) =>
    ++listens === 1 ? `${indent}listen 127.0.0.1:${o.port};\n` : '',
  );
  if (listens === 0) throw new Error('samples/nginx.conf: no "listen" line');
  const simple = o.prefix === '/simple/';
  text = replaceOnce(
    text,
    /^(\s*)root\s+\/srv\/pypimirror;/m,
    simple ? `$1alias ${root}/;` : `$1root ${root};`,
  );
  if (simple) text = replaceOnce(text, /^(\s*)location \/ \{/m, '$1location /simple/ {');
  return replaceRootEverywhere(text, root);
}

/** samples/apache.conf with the test's root, port and mount prefix; throws if the sample lost a placeholder. */
export function renderApacheSite(sample: string, o: StartServerOptions & { readonly port: number }): string {
  const root = checkRoot(o.root);
  let text = replaceOnce(sample, /^(\s*)<VirtualHost\s+\*:80>/m, `$1<VirtualHost 127.0.0.1:${o.port}>`);
  text = replaceOnce(
    text,
    /^(\s*)DocumentRoot\s+\/srv\/pypimirror\s*$/m,
    o.prefix === '/simple/' ? `$1Alias /simple ${root}` : `$1DocumentRoot ${root}`,
  );
  return replaceRootEverywhere(text, root);
}

/** nginx's main config around `site.conf` in `dir` (also for test/helpers/nginx-s3.ts). */
export function renderNginxMain(dir: string, user: ServiceUser | undefined): string {
  const lines = [
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log notice;`,
    ...(user === undefined ? [] : [`user ${user.name} ${user.group};`]),
    'events { worker_connections 256; }',
    'http {',
    `    access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (k) => `    ${k}_temp_path ${dir}/${k}_temp;`,
    ),
    // Debian's http{} defaults, made harsher: gzip for every type, which the sample must undo for files.
    ...(existsSync('/etc/nginx/mime.types') ? ['    include /etc/nginx/mime.types;'] : []),
    '    default_type application/octet-stream;',
    '    sendfile on;',
    '    gzip on;',
    '    gzip_types *;',
    `    include ${dir}/site.conf;`,
    '}',
  ];
  return lines.join('\n') + '\n';
}

function renderApacheMain(
  dir: string,
  port: number,
  user: ServiceUser | undefined,
  modules: readonly string[],
): string {
  const lines = [
    `ServerRoot ${dir}`,
    `DefaultRuntimeDir ${dir}/run`,
    `PidFile ${dir}/apache.pid`,
    `Mutex file:${dir}/run default`,
    `ErrorLog ${dir}/error.log`,
    'LogLevel info',
    `Define APACHE_LOG_DIR ${dir}`,
    ...modules,
    ...(user === undefined ? [] : [`User ${user.name}`, `Group ${user.group}`]),
    `Listen 127.0.0.1:${port}`,
    'ServerName 127.0.0.1',
    `DocumentRoot ${dir}/htdocs`,
    ...(existsSync('/etc/mime.types') ? ['TypesConfig /etc/mime.types'] : []),
    'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
    '<IfModule mpm_event_module>',
    '    StartServers 1',
    '    ServerLimit 1',
    '    ThreadsPerChild 16',
    '    MaxRequestWorkers 16',
    '    MinSpareThreads 1',
    '    MaxSpareThreads 16',
    '</IfModule>',
    '<IfModule mpm_prefork_module>',
    '    StartServers 2',
    '    MinSpareServers 1',
    '    MaxSpareServers 4',
    '    MaxRequestWorkers 16',
    '</IfModule>',
    // Debian's apache2.conf defaults, made harsher: compress everything and label .gz files gzip-encoded
    // (Debian's mime.conf has that line commented out); the sample must undo both for files.
    '<Directory />',
    '    Require all denied',
    '    AllowOverride None',
    '</Directory>',
    '<IfModule mod_deflate.c>',
    '    SetOutputFilter DEFLATE',
    '</IfModule>',
    'AddEncoding x-gzip .gz .tgz',
    `Include ${dir}/site.conf`,
  ];
  return lines.join('\n') + '\n';
}

/** LoadModule lines for what the sample uses, skipping modules compiled into the binary. */
function apacheModules(apache: string): string[] {
  const dir = APACHE_MODULE_DIRS.find((d) => existsSync(join(d, 'mod_rewrite.so')));
  if (dir === undefined) throw new Error(`no Apache module directory among ${APACHE_MODULE_DIRS.join(', ')}`);
  const listed = spawnSync(apache, ['-l'], { encoding: 'utf8', timeout: 5_000 });
  const builtIn = listed.stdout ?? '';
  const wanted = [
    'mpm_event',
    'unixd',
    'log_config',
    'authz_core',
    'mime',
    'dir',
    'alias',
    'env',
    'rewrite',
    'headers',
    'filter',
    'deflate',
  ];
  const lines: string[] = [];
  for (const name of wanted) {
    if (builtIn.includes(`mod_${name}.c`)) continue;
    const file = join(dir, `mod_${name}.so`);
    if (!existsSync(file)) throw new Error(`Apache module ${file} is missing`);
    lines.push(`LoadModule ${name}_module ${file}`);
  }
  return lines;
}

export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
}

export type WriteConfig = (dir: string, port: number, user: ServiceUser | undefined) => Promise<Launch>;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts a web server whose config `writeConfig` writes, on a free port (also for test/helpers/nginx-s3.ts). */
export async function startServer(
  kind: WebServer['kind'],
  options: StartServerOptions,
  writeConfig: WriteConfig,
): Promise<WebServer> {
  const user = isRoot() ? findServiceUser() : undefined;
  if (user !== undefined) await makeTreeReadable(options.root, user.name);
  installExitHook();
  const failures: string[] = [];
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), `pypimirror-${kind}-`));
    await chmod(dir, 0o755);
    const port = await findFreePort();
    const launch = await writeConfig(dir, port, user);
    const child = spawn(launch.command, launch.args, {
      cwd: dir,
      detached: true,
      env: { ...process.env, LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const output = collectOutput(child);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        output.push(`spawn failed: ${error.message}`);
        resolve();
      });
    });
    const errorLog = join(dir, 'error.log');
    const ready = await waitUntilServing(kind, port, exited);
    if (ready) {
      const origin = `http://127.0.0.1:${port}`;
      let stopping: Promise<void> | undefined;
      return {
        kind,
        port,
        pid: child.pid ?? 0,
        origin,
        url: origin + (options.prefix ?? '/'),
        readErrorLog: () => readFile(errorLog, 'utf8').catch(() => ''),
        stop: () =>
          (stopping ??= stopChild(child, exited).finally(() => rm(dir, { recursive: true, force: true }))),
      };
    }
    await stopChild(child, exited);
    const log = await readFile(errorLog, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    const report = `${kind} on 127.0.0.1:${port} (attempt ${attempt}): ${[output.text(), log].join('\n').trim()}`;
    if (!/address already in use/i.test(report)) {
      throw new Error(`${kind} did not start: ${launch.command} ${launch.args.join(' ')}\n${report}`);
    }
    failures.push(report);
  }
  throw new Error(`${kind} found no free port in ${PORT_ATTEMPTS} attempts:\n${failures.join('\n')}`);
}

/** Polls until the server answers HTTP with its own Server header; false if it exits or times out. */
async function waitUntilServing(
  kind: WebServer['kind'],
  port: number,
  exited: Promise<void>,
): Promise<boolean> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const expected = kind === 'nginx' ? /^nginx/i : /^apache/i;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !hasExited) {
    const server = await probe(port);
    if (server !== undefined && expected.test(server) && !hasExited) return true;
    await delay(50);
  }
  return false;
}

/** The Server header of `GET /`, or undefined if nothing answers within a second. */
function probe(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      const server = res.headers['server'];
      resolve(Array.isArray(server) ? server.join(' ') : (server ?? ''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child, 'SIGTERM');
    if (!(await within(exited, STOP_TIMEOUT_MS))) {
      signalGroup(child, 'SIGKILL');
      if (!(await within(exited, KILL_TIMEOUT_MS))) {
        throw new Error(`server pid ${child.pid ?? '?'} did not exit after SIGKILL`);
      }
    }
  }
  running.delete(child);
}

/** Signals the server's process group (it leads one: spawned detached), so workers go too. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timedOut = delay(ms, false, { signal: timer.signal }).catch(() => false);
  const done = await Promise.race([promise.then(() => true), timedOut]);
  timer.abort();
  return done;
}

/** Servers left running when the test process exits (a crash, a missing t.after) are killed. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) signalGroup(child, 'SIGKILL');
  });
}

function collectOutput(child: ChildProcess): { push(line: string): void; text(): string } {
  let text = '';
  const push = (chunk: string): void => {
    if (text.length < OUTPUT_LIMIT) text += chunk;
  };
  child.stdout?.setEncoding('utf8').on('data', push);
  child.stderr?.setEncoding('utf8').on('data', push);
  return { push: (line) => push(line + '\n'), text: () => text };
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port from 127.0.0.1:0'));
      });
    });
  });
}

export interface ServiceUser {
  readonly name: string;
  readonly group: string;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The unprivileged account the servers' workers run as when we are root. */
function findServiceUser(): ServiceUser {
  const users = parseIdFile('/etc/passwd');
  const groups = parseIdFile('/etc/group');
  for (const name of ['www-data', 'apache', 'http', 'nginx', 'nobody']) {
    const gid = users.get(name)?.[3];
    if (gid === undefined) continue;
    const group = [...groups.entries()].find(([, fields]) => fields[2] === gid)?.[0];
    if (group !== undefined) return { name, group };
  }
  throw new Error('no unprivileged user (www-data, apache, http, nginx, nobody) in /etc/passwd');
}

function parseIdFile(path: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== undefined && fields[0] !== '' && fields.length >= 4) entries.set(fields[0], fields);
  }
  return entries;
}

/** See the header comment: the tree becomes readable by others, and its temp-dir ancestors enterable. */
async function makeTreeReadable(root: string, userName: string): Promise<void> {
  const real = await realpath(root);
  const temp = await realpath(tmpdir());
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const mode = (await lstat(dir)).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      if (!dir.startsWith(temp + sep) && dir !== temp) {
        throw new Error(`${userName} cannot enter ${dir} (mode ${mode.toString(8)}), an ancestor of ${real}`);
      }
      await chmod(dir, mode | 0o011);
    }
    if (dirname(dir) === dir) break;
  }
  await chmodTree(real);
}

async function chmodTree(path: string): Promise<void> {
  const stats = await lstat(path);
  if (stats.isSymbolicLink()) return;
  if (stats.isDirectory()) {
    await chmod(path, (stats.mode & 0o7777) | 0o055);
    for (const entry of await readdir(path)) await chmodTree(join(path, entry));
  } else {
    await chmod(path, (stats.mode & 0o7777) | 0o044);
  }
}

function mustFind(name: string): string {
  const path = findExecutable(name);
  if (path === undefined) throw new Error(`${name} is not installed (apt-get install nginx apache2)`);
  return path;
}

function checkRoot(root: string): string {
  if (!/^\/[\w./-]*$/.test(root) || root.includes('/./') || root.includes('/../')) {
    throw new Error(
      `mirror root must be a plain absolute path for the server config, got ${JSON.stringify(root)}`,
    );
  }
  return root.replace(/\/+$/, '');
}

function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  const matches = text.match(
    new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g'),
  );
  if (matches?.length !== 1) {
    throw new Error(
      `sample config: expected exactly one match of ${String(pattern)}, found ${matches?.length ?? 0}`,
    );
  }
  return text.replace(pattern, replacement);
}

/** Replaces the root placeholder on every configuration line (`<Directory ...>` etc.); comments keep it. */
function replaceRootEverywhere(text: string, root: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*#/.test(line) ? line : line.split(SAMPLE_ROOT).join(root)))
    .join('\n');
}
