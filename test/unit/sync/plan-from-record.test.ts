// Planning a project from its record alone (src/sync/project.ts pageFromRecord and nextRecord, with
// plan/planner.ts), as a files-only scope change does: no server, no page request. The record keeps the whole
// upstream page, so a wider selection downloads from it, a narrower one removes, and an unchanged one does
// nothing; the record written after a plan gives back the page it was planned from.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LocalFile } from '../../../src/model/record.js';
import type { UpstreamFile } from '../../../src/model/upstream.js';
import { compileFilters } from '../../../src/plan/filters.js';
import { planProject } from '../../../src/plan/planner.js';
import { emptyRecord, nextRecord, pageFromRecord } from '../../../src/sync/project.js';

function upstreamFile(filename: string, digit: string): UpstreamFile {
  return {
    filename,
    url: `https://files.example/demo/${filename}`,
    hashes: { sha256: digit.repeat(64) },
    size: 100,
    requiresPython: null,
    yanked: null,
    coreMetadata: null,
    uploadTime: '2026-01-01T00:00:00Z',
  };
}

function onDisk(file: UpstreamFile): LocalFile {
  return {
    filename: file.filename,
    sha256: file.hashes['sha256'] as string,
    size: file.size ?? 0,
    url: file.url,
    upstreamHashes: file.hashes,
    requiresPython: null,
    yanked: null,
    uploadTime: file.uploadTime,
    metadataSha256: null,
  };
}

const wheel = upstreamFile('demo-1.0-py3-none-any.whl', 'a');
const sdist = upstreamFile('demo-1.0.tar.gz', 'b');
const egg = upstreamFile('demo-1.0-py2.7.egg', 'c');
const page = {
  ...pageFromRecord(emptyRecord('demo', 'Demo'), 7),
  files: [wheel, sdist, egg],
  versions: ['1.0'],
};
/** Mirrored with filename_matches = *.whl *.tar.gz: the egg is upstream, in the record, not on disk. */
const record = nextRecord(page, 'Demo', [onDisk(wheel), onDisk(sdist)], null);
const options = { cleanup: true, isDeletionAllowed: true };
const planWith = (globs: readonly string[]) =>
  planProject(pageFromRecord(record, null), record, compileFilters(['demo'], globs), options);

test('the record gives back the page it was planned from: files, versions, serial', () => {
  const again = pageFromRecord(record, null);
  assert.deepEqual(again.files, page.files);
  assert.deepEqual(again.versions, ['1.0']);
  assert.equal(again.serial, 7);
  assert.equal(pageFromRecord(record, 9).serial, 9, 'a newer serial from discovery wins');
});

test('the same selection again: nothing to download or remove', () => {
  const plan = planWith(['*.whl', '*.tar.gz']);
  assert.deepEqual(plan.download, []);
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(
    plan.keep.map((f) => f.filename),
    [wheel.filename, sdist.filename],
  );
});

test('a wider selection downloads what the record holds of the page, with no request', () => {
  const plan = planWith([]);
  assert.deepEqual(
    plan.download.map((f) => f.url),
    [egg.url],
  );
  assert.deepEqual(plan.remove, []);
});

test('a narrower selection removes what it no longer selects (cleanup on, deletions allowed)', () => {
  const plan = planWith(['*.whl']);
  assert.deepEqual(plan.download, []);
  assert.deepEqual(plan.remove, [sdist.filename]);
  assert.deepEqual(
    plan.keep.map((f) => f.filename),
    [wheel.filename],
  );
});
