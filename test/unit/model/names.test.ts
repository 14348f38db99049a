import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isNormalizedName, isValidProjectName, normalizeName } from '../../../src/model/names.js';

test('normalizeName folds case and runs of - _ . into one -', () => {
  assert.equal(normalizeName('Zope.Interface'), 'zope-interface');
  assert.equal(normalizeName('foo_bar'), 'foo-bar');
  assert.equal(normalizeName('Foo__Bar-.baz'), 'foo-bar-baz');
  assert.equal(normalizeName('PyYAML'), 'pyyaml');
});

test('isValidProjectName follows the name-normalization spec', () => {
  for (const ok of ['a', 'A1', 'zope.interface', 'foo_bar', 'x-y.z_w']) assert.ok(isValidProjectName(ok), ok);
  for (const bad of ['', '-a', 'a-', '.a', 'a b', '../etc', 'a/b', 'a\n'])
    assert.ok(!isValidProjectName(bad), bad);
});

test('isNormalizedName', () => {
  assert.ok(isNormalizedName('zope-interface'));
  assert.ok(!isNormalizedName('Zope-interface'));
  assert.ok(!isNormalizedName('foo_bar'));
  assert.ok(!isNormalizedName('foo--bar'));
});
