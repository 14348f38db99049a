// The deletion guards' pure logic (src/sync/guards.ts): shares with their floor, the rolling window, the
// causes in order, and the warnings' wording.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeHold,
  formatHold,
  formatSuspectHold,
  type GuardInput,
  isOverShare,
  judgeDeletions,
  pruneHistory,
} from '../../../src/sync/guards.js';
import type { RemovalEntry } from '../../../src/model/holds.js';

const DAY = 86_400_000;
const NOW = new Date('2026-12-03T10:00:00Z');
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();

function input(over: Partial<GuardInput>): GuardInput {
  return {
    maxPercent: 10,
    windowMs: 7 * DAY,
    now: NOW,
    mirrored: { projects: 100, files: 300 },
    removing: { projects: 0, files: 0 },
    gone: 0,
    quarantined: 0,
    history: [],
    discoveryHold: null,
    ...over,
  };
}

test('a hold needs more than max(share, 1) items; 0 % holds every removal, 100 % none', (t) => {
  const cases: [number, number, number, boolean][] = [
    [1, 3, 10, false], // a small mirror may lose one project
    [2, 3, 10, true],
    [10, 100, 10, false],
    [11, 100, 10, true],
    [1, 1, 10, false],
    [0, 100, 0, false],
    [1, 100, 0, true],
    [100, 100, 100, false],
    [49, 100, 50, false],
    [51, 100, 50, true],
  ];
  for (const [count, base, percent, expected] of cases) {
    assert.equal(isOverShare(count, base, percent), expected, `${count} of ${base} at ${percent}%`);
  }
  t.diagnostic(`cases: ${cases.length}`);
});

test('one run: every project 404 or quarantined, or too many projects or files, is held with the counts', (t) => {
  const all = { projects: 100, files: 300 };
  assert.equal(judgeDeletions(input({})), null, 'nothing to remove');
  assert.equal(judgeDeletions(input({ removing: { projects: 10, files: 30 } })), null);
  assert.equal(judgeDeletions(input({ removing: { projects: 0, files: 30 } })), null);
  assert.equal(
    judgeDeletions(input({ removing: { projects: 11, files: 0 } })),
    'more than max_deletions = 10%',
  );
  assert.equal(
    judgeDeletions(input({ removing: { projects: 0, files: 31 } })),
    'more than max_deletions = 10%',
  );
  assert.equal(
    judgeDeletions(input({ removing: all, gone: 100 })),
    'as 100 of the 100 selected projects answered 404, more than max_deletions = 10% (held like a failed listing)',
  );
  assert.match(
    judgeDeletions(input({ removing: all, gone: 60, quarantined: 40 })) ?? '',
    /^as 60 of the 100 selected projects answered 404 and 40 came back quarantined/,
  );
  assert.equal(
    judgeDeletions(
      input({ removing: { projects: 1, files: 3 }, discoveryHold: 'the upstream listing was empty' }),
    ),
    'because the upstream listing was empty',
  );
  assert.equal(
    formatHold('more than max_deletions = 10%', all, all),
    'deletions held: this run would remove 100 of 100 selected projects (300 of 300 files), more than ' +
      'max_deletions = 10%; run "pypimirror sync --allow-deletions" once to let them go',
  );
  t.diagnostic('cases: 9');
});

test('the window: a slow bleed is held once the removals within max_deletions_window pass the share', (t) => {
  // Just under 10 % per run: the first run goes, the second is held by the window.
  const first = judgeDeletions(input({ removing: { projects: 9, files: 0 } }));
  assert.equal(first, null);
  const history: RemovalEntry[] = [{ at: ago(3_600_000), projects: 9, files: 0 }];
  const second = judgeDeletions(
    input({ mirrored: { projects: 91, files: 273 }, removing: { projects: 9, files: 0 }, history }),
  );
  assert.match(
    second ?? '',
    /removed since .* would make 18 projects .* within max_deletions_window = 7d, more than max_deletions = 10%/,
  );
  // The same removals older than the window count for nothing.
  const old: RemovalEntry[] = [{ at: ago(8 * DAY), projects: 9, files: 0 }];
  assert.equal(
    judgeDeletions(
      input({ mirrored: { projects: 91, files: 273 }, removing: { projects: 9, files: 0 }, history: old }),
    ),
    null,
  );
  // Just under half per run with max_deletions = 50: 49 of 100 go, then 25 of the 51 left are held.
  let mirrored = 100;
  const runs: (string | null)[] = [];
  const bleed: RemovalEntry[] = [];
  for (let run = 0; run < 7 && mirrored > 0; run++) {
    const remove = Math.floor((mirrored - 1) / 2);
    const verdict = judgeDeletions(
      input({
        maxPercent: 50,
        mirrored: { projects: mirrored, files: 0 },
        removing: { projects: remove, files: 0 },
        history: bleed,
      }),
    );
    runs.push(verdict);
    if (verdict !== null) break;
    bleed.push({ at: ago((7 - run) * 60_000), projects: remove, files: 0 });
    mirrored -= remove;
  }
  assert.equal(runs[0], null);
  assert.match(runs[1] ?? '', /max_deletions_window/);
  assert.equal(mirrored, 51, 'the second run removed nothing');
  t.diagnostic('cases: 4');
});

test('pruneHistory keeps the window only; holds are described for check and named for suspect pages', (t) => {
  const history: RemovalEntry[] = [
    { at: ago(8 * DAY), projects: 1, files: 0 },
    { at: ago(DAY), projects: 2, files: 0 },
    { at: 'garbage', projects: 3, files: 0 },
    { at: new Date(NOW.getTime() + DAY).toISOString(), projects: 4, files: 0 },
  ];
  assert.deepEqual(
    pruneHistory(history, NOW, 7 * DAY).map((e) => e.projects),
    [2],
  );
  assert.equal(describeHold(null), null);
  assert.equal(
    describeHold({
      message: 'deletions held: x',
      since: '2026-12-01T00:00:00.000Z',
      projects: 1,
      files: 2,
      selectedProjects: 3,
      mirroredFiles: 4,
    }),
    '# deletions held since 2026-12-01T00:00:00.000Z: deletions held: x',
  );
  const suspect = formatSuspectHold([
    { project: 'demo', reason: 'truncated', dropped: 2, mirrored: 3 },
    { project: 'other', reason: 'shrank', dropped: 5, mirrored: 6 },
  ]);
  assert.match(suspect, /^deletions held: 2 project pages would drop 7 of their 9 mirrored files/);
  assert.match(suspect, /demo: 2 of 3 files, the page may have ended early; other: 5 of 6 files/);
  t.diagnostic('cases: 4');
});
