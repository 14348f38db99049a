// [upstream:NAME] sections and the release-time keys (issue #12): read, validated, written back by `check`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeConfig } from '../../../src/config/describe.js';
import { parseIni } from '../../../src/config/parse-ini.js';
import type { Config } from '../../../src/config/types.js';
import { describeUpstreams } from '../../../src/config/upstream-sections.js';
import { validateConfig } from '../../../src/config/validate.js';
import { ConfigError, redactUrl } from '../../../src/errors.js';

const FILE = '/etc/pypimirror.cfg';

function readConfig(text: string): Config {
  const { raw, issues } = parseIni(text, FILE);
  return validateConfig(raw, { cwd: '/', parseIssues: issues });
}

function problems(text: string): string[] {
  try {
    readConfig(text);
  } catch (err) {
    if (err instanceof ConfigError)
      return err.message
        .split('\n')
        .slice(1)
        .map((l) => l.trim());
    throw err;
  }
  assert.fail('expected a config error');
}

const THREE = `[DEFAULT]
internal_host = pypi.internal.example

[mirror]
mirror_file_path = /srv/pypimirror
timeout = 20s
min_release_age = 3d
quarantine_exempt = urgent-*
exclude_newer = 2026-11-01T00:00:00Z

[upstream:pytorch]
index_url = https://download.pytorch.org/whl/cu121/
package_matches = torch torchvision
    nvidia-*
timeout = 2m
min_release_age = 12h

[upstream:internal]
index_url = https://ci:s3cr%%et@%(internal_host)s/simple
package_matches = acme-*
`;

test('upstream sections are read in file order, with [mirror] values where they set none', () => {
  const cfg = readConfig(THREE);
  assert.deepEqual(
    cfg.upstreams.map((u) => [u.name, u.indexUrl.href, u.packageMatches, u.timeoutMs, u.minReleaseAgeMs]),
    [
      [
        'pytorch',
        'https://download.pytorch.org/whl/cu121/',
        ['torch', 'torchvision', 'nvidia-*'],
        120_000,
        43_200_000,
      ],
      ['internal', 'https://ci:s3cr%et@pypi.internal.example/simple/', ['acme-*'], 20_000, 259_200_000],
    ],
  );
  assert.equal(cfg.minReleaseAgeMs, 3 * 86_400_000);
  assert.deepEqual(cfg.quarantineExempt, ['urgent-*']);
  assert.equal(cfg.excludeNewer, '2026-11-01T00:00:00.000Z');
  // [DEFAULT]'s keys are [mirror]'s (ConfigParser's rule): one that is no key of ours is warned about there.
  assert.deepEqual(cfg.warnings, [`${FILE}:2: [DEFAULT]: unknown key "internal_host", ignored`]);
});

test("an upstream section does not inherit [DEFAULT] keys (package_matches there is [mirror]'s)", () => {
  const cfg = readConfig(
    '[DEFAULT]\nmirror_file_path = /m\npackage_matches = requests\n[upstream:x]\nindex_url = https://x.example/simple/\npackage_matches = x-*\n',
  );
  assert.deepEqual(cfg.packageMatches, ['requests']);
  assert.deepEqual(cfg.upstreams[0]?.packageMatches, ['x-*']);
});

test('unknown keys, a missing package_matches or index_url, and bad values are errors with file and line', () => {
  assert.deepEqual(
    problems(
      '[mirror]\nmirror_file_path = /m\n[upstream:a]\nindex_url = https://a.example/\nworkers = 3\n' +
        '[upstream:b]\nindex_url = ftp://b.example/\n[upstream:bad name]\npackage_matches = x\n' +
        '[upstream:c]\npackage_matches = c-* !!c\ntimeout = soon\nexclude_newer = 2026\n',
    ),
    [
      `${FILE}:3: [upstream:a] package_matches (missing): required in an upstream section: the projects it serves (globs or names, like acme-* torch)`,
      `${FILE}:5: [upstream:a] workers = "3": unknown key in an upstream section; expected one of index_url, package_matches, timeout, request_deadline, ca_file, min_release_age`,
      `${FILE}:6: [upstream:b] package_matches (missing): required in an upstream section: the projects it serves (globs or names, like acme-* torch)`,
      `${FILE}:7: [upstream:b] index_url = "ftp://b.example/": expected an http:// or https:// URL, not ftp:`,
      `${FILE}:8: [upstream:bad name]: expected [upstream:NAME], NAME of letters, digits, ".", "_" and "-", at most 64`,
      `${FILE}:10: [upstream:c] index_url (missing): required in an upstream section: its Simple API base`,
      `${FILE}:11: [upstream:c] package_matches = "!!c": expected a single leading "!" to exclude`,
      `${FILE}:12: [upstream:c] timeout = "soon": expected a duration from 50ms to 24d, like 30s, 10m or 1h30m (a plain number is seconds)`,
      `${FILE}:13: [upstream:c] exclude_newer = "2026": unknown key in an upstream section; expected one of index_url, package_matches, timeout, request_deadline, ca_file, min_release_age`,
    ],
  );
});

test('exclude_newer takes an instant with its zone, or a date (UTC midnight)', () => {
  const read = (value: string) =>
    readConfig(`[mirror]\nmirror_file_path = /m\nexclude_newer = ${value}\n`).excludeNewer;
  assert.equal(read('2026-11-01'), '2026-11-01T00:00:00.000Z');
  assert.equal(read('2026-11-01T02:00:00+02:00'), '2026-11-01T00:00:00.000Z');
  assert.deepEqual(problems('[mirror]\nmirror_file_path = /m\nexclude_newer = 2026-11-01T00:00:00\n'), [
    `${FILE}:3: [mirror] exclude_newer = "2026-11-01T00:00:00": expected an instant with its zone, like 2026-11-01T00:00:00Z (or a date, 2026-11-01, UTC)`,
  ]);
});

test('check writes the sections back, credentials hidden, and says which upstream serves which globs', () => {
  const cfg = readConfig(THREE);
  const written = describeConfig(cfg);
  assert.match(
    written,
    /\n\[upstream:pytorch\]\nindex_url = https:\/\/download\.pytorch\.org\/whl\/cu121\/\npackage_matches =\n {4}torch\n/,
  );
  assert.match(
    written,
    /\n\[upstream:internal\]\nindex_url = https:\/\/\*\*\*@pypi\.internal\.example\/simple\/\n/,
  );
  assert.ok(!written.includes('s3cr'));
  // Read back (with the password put back), it is the same config.
  const again = readConfig(written.replace('***@', 'ci:s3cr%%et@'));
  assert.deepEqual(again.upstreams, cfg.upstreams);
  assert.deepEqual(describeUpstreams(cfg, redactUrl), [
    '# upstreams, in this order: a project comes only from the first whose package_matches selects it',
    '#   [upstream:pytorch] https://download.pytorch.org/whl/cu121/ serves: torch torchvision nvidia-*',
    '#   [upstream:internal] https://***@pypi.internal.example/simple/ serves: acme-*',
    '#   [mirror] index_url https://pypi.org/simple/ serves: every other project (less the above)',
    '# quarantine: files younger than min_release_age are held back: 3d ([mirror]), 12h ([upstream:pytorch]); exempt: urgent-*',
    '# exclude_newer: only files uploaded before 2026-11-01T00:00:00.000Z, from every upstream',
  ]);
});

test('min_release_age = 0 is no quarantine: in a section, none for that upstream whatever [mirror] says', () => {
  const cfg = readConfig(
    '[mirror]\nmirror_file_path = /m\nmin_release_age = 3d\n[upstream:a]\nindex_url = https://a.example/\n' +
      'package_matches = a\nmin_release_age = 0\n[upstream:b]\nindex_url = https://b.example/\npackage_matches = b\n',
  );
  assert.deepEqual(
    cfg.upstreams.map((u) => u.minReleaseAgeMs),
    [null, 3 * 86_400_000],
  );
  assert.equal(readConfig('[mirror]\nmirror_file_path = /m\nmin_release_age = 0\n').minReleaseAgeMs, null);
  // `check` writes the section's none as 0, which reads back as none.
  assert.match(describeConfig(cfg), /\[upstream:a\]\n(?:.*\n)*?min_release_age = 0\n/);
  assert.deepEqual(
    readConfig(describeConfig(cfg)).upstreams.map((u) => u.minReleaseAgeMs),
    [null, 3 * 86_400_000],
  );
});

test('upstream sections expand %(key)s within one shared cap, not one each (100 sections are not 100 caps)', () => {
  const big = 'x'.repeat(60 * 1024);
  const sections = Array.from(
    { length: 80 },
    (_, i) =>
      `[upstream:u${i}]\nindex_url = https://u${i}.example/\npackage_matches = u${i}\nnote = %(big)s\n`,
  );
  const { issues } = parseIni(
    `[DEFAULT]\nbig = ${big}\n[mirror]\nmirror_file_path = /m\n${sections.join('')}`,
    FILE,
  );
  assert.ok(issues.length > 0);
  assert.match(
    issues[0]?.expected ?? '',
    /expand to more than 4194304 characters in all, the cap for one section/,
  );
  assert.match(issues[0]?.section ?? '', /^upstream:u\d+$/);
});

test("a password sent over http to an upstream section is warned about, like [mirror]'s", () => {
  const cfg = readConfig(
    '[mirror]\nmirror_file_path = /m\n[upstream:a]\nindex_url = http://u:pw@a.example/simple/\npackage_matches = a\n',
  );
  assert.deepEqual(cfg.warnings, [
    `${FILE}:4: [upstream:a] index_url = "http://***@a.example/simple/": sends its password in clear text over http; use https`,
  ]);
});
