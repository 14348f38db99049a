import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFileVersion } from '../../../src/plan/filenames.js';

test('versions from wheel, sdist and egg names', () => {
  assert.equal(parseFileVersion('demo_pkg-1.0-py3-none-any.whl', 'demo-pkg'), '1.0');
  assert.equal(parseFileVersion('demo_pkg-1.0-1build-py3-none-any.whl', 'demo-pkg'), '1.0');
  assert.equal(parseFileVersion('zope.interface-5.4.0.tar.gz', 'zope-interface'), '5.4.0');
  assert.equal(parseFileVersion('Zope.Interface-5.4.0.zip', 'zope-interface'), '5.4.0');
  assert.equal(parseFileVersion('foo-bar-2.0rc1.tar.bz2', 'foo-bar'), '2.0rc1');
  assert.equal(parseFileVersion('foo_bar-2.0.tgz', 'foo-bar'), '2.0');
  assert.equal(parseFileVersion('demo-0.9-py2.7.egg', 'demo'), '0.9');
  assert.equal(parseFileVersion('other-1.0.tar.gz', 'demo'), null);
  assert.equal(parseFileVersion('demo-1.0.exe', 'demo'), null);
  assert.equal(parseFileVersion('bad-name.whl', 'bad'), null);
});
