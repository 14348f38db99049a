// `sync --allow-deletions` and `sync --dry-run` (issue #10): accepted with sync only; the daemon never releases.
// `init --adopt` (issue #10): with init only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli, UsageError } from '../../src/cli.js';

test('--allow-deletions and --dry-run go with sync (and z3c --update-fetch) only', (t) => {
  const sync = parseCli(['sync', '/etc/p.cfg', '--allow-deletions', '--dry-run']);
  assert.equal(sync.command, 'sync');
  assert.equal(sync.allowDeletions, true);
  assert.equal(sync.dryRun, true);
  assert.equal(parseCli(['sync']).allowDeletions, false);
  assert.equal(parseCli(['/etc/p.cfg', '-U', '--dry-run']).dryRun, true);
  const refused = [
    ['run', '--allow-deletions'],
    ['verify', '--dry-run'],
    ['reindex', '--allow-deletions'],
    ['/etc/p.cfg', '-i', '--dry-run'],
  ];
  for (const argv of refused) assert.throws(() => parseCli(argv), UsageError, argv.join(' '));
  t.diagnostic(`cases: ${refused.length + 3}`);
});

test('init takes --adopt; --adopt goes with init only', (t) => {
  const init = parseCli(['init', '/etc/p.cfg', '--adopt']);
  assert.equal(init.command, 'init');
  assert.equal(init.adopt, true);
  assert.equal(init.configPath, '/etc/p.cfg');
  assert.equal(parseCli(['init']).adopt, false);
  const refused = [
    ['sync', '--adopt'],
    ['check', '--adopt'],
    ['/etc/p.cfg', '-U', '--adopt'],
  ];
  for (const argv of refused) assert.throws(() => parseCli(argv), UsageError, argv.join(' '));
  t.diagnostic(`cases: ${refused.length + 2}`);
});

test('migrate takes FROM_CONFIG and TO_CONFIG, and nothing else', () => {
  const migrate = parseCli(['migrate', 'local.cfg', 's3.cfg']);
  assert.deepEqual(
    [migrate.command, migrate.configPath, migrate.operands],
    ['migrate', 'local.cfg', ['s3.cfg']],
  );
  assert.throws(
    () => parseCli(['migrate', 'local.cfg']),
    /migrate takes two configs: pypimirror migrate FROM_CONFIG TO_CONFIG/,
  );
  assert.throws(() => parseCli(['migrate', 'a.cfg', 'b.cfg', 'c.cfg']), /too many arguments: b\.cfg c\.cfg/);
  assert.throws(() => parseCli(['migrate', 'a.cfg', 'b.cfg', '--repair']), UsageError);
});

test('verify takes --deep; --deep goes with verify only', () => {
  const verify = parseCli(['verify', '/etc/p.cfg', '--deep', '--repair']);
  assert.deepEqual([verify.command, verify.deep, verify.repair], ['verify', true, true]);
  assert.equal(parseCli(['verify', '/etc/p.cfg']).deep, false);
  for (const argv of [
    ['sync', '--deep'],
    ['/etc/p.cfg', '-U', '--deep'],
    ['migrate', 'a.cfg', 'b.cfg', '--deep'],
  ]) {
    assert.throws(() => parseCli(argv), /--deep/, argv.join(' '));
  }
});
