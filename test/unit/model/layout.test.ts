// The one rule for storable names, the system directories a root may never be, and our temp-file names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  filePath,
  isSafeFilename,
  isSystemDirectory,
  isTempName,
  MAX_FILENAME_BYTES,
  whyUnstorableFilename,
  whyUnstorableProjectName,
} from '../../../src/model/layout.js';
import { checkFilename } from '../../../src/upstream/decode.js';

test('file names: ASCII letters, digits and ._+!~-, from a letter or digit, at most 200 bytes, not ours', (t) => {
  const storable = [
    'requests-2.32.3-py3-none-any.whl',
    'zope.interface-7.0.tar.gz',
    'Foo_Bar-1.0+local.1-cp312-abi3-manylinux_2_17_x86_64.whl',
    'x!~y.zip',
    '1x.egg',
    `${'a'.repeat(MAX_FILENAME_BYTES - 4)}.whl`,
  ];
  const refused: [string, RegExp][] = [
    ['victim 2.0 (copy).tar.gz', /ASCII letters/],
    ['-rf.whl', /starting with a letter or digit/],
    ['ünï.whl', /ASCII letters/],
    ['..', /ASCII letters/],
    ['.hidden.whl', /starting with a letter or digit/],
    ['a/b.whl', /ASCII letters/],
    ['a\\b.whl', /ASCII letters/],
    ['a\u0000.whl', /ASCII letters/],
    ['', /ASCII letters/],
    ['index.html', /index page/],
    ['INDEX.V1_JSON', /index page/],
    ['a.whl.metadata', /\.metadata/],
    ['a.whl.METADATA', /\.metadata/],
    ['a-1.0.tmp', /temp files/],
    [`${'a'.repeat(MAX_FILENAME_BYTES - 3)}.whl`, /longer than 200 bytes/],
    ['a'.repeat(100_000), /longer than 200 bytes/],
  ];
  for (const name of storable) {
    assert.equal(whyUnstorableFilename(name), null, name);
    assert.equal(checkFilename(name), null, `decoder: ${name}`);
    assert.ok(filePath('/srv/m', 'p', name).endsWith(`/p/${name}`));
    // Every name derived from it fits NAME_MAX: the .metadata's temp file is the longest.
    assert.ok(Buffer.byteLength(`.${name}.metadata.0123456789ab.tmp`) <= 255, name);
  }
  for (const [name, why] of refused) {
    assert.match(whyUnstorableFilename(name) ?? '', why, JSON.stringify(name));
    assert.equal(checkFilename(name), whyUnstorableFilename(name), 'the decoder uses the same rule');
    assert.equal(isSafeFilename(name), false);
    assert.throws(() => filePath('/srv/m', 'p', name), /unsafe file name/);
  }
  t.diagnostic(`cases: ${storable.length + refused.length}`);
});

test('project names: normalised and at most 200 bytes, so the record and its temp file fit NAME_MAX', (t) => {
  const cases: [string, string | null][] = [
    ['requests', null],
    ['zope-interface', null],
    ['a'.repeat(200), null],
    ['a'.repeat(201), 'longer than 200 bytes'],
    [`a${'-b'.repeat(150)}`, 'longer than 200 bytes'],
    ['Requests', 'not a normalised project name'],
    ['zope.interface', 'not a normalised project name'],
    ['-a', 'not a normalised project name'],
  ];
  for (const [name, why] of cases) assert.equal(whyUnstorableProjectName(name), why, name);
  assert.ok(Buffer.byteLength(`.${'a'.repeat(200)}.json.0123456789ab.tmp`) <= 255);
  t.diagnostic(`cases: ${cases.length}`);
});

test('system directories are never a mirror root; their subdirectories are, except under /proc, /sys, /dev', (t) => {
  const system = [
    '/',
    '/etc',
    '/etc/',
    '/proc',
    '/proc/self',
    '/sys/kernel',
    '/dev',
    '/dev/null',
    '/dev/shm/x',
    '/usr',
    '/usr/lib',
    '/usr/lib64',
    '/lib',
    '/lib32',
    '/usr/local/lib',
    '/bin',
    '/sbin',
    '/boot',
    '/var',
    '/var/lib',
    '/run',
    '/home',
    '/root',
    '/tmp',
    '/srv',
    '/opt',
    '//etc',
    '/usr/../etc',
  ];
  const fine = [
    '/srv/pypimirror',
    '/tmp/mirror',
    '/var/lib/pypimirror',
    '/home/alice/mirror',
    '/var/www/pypi',
    '/data',
    '/mnt/disk/pypi',
    '/library',
    '/usr/lib-mirror/x',
  ];
  for (const p of system) assert.equal(isSystemDirectory(p), true, p);
  for (const p of fine) assert.equal(isSystemDirectory(p), false, p);
  t.diagnostic(`cases: ${system.length + fine.length}`);
});

test('temp names: only ours (.<name>.<12 hex>.tmp), so a foreign ".x.tmp" is never taken for one', () => {
  assert.equal(isTempName('.foo-1.0.tar.gz.0123456789ab.tmp'), true);
  assert.equal(isTempName('.index.html.a1b2c3d4e5f6.tmp'), true);
  assert.equal(isTempName('.notes.tmp'), false);
  assert.equal(isTempName('.x.0123456789AB.tmp'), false);
  assert.equal(isTempName('foo.0123456789ab.tmp'), false);
});
