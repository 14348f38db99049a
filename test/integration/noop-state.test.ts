// A no-op through the changelog (the serial did not move, no project changed) leaves state.json as it is:
// on a mirror of 100 000 projects, serialising and writing it was a fifth of the no-op (issue #14 part 4).
// A run that changes anything the state says writes it, as before.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readState } from '../../src/mirror/state.js';
import { createLocalStorage } from '../../src/storage/local.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';

test('a no-op through the changelog leaves state.json as it is; a run that changes a project writes it', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  const cfg = { packageMatches: ['demo-*'] };
  await h.sync(cfg);
  await h.sync(cfg); // the first run through the changelog: the discovery mode is stored
  const path = join(h.root, '.pypimirror', 'state.json');
  const before = { ino: (await stat(path)).ino, text: await readFile(path, 'utf8') };

  h.fake.resetLog();
  const report = await h.sync(cfg);
  assert.deepEqual(
    h.fake.requests.map((r) => r.path),
    ['/pypi'],
    'a no-op: the changelog call',
  );
  assert.equal(report.failures.length, 0);
  assert.equal((await stat(path)).ino, before.ino, 'state.json not written again');
  assert.equal(await readFile(path, 'utf8'), before.text);

  h.fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '9.0' }));
  await h.sync(cfg);
  assert.notEqual((await stat(path)).ino, before.ino, 'a change writes it');
  const state = await readState(createLocalStorage(h.root));
  assert.equal(state.lastSerial, h.fake.serial);
  assert.equal(state.projects['demo-lib']?.files, 3);
});
