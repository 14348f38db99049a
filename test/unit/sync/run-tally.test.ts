// RunTally over the state's entries as read (issue #14 part 4): the run's changes are its own, the entries
// read stay as they were, and a run that only read them leaves them as read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { MirroredProject } from '../../../src/mirror/state.js';
import type { ProjectRecord } from '../../../src/model/record.js';
import { compileFilters } from '../../../src/plan/filters.js';
import { emptyRecord } from '../../../src/sync/project.js';
import { RunTally } from '../../../src/sync/run-tally.js';
import { StoredProjects } from '../../../src/sync/state-projects.js';
import type { Route } from '../../../src/sync/upstreams.js';

const mainRoute = { section: null, filters: compileFilters([], []) } as unknown as Route;

function recordOf(name: string, files: number): ProjectRecord {
  // Only the count of files matters to the tally.
  const listed = Array.from({ length: files }, (_, k) => ({ filename: `${name}-${k}.whl` }));
  return { ...emptyRecord(name, name), serial: 12, files: listed as unknown as ProjectRecord['files'] };
}

function tallyOver(entries: Record<string, MirroredProject>): RunTally {
  return new RunTally(
    new StoredProjects(entries),
    () => mainRoute,
    silentLogger,
    () => {},
  );
}

test('a run that notes nothing leaves the entries as read, the very objects', () => {
  const entries = {
    a: { displayName: 'A', serial: 1, files: 1 },
    b: { displayName: 'B', serial: null, isEmpty: true },
  };
  const tally = tallyOver(entries);
  assert.equal(tally.projects.isAsRead(), true);
  assert.equal(tally.projects.get('a'), entries.a);
  assert.equal(tally.hasPage('a'), true);
  assert.equal(tally.hasPage('b'), false, 'an entry without a page');
  assert.equal(tally.hasPage('c'), false);
});

test("the run's changes go over the entries read, never into them", () => {
  const entries = {
    a: { displayName: 'A', serial: 1, files: 1 },
    b: { displayName: 'B', serial: 2, files: 3 },
  };
  const tally = tallyOver(entries);
  tally.forgetSerial('b');
  tally.forgetSerial('missing');
  tally.keepProject(recordOf('c', 2), { name: 'c', displayName: 'C', serial: 20 });
  tally.keepProject(recordOf('a', 0), { name: 'a', displayName: 'A', serial: null });
  assert.deepEqual(Object.fromEntries(tally.projects), {
    a: { displayName: 'A', serial: 12, files: 0, isEmpty: true },
    b: { displayName: 'B', serial: null, files: 3 },
    c: { displayName: 'C', serial: 20, files: 2 },
  });
  assert.equal(tally.projects.size, 3);
  assert.equal(tally.projects.isAsRead(), false);
  assert.deepEqual(entries.b, { displayName: 'B', serial: 2, files: 3 }, 'the entry read is untouched');
  assert.equal(tally.mirrored.size, 2);
  assert.equal(tally.hasPage('a'), true, 'as it was before the run');
});
