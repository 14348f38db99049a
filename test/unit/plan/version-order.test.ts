import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compare } from '@renovatebot/pep440';
import { compareVersions } from '../../../src/plan/versions.js';
import { compareKeys, sortVersionsNewestFirst, versionSortKey } from '../../../src/plan/version-order.js';

/** Versions where PEP 440 order is easy to get wrong: dev/pre/post mixes, epochs, locals, zeros, spellings. */
const TRICKY = [
  '1.0',
  '1.0.0',
  '1',
  '1.0.dev0',
  '1.0.dev1',
  '1.0a0',
  '1.0a1.dev2',
  '1.0alpha2',
  '1.0b1',
  '1.0c1',
  '1.0rc2',
  '1.0rc2.post1',
  '1.0.post0',
  '1.0.post1.dev3',
  '1.0-r2',
  '1.0+local',
  '1.0+local.1',
  '1.0+local.abc',
  '1.0+2',
  '1.0+10',
  '1.0.post1+x',
  '1!0.1',
  '1!1.0.dev0',
  '2.0',
  '10.0',
  '0.9.9.9',
  '1.0.1',
  'legacy',
  'also-legacy',
  '',
];

test('version sort keys order every pair as @renovatebot/pep440 compare does', () => {
  const valid = TRICKY.filter((v) => versionSortKey(v) !== null);
  assert.ok(valid.length >= 25, 'the corpus is mostly valid PEP 440');
  for (const a of valid) {
    for (const b of valid) {
      const expected = Math.sign(compare(a, b));
      const got = Math.sign(compareKeys(versionSortKey(a) as never, versionSortKey(b) as never));
      assert.equal(got, expected, `${a} vs ${b}`);
    }
  }
});

test('sortVersionsNewestFirst gives the order of sorting with compareVersions, reversed (invalid last)', () => {
  for (let rotation = 0; rotation < TRICKY.length; rotation += 7) {
    const input = [...TRICKY.slice(rotation), ...TRICKY.slice(0, rotation)];
    assert.deepEqual(
      sortVersionsNewestFirst(input),
      [...input].sort((a, b) => compareVersions(b, a)),
      `rotation ${rotation}`,
    );
  }
  assert.deepEqual(sortVersionsNewestFirst(['legacy', '2.0', 'b', '1.0']), ['2.0', '1.0', 'legacy', 'b']);
});
