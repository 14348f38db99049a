import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilters } from '../../../src/plan/filters.js';

test('package globs match after normalising both sides, case-insensitively', () => {
  const f = compileFilters(['zope.*', 'Products.*', 'foo_bar'], []);
  assert.ok(f.matchProject('zope.interface'));
  assert.ok(f.matchProject('Zope.Interface'));
  assert.ok(f.matchProject('zope-interface'));
  assert.ok(f.matchProject('products.cmfcore'));
  assert.ok(f.matchProject('Foo-Bar'));
  assert.ok(f.matchProject('FOO.BAR'));
  assert.ok(!f.matchProject('zope'), 'zope.* needs something after the separator');
  assert.ok(!f.matchProject('plone.app'));
});

test('a leading ! excludes; excludes alone mean everything else', () => {
  const f = compileFilters(['plone.*', '!plone.app.*'], []);
  assert.ok(f.matchProject('plone.api'));
  assert.ok(!f.matchProject('plone.app.layout'));
  assert.ok(!f.matchProject('requests'));
  const g = compileFilters(['!numpy'], []);
  assert.ok(g.matchProject('requests'));
  assert.ok(!g.matchProject('NumPy'));
});

test('empty package_matches selects every project; empty filename_matches every file', () => {
  const f = compileFilters([], []);
  assert.ok(f.matchProject('anything'));
  assert.ok(f.matchFile('x-1.0.tar.gz'));
  assert.equal(f.literalProjects, null);
});

test('filename globs', () => {
  const f = compileFilters([], ['*.whl', '*.tar.gz', '!*-win32.whl']);
  assert.ok(f.matchFile('demo-1.0-py3-none-any.whl'));
  assert.ok(f.matchFile('demo-1.0.tar.gz'));
  assert.ok(f.matchFile('DEMO-1.0.TAR.GZ'), 'case-insensitive');
  assert.ok(!f.matchFile('demo-1.0.zip'));
  assert.ok(!f.matchFile('demo-1.0-cp311-cp311-win32.whl'));
  assert.ok(f.matchFile('demo-1.0+local-py3-none-any.whl'), '+ in a file name is literal');
});

test('literalProjects: only when every include is a plain name', () => {
  assert.deepEqual(compileFilters(['Requests', 'foo_bar', 'numpy'], []).literalProjects, [
    'foo-bar',
    'numpy',
    'requests',
  ]);
  assert.deepEqual(compileFilters(['requests', '!requests'], []).literalProjects, []);
  assert.equal(compileFilters(['requests', 'zope.*'], []).literalProjects, null);
  assert.equal(compileFilters(['!numpy'], []).literalProjects, null);
});
