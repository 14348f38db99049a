// The one publisher (src/mirror/publish.ts) writes in the safe order, against a storage that records every
// operation: a project's files, its HTML page, its JSON page, the files it forgets, its record, its
// removals; at the end of a run the root page, the projects that go, then state.json. A failure half-way
// stops everything after it: no page links a file that is not in place, no record or removal follows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPublisher } from '../../../src/mirror/publish.js';
import type { LocalFile, ProjectRecord } from '../../../src/model/record.js';
import { EMPTY_STATE } from '../../../src/mirror/state.js';
import { silentLogger } from '../../../src/log.js';
import { emptyRecord } from '../../../src/sync/project.js';
import { localFile } from '../../helpers/local-file.js';
import { createRecordingStorage, type RecordingStorage } from '../../helpers/recording-storage.js';

const H = 'a'.repeat(64);

function local(filename: string, path?: string): LocalFile {
  return localFile(filename, H, path === undefined ? {} : { path });
}

function recordOf(name: string, files: LocalFile[]): ProjectRecord {
  return { ...emptyRecord(name, name), serial: 1, files };
}

/** Puts `key` in place the way a download does: an upload, committed. */
async function upload(storage: RecordingStorage, key: string): Promise<void> {
  const into = await storage.beginFile(key, {
    size: 3,
    algorithms: ['sha256'],
    events: { onRoom: () => {}, onFailure: () => {} },
  });
  into.push(Buffer.from('new'));
  await into.finish();
  await into.commit({ mayReplace: false, sha256: H });
}

const REPLACED = `${'b'.repeat(16)}/demo-1.0.tar.gz`;

/** A tree with demo's old page, its record, a file to remove and one whose bytes are replaced. */
function oldTree(): RecordingStorage {
  return createRecordingStorage({
    'demo/index.html': 'old',
    'demo/index.v1_json': 'old',
    'demo/demo-0.9.tar.gz': 'old',
    'demo/demo-0.9.tar.gz.metadata': 'old',
    'demo/demo-1.0.tar.gz': 'old',
    '.pypimirror/projects/demo.json': '{}',
    'gone/gone-1.0.tar.gz': 'old',
    'gone/index.html': 'old',
    '.pypimirror/projects/gone.json': '{}',
  });
}

const publisherOf = (storage: RecordingStorage, createIndexes = true): ReturnType<typeof createPublisher> =>
  createPublisher(storage, { createIndexes, baseUrl: null, log: silentLogger });

test('a project: files, HTML page, JSON page, forgotten files, record, removals; then root, gone projects, state', async () => {
  const storage = oldTree();
  const publisher = publisherOf(storage);
  const removed = await publisher.project({
    record: recordOf('demo', [local('demo-1.0.tar.gz', REPLACED), local('demo-2.0.tar.gz')]),
    place: async () => {
      await upload(storage, `demo/${REPLACED}`);
      await upload(storage, 'demo/demo-2.0.tar.gz');
    },
    forgotten: [local('demo-1.0.tar.gz')],
    removals: [local('demo-0.9.tar.gz')],
  });
  assert.equal(removed, 1);
  assert.deepEqual(storage.ops, [
    `commit demo/${REPLACED}`,
    'commit demo/demo-2.0.tar.gz',
    'put demo/index.html',
    'put demo/index.v1_json',
    'remove demo/demo-1.0.tar.gz',
    'remove demo/demo-1.0.tar.gz.metadata',
    'put .pypimirror/projects/demo.json',
    'remove demo/demo-0.9.tar.gz',
    'remove demo/demo-0.9.tar.gz.metadata',
    'settle demo',
  ]);
  assert.match(storage.files.get('demo/index.html')?.toString() ?? '', /demo-2\.0\.tar\.gz#sha256=/);

  storage.ops.length = 0;
  const told: number[] = [];
  await publisher.finish({
    root: [{ name: 'demo', displayName: 'demo' }],
    gone: [{ name: 'gone', record: recordOf('gone', [local('gone-1.0.tar.gz')]), isForgotten: true }],
    beforeState: (filesRemoved) => {
      told.push(filesRemoved);
      storage.ops.push('beforeState');
      return Promise.resolve();
    },
    state: () => EMPTY_STATE,
  });
  assert.deepEqual(told, [1], 'the gone project had one recorded file');
  assert.deepEqual(storage.ops, [
    'put index.html',
    'put index.v1_json',
    'remove gone/gone-1.0.tar.gz',
    'remove gone/index.html',
    'removeDir gone',
    'remove .pypimirror/projects/gone.json',
    'beforeState',
    'put .pypimirror/state.json',
  ]);
});

test('a failure half-way stops what follows: no page without its files, no record or removal without its page', async () => {
  // A file write fails: no page, no record, no removal follows.
  const storage = oldTree();
  storage.failOn('commit', 'demo/demo-2.0.tar.gz');
  const next = recordOf('demo', [local('demo-2.0.tar.gz')]);
  const publication = {
    record: next,
    place: () => upload(storage, 'demo/demo-2.0.tar.gz'),
    removals: [local('demo-0.9.tar.gz'), local('demo-1.0.tar.gz')],
  };
  await assert.rejects(publisherOf(storage).project(publication), /commit failed/);
  assert.deepEqual(storage.ops, []);
  assert.equal(storage.files.get('demo/index.html')?.toString(), 'old', 'the old page stays');
  assert.equal(storage.files.get('.pypimirror/projects/demo.json')?.toString(), '{}', 'the old record stays');
  assert.ok(storage.files.has('demo/demo-0.9.tar.gz'), 'nothing removed');

  // The JSON page fails after the HTML one: no record, no removal.
  const again = oldTree();
  again.failOn('put', 'demo/index.v1_json');
  await assert.rejects(
    publisherOf(again).project({ ...publication, place: () => upload(again, 'demo/demo-2.0.tar.gz') }),
  );
  assert.deepEqual(again.ops, ['commit demo/demo-2.0.tar.gz', 'put demo/index.html']);

  // The record fails: its removals wait for a run that writes it.
  const third = oldTree();
  third.failOn('put', '.pypimirror/projects/demo.json');
  await assert.rejects(publisherOf(third).project({ record: next, removals: [local('demo-0.9.tar.gz')] }));
  assert.deepEqual(third.ops, ['put demo/index.html', 'put demo/index.v1_json']);

  // The root page fails: no project goes and the state stays.
  const fourth = oldTree();
  fourth.failOn('put', 'index.v1_json');
  await assert.rejects(
    publisherOf(fourth).finish({
      root: [],
      gone: [{ name: 'gone', record: null, isForgotten: true }],
      state: () => EMPTY_STATE,
    }),
  );
  assert.deepEqual(fourth.ops, ['put index.html']);
});

test('create_indexes off: records, removals and state, and never a page', async () => {
  const storage = oldTree();
  const publisher = publisherOf(storage, false);
  await publisher.project({ record: recordOf('demo', []), removals: [local('demo-0.9.tar.gz')] });
  await publisher.pages(recordOf('demo', []));
  await publisher.finish({ root: [], state: () => EMPTY_STATE });
  assert.deepEqual(storage.ops, [
    'put .pypimirror/projects/demo.json',
    'remove demo/demo-0.9.tar.gz',
    'remove demo/demo-0.9.tar.gz.metadata',
    'settle demo',
    'put .pypimirror/state.json',
  ]);
});
