// The object-storage keys (issue #15): `storage = s3://BUCKET/PREFIX`, `s3_endpoint`, `s3_region`; with a
// storage set, mirror_file_path is not needed, and `check` shows the storage.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConfig } from '../../../src/config/describe.js';
import { parseIni } from '../../../src/config/parse-ini.js';
import { parseStorageUrl } from '../../../src/config/storage-keys.js';
import type { Config } from '../../../src/config/types.js';
import { validateConfig } from '../../../src/config/validate.js';
import { ConfigError } from '../../../src/errors.js';

function readConfig(text: string): Config {
  const { raw, issues } = parseIni(text, '/etc/pypimirror/m.cfg');
  return validateConfig(raw, { cwd: '/work', parseIssues: issues });
}

function problems(text: string): string[] {
  try {
    readConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n').slice(1);
  }
  assert.fail('expected a ConfigError');
}

describe('storage = s3://BUCKET/PREFIX', () => {
  it('reads the bucket, the prefix, the endpoint and the region; mirror_file_path is not needed', () => {
    const cfg = readConfig(
      '[mirror]\nstorage = s3://pypi-mirror/simple/\ns3_endpoint = http://rgw.example:7480\ns3_region = eu-1\n',
    );
    assert.equal(cfg.s3Storage?.bucket, 'pypi-mirror');
    assert.equal(cfg.s3Storage?.prefix, 'simple');
    assert.equal(cfg.s3Storage?.endpoint?.href, 'http://rgw.example:7480/');
    assert.equal(cfg.s3Storage?.region, 'eu-1');
    assert.equal(cfg.mirrorRoot, 's3://pypi-mirror/simple');
    assert.equal(cfg.lockFile, 's3://pypi-mirror/simple/.pypimirror/lease');
    assert.deepEqual(cfg.warnings, []);
  });

  it('takes a bucket alone, or a deeper prefix; unset, the tree is local', () => {
    assert.deepEqual(parseStorageUrl('s3://abc'), { bucket: 'abc', prefix: '' });
    assert.deepEqual(parseStorageUrl('S3://my.bucket-1/a/b_c/d'), {
      bucket: 'my.bucket-1',
      prefix: 'a/b_c/d',
    });
    const local = readConfig('[mirror]\nmirror_file_path = /srv/pypi\n');
    assert.equal(local.s3Storage, null);
    assert.equal(local.mirrorRoot, '/srv/pypi');
  });

  it('refuses a bad URL with a ConfigIssue naming the line, the value and what was expected', () => {
    const cases: [string, RegExp][] = [
      [
        'https://bucket/x',
        /storage = "https:\/\/bucket\/x": expected s3:\/\/BUCKET\/PREFIX.*this one has scheme https:/,
      ],
      ['bucket/x', /this one has no scheme/],
      ['s3://Bucket_1/x', /the bucket name "Bucket_1" must be 3 to 63 lower-case letters/],
      ['s3://ab/x', /the bucket name "ab" must be 3 to 63/],
      ['s3://key:secret@bucket/x', /no user, password, port/],
      ['s3://bucket/a//b', /the prefix has an empty segment \(\/\/\)/],
      ['s3://bucket/a/../b', /the prefix has the segment "\.\."/],
      ['s3://bucket/.pypimirror', /the segment "\.pypimirror"/],
    ];
    for (const [value, expected] of cases) {
      const lines = problems(`[mirror]\nstorage = ${value}\n`);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /^ {2}\/etc\/pypimirror\/m\.cfg:2: \[mirror\] /);
      assert.match(lines[0] ?? '', expected);
    }
  });

  it('refuses an endpoint with credentials (they come from the AWS chain) and a bad region', () => {
    const lines = problems(
      '[mirror]\nstorage = s3://bucket/x\ns3_endpoint = http://AKIA:secret@rgw:7480\ns3_region = EU West\n',
    );
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /m\.cfg:3: \[mirror\] s3_endpoint = .*: expected the endpoint without a user name or password: S3 credentials come from the AWS chain/,
    );
    assert.doesNotMatch(lines.join('\n'), /secret/);
    assert.match(lines[1] ?? '', /m\.cfg:4: \[mirror\] s3_region = "EU West": expected a region name/);
  });

  it('still requires mirror_file_path without a storage, and warns about keys that mean nothing', () => {
    const lines = problems('[mirror]\ns3_region = us-east-1\n');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /mirror_file_path \(missing\): required/);
    const cfg = readConfig('[mirror]\nmirror_file_path = /srv/pypi\ns3_region = us-east-1\n');
    assert.match(
      cfg.warnings.join('\n'),
      /s3_region = "us-east-1": means nothing without storage = s3:\/\/\.\.\.; ignored/,
    );
    const both = readConfig('[mirror]\nmirror_file_path = /srv/pypi\nstorage = s3://bucket/x\n');
    assert.match(
      both.warnings.join('\n'),
      /mirror_file_path = "\/srv\/pypi": ignored with storage = s3:\/\/\.\.\.: the tree is in the bucket/,
    );
  });

  it('check shows the storage and reads back to the same Config', () => {
    const cfg = readConfig('[mirror]\nstorage = s3://bucket/simple\ns3_endpoint = http://127.0.0.1:7480\n');
    const shown = describeConfig(cfg);
    assert.match(shown, /^storage = s3:\/\/bucket\/simple$/m);
    assert.match(shown, /^s3_endpoint = http:\/\/127\.0\.0\.1:7480\/$/m);
    assert.match(shown, /^mirror_file_path =$/m);
    const again = readConfig(shown);
    assert.deepEqual(again.s3Storage, cfg.s3Storage);
  });
});
