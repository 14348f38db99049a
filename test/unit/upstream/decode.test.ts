import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../../src/errors.js';
import { checkFilename, decodeListingJson, decodeProjectJson } from '../../../src/upstream/decode.js';

const PAGE = 'https://index.example/simple/demo-pkg/';
const SHA = 'ab'.repeat(32);
const MD5 = 'cd'.repeat(16);

function file(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { filename: 'demo_pkg-1.0.tar.gz', url: 'demo_pkg-1.0.tar.gz', hashes: { sha256: SHA }, ...extra };
}

function payloadMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    assert.equal(err.code, 'UPSTREAM_PAYLOAD');
    return err.message;
  }
  assert.fail('expected an UPSTREAM_PAYLOAD error');
}

test('decodes a full PEP 691 page, resolving URLs and ignoring unknown keys', () => {
  const json = {
    meta: { 'api-version': '1.4', _private: 1 },
    name: 'Demo_Pkg',
    versions: ['0.9', '1.0'],
    'project-status': { status: 'archived', reason: 'moved' },
    unknown: { anything: true },
    files: [
      {
        filename: 'demo_pkg-1.0-py3-none-any.whl',
        url: '../../packages/ab/demo_pkg-1.0-py3-none-any.whl#sha256=ignored',
        hashes: { sha256: SHA.toUpperCase(), MD5: MD5 },
        'requires-python': '>=3.8',
        'core-metadata': { sha256: SHA },
        size: 1234,
        'upload-time': '2024-01-02T03:04:05.123456Z',
        yanked: false,
        'gpg-sig': false,
        extra: 'ignored',
      },
      file({
        url: 'https://files.example/x/demo_pkg-1.0.tar.gz',
        yanked: 'broken build',
        'core-metadata': true,
      }),
    ],
  };
  const { value, warnings } = decodeProjectJson(json, PAGE, 'demo-pkg');
  assert.deepEqual(warnings, []);
  assert.equal(value.name, 'demo-pkg');
  assert.deepEqual(value.versions, ['0.9', '1.0']);
  assert.equal(value.status, 'archived');
  assert.equal(value.statusReason, 'moved');
  assert.deepEqual(value.files[0], {
    filename: 'demo_pkg-1.0-py3-none-any.whl',
    url: 'https://index.example/packages/ab/demo_pkg-1.0-py3-none-any.whl',
    hashes: { sha256: SHA, md5: MD5 },
    size: 1234,
    requiresPython: '>=3.8',
    yanked: null,
    coreMetadata: { sha256: SHA },
    uploadTime: '2024-01-02T03:04:05.123456Z',
  });
  assert.equal(value.files[1]?.url, 'https://files.example/x/demo_pkg-1.0.tar.gz');
  assert.equal(value.files[1]?.yanked, 'broken build');
  assert.deepEqual(value.files[1]?.coreMetadata, {});
});

test('yanked: true → "", reason → reason, "" / false / missing / null → not yanked', () => {
  const cases: [unknown, string | null][] = [
    [true, ''],
    ['bad', 'bad'],
    ['', null],
    [false, null],
    [undefined, null],
    [null, null],
  ];
  for (const [yanked, expected] of cases) {
    const page = decodeProjectJson(
      { files: [file(yanked === undefined ? {} : { yanked })] },
      PAGE,
      'demo-pkg',
    );
    assert.equal(page.value.files[0]?.yanked, expected, `yanked ${JSON.stringify(yanked)}`);
  }
  assert.match(
    payloadMessage(() => decodeProjectJson({ files: [file({ yanked: 3 })] }, PAGE, 'demo-pkg')),
    /files\[0\]\.yanked/,
  );
});

test('core-metadata and its legacy names', () => {
  const meta = (extra: Record<string, unknown>) =>
    decodeProjectJson({ files: [file(extra)] }, PAGE, 'demo-pkg').value.files[0]?.coreMetadata;
  assert.equal(meta({}), null);
  assert.equal(meta({ 'core-metadata': false }), null);
  assert.deepEqual(meta({ 'core-metadata': true }), {});
  assert.deepEqual(meta({ 'dist-info-metadata': { sha256: SHA } }), { sha256: SHA });
  assert.deepEqual(meta({ 'data-dist-info-metadata': true }), {});
  assert.deepEqual(meta({ 'core-metadata': { sha256: SHA }, 'dist-info-metadata': false }), { sha256: SHA });
  assert.match(
    payloadMessage(() => meta({ 'core-metadata': { sha256: 'nope' } })),
    /files\[0\]\.core-metadata\.sha256: expected 64 hex digits, got "nope"/,
  );
});

test('errors carry the JSON path', () => {
  const files = [file(), file({ filename: 'b.tar.gz' }), file({ filename: 'c.tar.gz' })];
  files.push(file({ filename: 'd.tar.gz', hashes: { sha256: 'xyz' } }));
  assert.match(
    payloadMessage(() => decodeProjectJson({ files }, PAGE, 'demo-pkg')),
    /^https:\/\/index\.example\/simple\/demo-pkg\/: files\[3\]\.hashes\.sha256: expected 64 hex digits, got "xyz"$/,
  );
  const bad: [unknown, RegExp][] = [
    [[], /\(root\): expected an object, got an array/],
    [{}, /files: expected an array/],
    [{ files: [file({ size: -1 })] }, /files\[0\]\.size: expected an integer ≥ 0, got number -1/],
    [{ files: [file({ size: 1.5 })] }, /files\[0\]\.size/],
    [{ files: [file({ url: 7 })] }, /files\[0\]\.url: expected a string/],
    [{ files: [file({ hashes: undefined })] }, /files\[0\]\.hashes: expected an object/],
    [{ files: [file({ hashes: { md5: 'abc' } })] }, /files\[0\]\.hashes\.md5: expected 32 hex digits/],
    [{ files: [file({ 'requires-python': 3 })] }, /files\[0\]\.requires-python: expected a string/],
    [{ files: [], versions: 'x' }, /versions: expected an array/],
    [{ files: [], name: 'other' }, /name: expected the page of "demo-pkg"/],
    [{ meta: { 'api-version': 'one' }, files: [] }, /meta\.api-version: expected "Major\.Minor"/],
  ];
  for (const [json, re] of bad)
    assert.match(
      payloadMessage(() => decodeProjectJson(json, PAGE, 'demo-pkg')),
      re,
    );
});

test('api-version: major > 1 fails, newer minor warns', () => {
  assert.match(
    payloadMessage(() => decodeProjectJson({ meta: { 'api-version': '2.0' }, files: [] }, PAGE, 'demo-pkg')),
    /meta\.api-version: unsupported major version in "2\.0"/,
  );
  const { warnings } = decodeProjectJson({ meta: { 'api-version': '1.9' }, files: [] }, PAGE, 'demo-pkg');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /meta\.api-version: "1\.9" is newer/);
  assert.deepEqual(decodeProjectJson({ files: [] }, PAGE, 'demo-pkg').warnings, []);
});

test('unsafe filenames, odd URLs and duplicates skip the file, not the page', () => {
  const names = [
    '../evil.whl',
    'a/b.whl',
    'a\\b.whl',
    'nul\0.whl',
    '.',
    '..',
    '.hidden.whl',
    'index.html',
    'INDEX.v1_json',
  ];
  names.push('x.whl.metadata', '');
  const files = names.map((filename) => file({ filename }));
  files.push(file({ url: 'file:///etc/passwd' }), file(), file());
  const { value, warnings } = decodeProjectJson({ files }, PAGE, 'demo-pkg');
  assert.deepEqual(
    value.files.map((f) => f.filename),
    ['demo_pkg-1.0.tar.gz'],
  );
  assert.equal(warnings.length, names.length + 2);
  assert.match(warnings[0] ?? '', /^files\[0\]\.filename "\.\.\/evil\.whl": .*; file skipped$/);
  assert.match(warnings.at(-1) ?? '', /listed twice/);
});

test('checkFilename accepts ordinary names', () => {
  for (const ok of ['demo-1.0+local-py3-none-any.whl', 'pkg-1.0.tar.gz', 'a.b'])
    assert.equal(checkFilename(ok), null);
});

test('upload-time and project-status oddities are warnings', () => {
  const { value, warnings } = decodeProjectJson(
    { files: [file({ 'upload-time': 'yesterday' })], 'project-status': { status: 'frozen' } },
    PAGE,
    'demo-pkg',
  );
  assert.equal(value.files[0]?.uploadTime, null);
  assert.equal(value.status, null);
  assert.equal(warnings.length, 2);
});

test('decodes a root listing with serials, skipping invalid names', () => {
  const json = {
    meta: { 'api-version': '1.4', '_last-serial': 99 },
    projects: [{ name: 'Foo_Bar', '_last-serial': 12 }, { name: 'baz' }, { name: '-bad-' }, { name: '../x' }],
  };
  const { value, warnings } = decodeListingJson(json, 'https://index.example/simple/');
  assert.deepEqual(value, {
    projects: [
      { name: 'Foo_Bar', serial: 12 },
      { name: 'baz', serial: null },
    ],
    serial: 99,
    format: 'json',
  });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? '', /^projects\[2\]\.name "-bad-": not a valid project name; skipped$/);
  assert.match(
    payloadMessage(() => decodeListingJson({ projects: [{ name: 1 }] }, 'https://index.example/simple/')),
    /projects\[0\]\.name: expected a string/,
  );
});
