// The re-plan's reads ahead (src/sync/replan-reads.ts): on their own thread, each project's record and the
// regular files of its directory, the same as readRecord and the storage's listing give; a record that is
// not one fails as readRecord fails; what the thread was not asked for is left to the usual reads.
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateError } from '../../src/errors.js';
import { readRecord } from '../../src/mirror/state.js';
import { createLocalStorage } from '../../src/storage/local.js';
import { startReplanReads } from '../../src/sync/replan-reads.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';

test('reads ahead give each record and directory listing as readRecord and the storage give them', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['*'] });
  const storage = createLocalStorage(h.root);
  // A record that is not one, a project with no directory, one with neither, a symlink among the files.
  await writeFile(join(h.root, '.pypimirror', 'projects', 'unrelated.json'), '{"formatVersion": 1}');
  await rm(join(h.root, 'demo-app'), { recursive: true });
  await symlink('/etc/hostname', join(h.root, 'demo-lib', 'linked.whl'));
  await mkdir(join(h.root, 'demo-lib', 'a-directory'));
  const names = ['demo-app', 'demo-lib', 'foo-bar', 'never-mirrored', 'unrelated', 'zope-interface'];
  const reads = startReplanReads(storage, names, 1);
  assert.ok(reads !== null, 'a local tree: read ahead');
  t.after(() => reads.close());

  for (const name of ['demo-app', 'demo-lib', 'foo-bar', 'never-mirrored', 'zope-interface']) {
    const ahead = await reads.take(name);
    assert.deepEqual(ahead?.record, await readRecord(storage, name), `${name}: the record`);
    assert.deepEqual(
      [...(ahead?.files ?? [])].sort(),
      (await storage.list(name)).files,
      `${name}: the regular files of its directory`,
    );
  }
  await assert.rejects(reads.take('unrelated'), (err: unknown) => {
    assert.ok(err instanceof StateError);
    assert.match(err.message, /projects\/unrelated\.json: not what pypimirror writes there/);
    return true;
  });
  assert.equal(await reads.take('demo-lib'), null, 'taken once');
  assert.equal(await reads.take('not-asked-for'), null);
  assert.equal(startReplanReads(storage, names), null, 'a few projects: read the usual way');
});
