// The systemd units: `systemd-analyze verify` accepts them, and `systemd-analyze security --offline=true`
// rates each service at an exposure of 2.0 or less. verify insists that ExecStart= programs exist, so the
// units are checked as copies in a temp dir with /usr/local/bin/pypimirror rewritten to a stub there;
// nothing else changes. Also: the units say what the daemon contract needs, and the logrotate sample
// rotates the file the sample config logs to.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/repo-root.js';
import { makeTempDir } from '../helpers/tree.js';
import { findExecutable, requireTool } from '../helpers/web-servers.js';

const run = promisify(execFile);
const SYSTEMD_DIR = join(repoRoot, 'systemd');
const INSTALLED_PROGRAM = '/usr/local/bin/pypimirror';
const UNITS = [
  'pypimirror.service',
  'pypimirror-sync.service',
  'pypimirror-sync.timer',
  'pypimirror-export.service',
  'pypimirror-export.timer',
  'pypimirror-import.service',
  'pypimirror-import.timer',
];
const MAX_EXPOSURE = 2.0;

async function unitText(name: string): Promise<string> {
  return readFile(join(SYSTEMD_DIR, name), 'utf8');
}

/** `Key=value` lines of a unit (repeated keys in order), comments left out. */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m === null) continue;
    const [, key = '', value = ''] = m;
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** Copies the units into `dir` with the program path pointing at an executable stub there. */
async function stageUnits(dir: string): Promise<void> {
  const stub = join(dir, 'pypimirror');
  await writeFile(stub, '#!/bin/sh\nexit 0\n');
  await chmod(stub, 0o755);
  for (const name of UNITS) {
    await writeFile(join(dir, name), (await unitText(name)).replaceAll(INSTALLED_PROGRAM, stub));
  }
}

/** systemd 254 added RestartSteps= and RestartMaxDelaySec= (Debian 13 has 257). */
const RESTART_STEPS_SINCE = 254;

/** The major version of the systemd whose systemd-analyze runs the checks. */
async function systemdVersion(): Promise<number> {
  const { stdout } = await run(findExecutable('systemd-analyze') ?? 'systemd-analyze', ['--version']);
  const m = /^systemd (\d+)/.exec(stdout);
  assert.ok(m !== null, stdout);
  return Number(m[1]);
}

/** A systemd byte size (`1G`, `768M`, plain bytes) in MiB; K, M, G, T are powers of 1024. */
function toMiB(size: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(size);
  assert.ok(m !== null, size);
  const scale: Record<string, number> = { '': 1 / 1024 ** 2, K: 1 / 1024, M: 1, G: 1024, T: 1024 ** 2 };
  return Number(m[1]) * (scale[m[2] ?? ''] ?? NaN);
}

/** A systemd time span made of `30s`, `30min`, `1h` parts, in seconds. */
function toSeconds(span: string): number {
  const units: Record<string, number> = { s: 1, sec: 1, min: 60, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*(min|sec|s|m|h)/g))
    total += Number(n) * (units[unit ?? ''] ?? NaN);
  return total;
}

describe('systemd units', () => {
  it('are the ones checked here', async () => {
    const files = (await readdir(SYSTEMD_DIR)).filter((f) => /\.(service|timer)$/.test(f)).sort();
    assert.deepEqual(files, [...UNITS].sort());
    for (const name of UNITS.filter((u) => u.endsWith('.service'))) {
      assert.match(await unitText(name), new RegExp(`^ExecStart=${INSTALLED_PROGRAM} `, 'm'));
    }
  });

  it('pass systemd-analyze verify', async (t) => {
    if (!requireTool(t, 'systemd-analyze')) return;
    const dir = await makeTempDir(t);
    await stageUnits(dir);
    const paths = UNITS.map((u) => join(dir, u));
    const { stderr } = await run(findExecutable('systemd-analyze') ?? 'systemd-analyze', [
      'verify',
      ...paths,
    ]);
    // verify exits 0 on unknown keys and bad values too: any word about our files is a failure, except
    // that systemd before 254 does not know the growing restart delay's keys (and ignores them).
    const version = await systemdVersion();
    const isOld = version < RESTART_STEPS_SINCE;
    if (isOld) t.diagnostic(`systemd ${version}: RestartSteps= and RestartMaxDelaySec= are ignored`);
    const ours = stderr
      .split('\n')
      .filter((l) => l.includes(dir) || UNITS.some((u) => l.startsWith(`${u}:`)))
      .filter(
        (l) => !(isOld && /Unknown key '(RestartSteps|RestartMaxDelaySec)' in section \[Service\]/.test(l)),
      );
    assert.deepEqual(ours, [], stderr);
  });

  for (const name of [
    'pypimirror.service',
    'pypimirror-sync.service',
    'pypimirror-export.service',
    'pypimirror-import.service',
  ]) {
    it(`${name} has an exposure of ${MAX_EXPOSURE.toFixed(1)} or less`, async (t) => {
      if (!requireTool(t, 'systemd-analyze')) return;
      const dir = await makeTempDir(t);
      await stageUnits(dir);
      const { stdout } = await run(findExecutable('systemd-analyze') ?? 'systemd-analyze', [
        'security',
        '--offline=true',
        '--no-pager',
        join(dir, name),
      ]);
      const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(stdout);
      assert.ok(m !== null, stdout);
      const exposure = Number(m[1]);
      t.diagnostic(`${name}: exposure ${exposure}`);
      assert.ok(exposure <= MAX_EXPOSURE, `${name}: exposure ${exposure}\n${stdout}`);
    });
  }

  it('pypimirror.service checks the config first, reloads by SIGHUP and does not restart on a bad config', async () => {
    const d = directives(await unitText('pypimirror.service'));
    const one = (key: string): string | undefined => d.get(key)?.at(-1);
    assert.equal(one('ExecStartPre'), `${INSTALLED_PROGRAM} check /etc/pypimirror.cfg`);
    assert.equal(one('ExecStart'), `${INSTALLED_PROGRAM} run /etc/pypimirror.cfg`);
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2');
    assert.equal(one('User'), 'pypimirror');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('ReadWritePaths'), '/srv/pypimirror');
    assert.equal(one('LogsDirectory'), 'pypimirror');
    for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) assert.equal(one(key), 'yes', key);
    assert.equal(one('RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX');
    assert.ok(d.get('SystemCallFilter')?.includes('@system-service'));
    // The graceful stop takes at most 10 s; systemd must not SIGKILL before.
    assert.ok(Number.parseInt(one('TimeoutStopSec') ?? '0', 10) > 10);
  });

  for (const name of ['pypimirror.service', 'pypimirror-sync.service']) {
    it(`${name} caps memory well above a sync's 300 MiB bound`, async () => {
      const d = directives(await unitText(name));
      const high = toMiB(d.get('MemoryHigh')?.at(-1) ?? '');
      const max = toMiB(d.get('MemoryMax')?.at(-1) ?? '');
      assert.ok(high >= 2 * 300 && max > high, `MemoryHigh=${high} MiB, MemoryMax=${max} MiB`);
    });
  }

  it('pypimirror.service restarts a crashed daemon after a growing delay', async () => {
    const d = directives(await unitText('pypimirror.service'));
    const one = (key: string): string => d.get(key)?.at(-1) ?? '';
    const first = toSeconds(one('RestartSec'));
    const longest = toSeconds(one('RestartMaxDelaySec'));
    assert.ok(first >= 10, `RestartSec=${one('RestartSec')}`);
    assert.ok(longest >= 10 * first, `RestartMaxDelaySec=${one('RestartMaxDelaySec')}`);
    assert.ok(Number(one('RestartSteps')) >= 2, `RestartSteps=${one('RestartSteps')}`);
  });

  it('pypimirror-sync.service treats "lock held" (75) as success, and the timer starts it', async () => {
    const service = directives(await unitText('pypimirror-sync.service'));
    assert.deepEqual(service.get('Type'), ['oneshot']);
    assert.deepEqual(service.get('ExecStart'), [`${INSTALLED_PROGRAM} sync /etc/pypimirror.cfg`]);
    assert.deepEqual(service.get('SuccessExitStatus'), ['75']);
    const timer = directives(await unitText('pypimirror-sync.timer'));
    assert.deepEqual(timer.get('Unit'), ['pypimirror-sync.service']);
    assert.ok(timer.has('OnUnitInactiveSec'));
  });

  it('the export and import units treat the right exit codes as success, and their timers start them', async () => {
    const exporting = directives(await unitText('pypimirror-export.service'));
    assert.deepEqual(exporting.get('ExecStart'), [
      `${INSTALLED_PROGRAM} export /etc/pypimirror.cfg /var/spool/pypimirror/outbox`,
    ]);
    assert.deepEqual(exporting.get('SuccessExitStatus'), ['3 75'], 'nothing to export is no failure');
    const importing = directives(await unitText('pypimirror-import.service'));
    assert.deepEqual(
      importing.get('SuccessExitStatus'),
      ['75'],
      'a gap (4) or a refusal (65) shows as failed',
    );
    for (const side of ['export', 'import']) {
      const timer = directives(await unitText(`pypimirror-${side}.timer`));
      assert.deepEqual(timer.get('Unit'), [`pypimirror-${side}.service`]);
    }
  });
});

describe('samples/logrotate', () => {
  it('rotates the file the sample config logs to, and makes the daemon reopen it', async () => {
    const text = await readFile(join(repoRoot, 'samples/logrotate'), 'utf8');
    const cfg = await readFile(join(repoRoot, 'samples/pypimirror.cfg'), 'utf8');
    const logFile = /^log_filename\s*=\s*(\S+)/m.exec(cfg)?.[1];
    assert.ok(logFile !== undefined);
    assert.match(text, new RegExp(`^${logFile.replace(/[.]/g, '\\.')} \\{`, 'm'));
    assert.match(text, /postrotate\n\s+systemctl reload pypimirror\.service/);
    assert.ok(logFile.startsWith('/var/log/pypimirror/'), 'LogsDirectory=pypimirror makes it writable');
  });

  it('is accepted by logrotate', async (t) => {
    if (!requireTool(t, 'logrotate')) return;
    const logrotate = findExecutable('logrotate') as string;
    const dir = await makeTempDir(t);
    const text = (await readFile(join(repoRoot, 'samples/logrotate'), 'utf8'))
      .replace(/^\/var\/log\/pypimirror\/pypimirror\.log/m, join(dir, 'p.log'))
      .replace(/^\s*create .*$/m, '');
    await writeFile(join(dir, 'p.log'), 'line\n');
    await writeFile(join(dir, 'conf'), text);
    await run(logrotate, ['--debug', '--state', join(dir, 'state'), join(dir, 'conf')]);
  });
});
