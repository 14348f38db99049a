import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgressLine, isProgressShown } from '../../src/commands.js';

test('progress is shown on a terminal only, never under journald', () => {
  assert.equal(isProgressShown({}, { isTTY: true }), true);
  assert.equal(isProgressShown({}, { isTTY: false }), false);
  assert.equal(isProgressShown({}, {}), false);
  assert.equal(isProgressShown({ JOURNAL_STREAM: '8:1234' }, { isTTY: true }), false);
});

test('the progress line is redrawn in place, at most once per interval, and cleared', () => {
  const out: string[] = [];
  let clock = 0;
  const line = createProgressLine({ write: (s: string) => out.push(s) > 0 }, 200, () => clock);
  const p = { projectsDone: 1, projectsToCheck: 3, filesFetched: 2, bytesFetched: 2048 };
  line.update(p);
  clock = 100;
  line.update({ ...p, projectsDone: 2 });
  clock = 250;
  line.update({ ...p, projectsDone: 3 });
  line.clear();
  assert.deepEqual(out, [
    '\r\x1b[K1/3 projects, 2 files (2.0 KiB) fetched',
    '\r\x1b[K3/3 projects, 2 files (2.0 KiB) fetched',
    '\r\x1b[K',
  ]);
});
