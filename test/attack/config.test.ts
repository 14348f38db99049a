// Attack review #10, "Config and secrets" and the lock: the built CLI, as a careless admin or a hostile
// upstream would drive it. Credentials in base_url and query tokens (in index_url, in a page's file URLs)
// never reach the output, the log file or status.json; an interpolation bomb and 200 000 globs are config
// errors (exit 2) naming the cap, in bounded time and memory; a live holder of the run lock keeps it however
// long its event loop was blocked, a dead one is taken over at once, a stale one of another host with a
// warning.
import assert from 'node:assert/strict';
import { readFile, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  ATTACK_RSS_LIMIT_MIB,
  runCliMeasured,
  writeAttackConfig,
  type MeasuredRun,
} from '../helpers/attack.js';
import {
  HTML_TYPE,
  JSON_TYPE,
  dist,
  listingRoute,
  projectRoutes,
  sha256Of,
  startHostileUpstream,
  type HostileUpstream,
  type Scenario,
} from '../helpers/hostile-upstream.js';
import { deadPid, leaveLock, startBlockedHolder } from '../helpers/lock-holder.js';
import { makeTempDir } from '../helpers/tree.js';

const SECRET = 'S3CRET-7f2a';

/** Runs `pypimirror <command> <config>` and checks it ended by itself within the attack suite's memory. */
async function runBounded(t: TestContext, command: string, config: string): Promise<MeasuredRun> {
  const run = await runCliMeasured(t, [command, config], { timeoutMs: 60_000 });
  assert.equal(run.timedOut, false, `${command} did not end on its own:\n${run.output.slice(0, 4000)}`);
  assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `${command}: peak RSS ${run.peakRssMiB} MiB`);
  return run;
}

async function startUpstream(t: TestContext, scenario: Scenario): Promise<HostileUpstream> {
  const up = await startHostileUpstream(scenario);
  t.after(() => up.close());
  return up;
}

/** A healthy upstream with one small project, for runs that must get past the lock. */
function healthyScenario(): Scenario {
  return {
    name: 'healthy',
    routes: { ...listingRoute(['foo']), ...projectRoutes('foo', [dist('foo-1.0.tar.gz')]) },
  };
}

describe('attack: config and secrets', () => {
  it('refuses credentials in base_url (check and sync exit 2) and never shows the password', async (t) => {
    const dir = await makeTempDir(t);
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: 'http://127.0.0.1:9/simple/',
      base_url: `https://alice:${SECRET}@mirror.example.org/simple/`,
    });
    let cases = 0;
    for (const command of ['check', 'sync']) {
      const run = await runBounded(t, command, config);
      assert.equal(run.code, 2, run.output);
      assert.ok(
        run.output.includes(`${config}:4: [mirror] base_url = "https://***@mirror.example.org/simple/"`),
        run.output,
      );
      assert.match(run.output, /expected the public URL without a user name or password/);
      assert.ok(!run.output.includes(SECRET), run.output);
      assert.ok(!run.output.includes('alice'), run.output);
      cases++;
    }
    t.diagnostic(`cases: ${cases}`);
  });

  it('never shows a query token of index_url (check and sync exit 2)', async (t) => {
    const dir = await makeTempDir(t);
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: `https://bob:pw-${SECRET}@pypi.example.org/simple/?token=${SECRET}&page=1`,
    });
    let cases = 0;
    for (const command of ['check', 'sync']) {
      const run = await runBounded(t, command, config);
      assert.equal(run.code, 2, run.output);
      assert.ok(
        run.output.includes('index_url = "https://***@pypi.example.org/simple/?token=***&page=***"'),
        run.output,
      );
      assert.ok(!run.output.includes(SECRET), run.output);
      cases++;
    }
    t.diagnostic(`cases: ${cases}`);
  });

  it('never shows the token of a signed file URL from a page that fails, in output, log file or status.json', async (t) => {
    // Two pages (PEP 691 JSON and PEP 503 HTML) link their file with ?token=…; the file answers 500.
    const json = dist('foo-1.0.tar.gz');
    const html = dist('bar-1.0.tar.gz');
    const jsonPage = JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: 'foo',
      files: [
        {
          filename: json.filename,
          url: `/files/${json.filename}?token=${SECRET}&expires=1`,
          hashes: { sha256: sha256Of(json.bytes) },
          size: json.bytes.length,
        },
      ],
    });
    const htmlPage =
      `<!DOCTYPE html><html><body><a href="/files/${html.filename}?X-Amz-Signature=${SECRET}` +
      `#sha256=${sha256Of(html.bytes)}">${html.filename}</a></body></html>`;
    const up = await startUpstream(t, {
      name: 'signed file URLs that fail',
      routes: {
        ...listingRoute(['foo', 'bar']),
        '/simple/foo/': { headers: { 'content-type': JSON_TYPE }, body: jsonPage },
        '/simple/bar/': { headers: { 'content-type': HTML_TYPE }, body: htmlPage },
        [`/files/${json.filename}`]: { status: 500, body: `token ${SECRET} refused` },
        [`/files/${html.filename}`]: { status: 500, body: 'no' },
      },
    });
    const dir = await makeTempDir(t);
    const root = join(dir, 'mirror');
    const logFile = join(dir, 'pypimirror.log');
    const config = await writeAttackConfig(dir, {
      mirror_file_path: root,
      index_url: up.url,
      package_matches: 'foo bar',
      log_filename: logFile,
      verbose: 'true',
    });
    const run = await runBounded(t, 'sync', config);
    assert.equal(run.code, 1, run.output);
    assert.equal(up.requests().filter((r) => r.path.startsWith('/files/')).length > 0, true);
    // The failing URLs are shown, redacted: the test would pass vacuously if they were not shown at all.
    assert.match(run.output, /\/files\/foo-1\.0\.tar\.gz\?token=\*\*\*&expires=\*\*\*/);
    assert.match(run.output, /\/files\/bar-1\.0\.tar\.gz\?X-Amz-Signature=\*\*\*/);
    const places = {
      output: run.output,
      'log file': await readFile(logFile, 'utf8'),
      'status.json': await readFile(join(root, '.pypimirror', 'status.json'), 'utf8'),
    };
    for (const [where, text] of Object.entries(places))
      assert.ok(!text.includes(SECRET), `${where}:\n${text}`);
    t.diagnostic(`cases: ${Object.keys(places).length * 2}`);
  });

  it('refuses an interpolation bomb with a config error naming the cap, in bounded time and memory', async (t) => {
    const dir = await makeTempDir(t);
    // Each level is 8 copies of the one below: ConfigParser would build 64 × 8^9 characters (8 GiB).
    const levels = Object.fromEntries(
      Array.from({ length: 9 }, (_, i) => [`a${i + 1}`, `%(a${i})s`.repeat(8)]),
    );
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: 'http://127.0.0.1:9/simple/',
      a0: 'x'.repeat(64),
      ...levels,
      package_matches: '%(a9)s',
    });
    let cases = 0;
    for (const command of ['check', 'sync']) {
      const run = await runBounded(t, command, config);
      assert.equal(run.code, 2, run.output.slice(0, 4000));
      assert.match(
        run.output,
        /\[mirror\] package_matches = "%\(a9\)s": %\(\.\.\.\)s references expand this value to more than 65536 characters, the cap for one value/,
      );
      cases++;
    }
    t.diagnostic(`cases: ${cases}`);
  });

  it('refuses 200 000 globs with a config error naming the cap, in bounded time, memory and output', async (t) => {
    const dir = await makeTempDir(t);
    const globs = Array.from({ length: 200_000 }, (_, i) => `project-${i}-*`).join('\n    ');
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: 'http://127.0.0.1:9/simple/',
      package_matches: `\n    ${globs}`,
      filename_matches: '*.whl',
    });
    let cases = 0;
    for (const command of ['check', 'sync']) {
      const run = await runBounded(t, command, config);
      assert.equal(run.code, 2, run.output.slice(0, 4000));
      assert.match(
        run.output,
        /:4: \[mirror\] package_matches = "\\nproject-0-\*\\nproject-1-\*.*"… \(\d+ characters\): expected at most 10000 globs \(the cap\); this list has 200000/,
      );
      assert.ok(run.output.length < 10_000, `${run.output.length} characters of output`);
      cases++;
    }
    t.diagnostic(`cases: ${cases}`);
  });
});

describe('attack: the run lock', () => {
  it('a live holder whose event loop is blocked keeps its lock: `sync` exits 75 however old the refresh', async (t) => {
    const dir = await makeTempDir(t);
    const lockFile = join(dir, 'run.lock');
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: 'http://127.0.0.1:9/simple/',
      lock_file_name: lockFile,
    });
    const holder = await startBlockedHolder(t, dir, lockFile, { staleMs: 2000, updateMs: 1000 });
    // Blocked for 10 minutes, as far as the lock shows: its last refresh is that old. (The holder cannot
    // notice: its event loop is blocked; its own refresh time is put back before it is let go.)
    const refreshed = await stat(lockFile);
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    await utimes(lockFile, tenMinutesAgo, tenMinutesAgo);
    const run = await runBounded(t, 'sync', config);
    await utimes(lockFile, refreshed.atime, new Date(refreshed.mtimeMs));
    await holder.unblock();
    assert.equal(run.code, 75, run.output);
    assert.match(
      run.output,
      new RegExp(
        `another pypimirror run holds the lock ${lockFile}: pid ${holder.pid} on host .* \\(last refreshed 6\\d\\d s ago\\)`,
      ),
    );
    assert.equal(await holder.outcome(), 'kept');
    t.diagnostic('cases: 1');
  });

  it('takes over at once the lock of a dead holder of this host, and after staleMs that of another host, with a warning', async (t) => {
    const up = await startUpstream(t, healthyScenario());
    const dir = await makeTempDir(t);
    const lockFile = join(dir, 'run.lock');
    const config = await writeAttackConfig(dir, {
      mirror_file_path: join(dir, 'mirror'),
      index_url: up.url,
      package_matches: 'foo',
      lock_file_name: lockFile,
    });
    await leaveLock(lockFile, { pid: await deadPid(), host: hostname() });
    const dead = await runBounded(t, 'sync', config);
    assert.equal(dead.code, 0, dead.output);
    assert.match(dead.output, /taking over the run lock of a process that no longer exists/);

    await leaveLock(lockFile, { pid: 4242, host: 'build-elsewhere' }, 120_000);
    const stale = await runBounded(t, 'sync', config);
    assert.equal(stale.code, 0, stale.output);
    assert.match(
      stale.output,
      /warn: taking over a stale run lock: held by pid 4242 on host build-elsewhere since 2026-01-01T00:00:00Z, last refreshed 12\d s ago \(more than 60 s\)/,
    );
    t.diagnostic('cases: 2');
  });
});
