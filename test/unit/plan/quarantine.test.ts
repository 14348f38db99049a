// plan/quarantine.ts: which files min_release_age and exclude_newer leave out, and when held ones come of age.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilters } from '../../../src/plan/filters.js';
import { planProject } from '../../../src/plan/planner.js';
import { formatHold, mergeHolds, splitByReleaseTime } from '../../../src/plan/quarantine.js';
import type { ProjectPage, UpstreamFile } from '../../../src/model/upstream.js';
import { readUploadTimes, jsonApiUrl } from '../../../src/upstream/json-api.js';

const file = (filename: string, uploadTime: string | null): UpstreamFile => ({
  filename,
  url: `https://files.example/${filename}`,
  hashes: { sha256: 'a'.repeat(64) },
  size: 1,
  requiresPython: null,
  yanked: null,
  coreMetadata: null,
  uploadTime,
});
const now = new Date('2026-12-03T12:00:00Z');
const files = [
  file('demo-1.0.tar.gz', '2026-10-01T00:00:00Z'),
  file('demo-2.0.tar.gz', '2026-12-02T12:00:00Z'), // one day old
  file('demo-2.1.tar.gz', '2026-12-03T06:00:00Z'), // six hours old
  file('demo-3.0.exe', '2026-12-03T11:00:00Z'),
  file('demo-0.1.tar.gz', null),
];

test('min_release_age holds younger files, counting only wanted ones, until the first comes of age', () => {
  const split = splitByReleaseTime(
    files,
    { minReleaseAgeMs: 2 * 86_400_000, excludeNewer: null, now },
    (name) => !name.endsWith('.exe'),
  );
  assert.deepEqual(
    split.admitted.map((f) => f.filename),
    ['demo-1.0.tar.gz'],
  );
  assert.deepEqual(split.hold, { files: 2, until: '2026-12-04T12:00:00.000Z' });
  assert.deepEqual(split.undated, ['demo-0.1.tar.gz']);
  assert.equal(
    formatHold(split.hold!),
    '2 files held by min_release_age (the first comes of age at 2026-12-04T12:00:00.000Z)',
  );
});

test('exclude_newer leaves out files uploaded at or after the instant, for good', () => {
  const split = splitByReleaseTime(files, {
    minReleaseAgeMs: null,
    excludeNewer: '2026-12-02T12:00:00.000Z',
    now,
  });
  assert.deepEqual(
    split.admitted.map((f) => f.filename),
    ['demo-1.0.tar.gz'],
  );
  assert.equal(split.excluded, 3);
  assert.equal(split.hold, null);
});

test('no key: every file, dated or not', () => {
  const split = splitByReleaseTime(files, { minReleaseAgeMs: null, excludeNewer: null, now });
  assert.equal(split.admitted.length, files.length);
});

test('the planner neither downloads nor keeps a held file, and keep_latest counts only admitted releases', () => {
  const page: ProjectPage = {
    name: 'demo',
    files: files.slice(0, 3),
    versions: [],
    serial: null,
    etag: null,
    lastModified: null,
    status: null,
    statusReason: null,
  };
  const filters = compileFilters(['demo'], [], {
    pythonVersions: [],
    platforms: [],
    packageTypes: [],
    extensions: [],
    keepLatest: 1,
    prereleases: true,
  });
  const plan = planProject(page, null, filters, {
    cleanup: true,
    isDeletionAllowed: true,
    releaseTimes: { minReleaseAgeMs: 3_600_000 * 12, excludeNewer: null, now },
  });
  assert.deepEqual(
    plan.download.map((f) => f.filename),
    ['demo-2.0.tar.gz'],
  );
  assert.deepEqual(plan.quarantine, { files: 1, until: '2026-12-03T18:00:00.000Z' });
});

test('mergeHolds adds the files up and takes the earliest instant', () => {
  assert.equal(mergeHolds([null, undefined]), null);
  assert.deepEqual(
    mergeHolds([
      { files: 1, until: '2026-12-05T00:00:00.000Z' },
      null,
      { files: 3, until: '2026-12-04T00:00:00.000Z' },
    ]),
    { files: 4, until: '2026-12-04T00:00:00.000Z' },
  );
});

test('the JSON API: its URL beside /simple/, and the upload times of its releases', () => {
  assert.equal(
    jsonApiUrl(new URL('https://pypi.org/simple/'), 'demo').href,
    'https://pypi.org/pypi/demo/json',
  );
  assert.equal(
    jsonApiUrl(new URL('https://mirror.example/root/simple/'), 'demo').href,
    'https://mirror.example/root/pypi/demo/json',
  );
  assert.equal(
    jsonApiUrl(new URL('https://x.example/whl/cu121/'), 'torch').href,
    'https://x.example/pypi/torch/json',
  );
  const times = readUploadTimes({
    releases: {
      '1.0': [
        { filename: 'demo-1.0.tar.gz', upload_time_iso_8601: '2026-10-01T00:00:00.123456Z' },
        { filename: 'demo-1.0.whl', upload_time: '2026-10-02T00:00:00' },
        { filename: 'bad', upload_time_iso_8601: 'never' },
        'junk',
      ],
    },
    urls: null,
  });
  assert.deepEqual(
    [...times],
    [
      ['demo-1.0.tar.gz', '2026-10-01T00:00:00.123Z'],
      ['demo-1.0.whl', '2026-10-02T00:00:00.000Z'],
    ],
  );
  assert.equal(readUploadTimes('nope').size, 0);
});
