import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilters, OPEN_SELECTION } from '../../../src/plan/filters.js';

const file = (filename: string) => ({ filename, requiresPython: null, yanked: null });
const BETA = ['0.9', '1.0', '1.1'].map((v) => file(`fakepkg_beta-${v}-py3-none-any.whl`));

test('compileFilters with a closure: its projects are selected with the specifiers of the requirements on them', () => {
  const closure = { specifiers: new Map([['fakepkg-beta', ['>=1.0']]]) };
  const filters = compileFilters(['fakepkg-alpha', '!fakepkg-x'], [], OPEN_SELECTION, closure);
  assert.ok(filters.matchProject('fakepkg_beta'));
  assert.ok(filters.matchProject('fakepkg-alpha'));
  assert.ok(!filters.matchProject('fakepkg-gamma'));
  assert.deepEqual(filters.literalProjects, ['fakepkg-alpha', 'fakepkg-beta']);
  assert.deepEqual(
    [...filters.selectFiles('fakepkg-beta', BETA)],
    ['fakepkg_beta-1.0-py3-none-any.whl', 'fakepkg_beta-1.1-py3-none-any.whl'],
  );
  assert.ok(filters.isExcluded('fakepkg-x'));
  assert.ok(!filters.isExcluded('fakepkg-beta'));
});

test('compileFilters with a closure and no name in package_matches: the closure alone, not every project', () => {
  const closure = { specifiers: new Map([['fakepkg-beta', ['==0.9']]]) };
  const onlyClosure = compileFilters([], [], OPEN_SELECTION, closure);
  assert.ok(!onlyClosure.matchProject('anything'));
  assert.deepEqual(onlyClosure.literalProjects, ['fakepkg-beta']);
  // A glob matches the project too: both lists apply, so the glob's "every version" wins.
  const withGlob = compileFilters(['fakepkg-*'], [], OPEN_SELECTION, closure);
  assert.equal(withGlob.literalProjects, null);
  assert.equal(withGlob.selectFiles('fakepkg-beta', BETA).size, 3);
  assert.equal(onlyClosure.selectFiles('fakepkg-beta', BETA).size, 1);
  // Without a closure, an empty package_matches still means every project.
  assert.ok(compileFilters([], []).matchProject('anything'));
});
