// `verify --repair` (src/verify.ts repairTree) writes and removes only through the publisher, in its order,
// against a storage that records every operation: a project with wrong files gets its pages, then loses the
// wrong bytes, then gets its record; the other pages; the root page; state last. A failure half-way leaves
// the record and state as they were.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { claimRoot } from '../../src/mirror/ownership.js';
import { EMPTY_STATE, readRecord, readState, writeRecord, writeState } from '../../src/mirror/state.js';
import type { ProjectRecord } from '../../src/model/record.js';
import { projectPageKeys, recordKey, ROOT_PAGE_KEYS, STATE_KEY } from '../../src/storage/keys.js';
import { emptyRecord } from '../../src/sync/project.js';
import { repairTree, type VerifyProblem } from '../../src/verify.js';
import { makeConfig } from '../helpers/config.js';
import { localFile } from '../helpers/local-file.js';
import { createRecordingStorage, type RecordingStorage } from '../helpers/recording-storage.js';

const H = 'c'.repeat(64);
const WRONG = 'demo-1.0-py3-none-any.whl';
const WRONG_METADATA = 'demo-0.9-py3-none-any.whl';
const SOUND = 'demo-0.8-py3-none-any.whl';
const cfg = makeConfig({ mirrorRoot: '/nowhere', indexUrl: 'http://127.0.0.1:9/simple/' });

function recordOf(name: string, filenames: readonly string[]): ProjectRecord {
  const files = filenames.map((f) => localFile(f, H, { metadataSha256: H }));
  return { ...emptyRecord(name, name), serial: 7, etag: '"e"', files };
}

/** demo (a wheel with wrong bytes, one with a wrong .metadata, a sound one) and other, synced; no op recorded yet. */
async function mirroredTree(): Promise<RecordingStorage> {
  const storage = createRecordingStorage();
  await claimRoot(cfg, storage);
  for (const file of [WRONG, WRONG_METADATA, SOUND, 'other-1.0.tar.gz']) {
    const project = file.startsWith('demo') ? 'demo' : 'other';
    storage.files.set(`${project}/${file}`, Buffer.from('bytes'));
    storage.files.set(`${project}/${file}.metadata`, Buffer.from('metadata'));
  }
  await writeRecord(storage, recordOf('demo', [WRONG, WRONG_METADATA, SOUND]));
  await writeRecord(storage, recordOf('other', ['other-1.0.tar.gz']));
  const project = (name: string) => ({ displayName: name, serial: 7, files: 1 });
  await writeState(storage, { ...EMPTY_STATE, projects: { demo: project('demo'), other: project('other') } });
  storage.ops.length = 0;
  return storage;
}

/** The operations that write `keys`. */
function puts(keys: readonly string[]): string[] {
  return keys.map((key) => `put ${key}`);
}

const PROBLEMS: VerifyProblem[] = [
  { project: 'demo', file: `${WRONG_METADATA}.metadata`, problem: 'sha256', detail: 'wrong' },
  { project: 'demo', file: WRONG, problem: 'size', detail: 'short' },
  { project: 'demo', file: 'index.html', problem: 'page', detail: 'a page problem: rewritten' },
];

test("repair: the project's pages, its wrong bytes, its record; the other pages, the root page, state", async () => {
  const storage = await mirroredTree();
  assert.deepEqual(await repairTree(cfg, storage, PROBLEMS, silentLogger), ['demo']);
  assert.deepEqual(storage.ops, [
    ...puts(projectPageKeys('demo')),
    `remove demo/${WRONG}`,
    `remove demo/${WRONG}.metadata`,
    `remove demo/${WRONG_METADATA}.metadata`,
    `put ${recordKey('demo')}`,
    ...puts(projectPageKeys('other')),
    ...puts(ROOT_PAGE_KEYS),
    `put ${STATE_KEY}`,
  ]);
  const record = await readRecord(storage, 'demo');
  assert.deepEqual(
    record?.files.map((f) => f.filename),
    [SOUND],
  );
  assert.equal(record?.etag, null, 'the page is fetched again, whole');
  assert.ok(storage.files.has(`demo/${WRONG_METADATA}`), 'a wheel whose .metadata alone was wrong stays');
  assert.equal((await readState(storage)).projects['demo']?.serial, null);
  assert.equal((await readState(storage)).projects['other']?.serial, 7);
});

test('repair: a removal that fails leaves the record and state as they were', async () => {
  const storage = await mirroredTree();
  storage.failOn('remove', `demo/${WRONG}`);
  await assert.rejects(repairTree(cfg, storage, PROBLEMS, silentLogger), /remove failed/);
  assert.deepEqual(storage.ops, puts(projectPageKeys('demo')));
  assert.equal((await readRecord(storage, 'demo'))?.files.length, 3);
  assert.equal((await readState(storage)).projects['demo']?.serial, 7);
});
