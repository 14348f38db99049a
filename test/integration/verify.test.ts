// verify re-hashes the tree against the records; repair makes the next sync replace what is wrong.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { repairTree, verifyTree } from '../../src/verify.js';
import { seedCatalogue, startHarness } from '../helpers/sync-harness.js';
import { createLocalStorage } from '../../src/storage/local.js';

test('verify finds missing, truncated and altered files; repair plus a sync heals them', async (t) => {
  const h = await startHarness(t);
  seedCatalogue(h.fake);
  await h.sync({ packageMatches: ['foo-bar', 'demo-lib'] });
  const signal = new AbortController().signal;
  assert.deepEqual(
    await verifyTree(h.config(), createLocalStorage(h.config().mirrorRoot), h.log, signal),
    [],
  );

  await rm(join(h.root, 'foo-bar/foo_bar-1.0.tar.gz'));
  await writeFile(join(h.root, 'demo-lib/demo_lib-1.0-py3-none-any.whl'), 'short');
  const meta = join(h.root, 'demo-lib/demo_lib-0.9-py3-none-any.whl.metadata');
  const metaText = await readFile(meta, 'utf8');
  await writeFile(meta, metaText.replace('Version', 'Versi0n'));
  const problems = await verifyTree(h.config(), createLocalStorage(h.config().mirrorRoot), h.log, signal);
  assert.deepEqual(
    problems.map((p) => [p.project, p.file, p.problem]),
    [
      ['demo-lib', 'demo_lib-0.9-py3-none-any.whl.metadata', 'sha256'],
      ['demo-lib', 'demo_lib-1.0-py3-none-any.whl', 'size'],
      ['foo-bar', 'foo_bar-1.0.tar.gz', 'missing'],
    ],
  );
  assert.equal(h.log.find('verify: missing', 'error').length, 1);

  assert.deepEqual(await repairTree(h.config(), createLocalStorage(h.config().mirrorRoot), problems, h.log), [
    'demo-lib',
    'foo-bar',
  ]);
  const report = await h.sync({ packageMatches: ['foo-bar', 'demo-lib'] });
  assert.equal(report.failures.length, 0);
  assert.deepEqual(
    await verifyTree(h.config(), createLocalStorage(h.config().mirrorRoot), h.log, signal),
    [],
  );
  const wheel = await readFile(join(h.root, 'demo-lib/demo_lib-1.0-py3-none-any.whl'));
  assert.equal(
    createHash('sha256').update(wheel).digest('hex'),
    h.fake.file('demo-lib', 'demo_lib-1.0-py3-none-any.whl').sha256,
  );
  assert.equal(await readFile(meta, 'utf8'), metaText);
});
