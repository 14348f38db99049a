// The dependency closure across several upstreams (issues #11 and #12 together): a requirement's
// dependencies are followed whichever upstream serves them, and a dependency that an [upstream:NAME]
// section claims comes from that section only, never from [mirror]'s index, even when the public index
// has the name with other bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { startHarness } from '../helpers/sync-harness.js';
import { listTree } from '../helpers/tree.js';
import { upstreamSection } from '../helpers/upstream-sections.js';

const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

function requirementsOf(requirements: readonly string[]): Partial<Config> {
  return {
    requirements: ['/test/requirements.txt'],
    requirementRoots: requirements.map((requirement, i) => ({
      requirement,
      origin: `requirements.txt:${i + 1}`,
    })),
    packageMatches: [],
  };
}

test('the closure follows dependencies into a claiming section, never to the public index', async (t) => {
  const h = await startHarness(t);
  const internal = await startFakeUpstream();
  t.after(() => internal.close());
  // app (public) -> acme-core (internal) -> demo-lib (public) -> foo_bar (public)
  h.fake.addProject('app', [buildWheel({ name: 'app', version: '1.0', requiresDist: ['acme-core>=1.0'] })]);
  internal.addProject('acme-core', [
    buildWheel({ name: 'acme-core', version: '1.0', requiresDist: ['demo-lib'] }),
  ]);
  h.fake.addProject('demo-lib', [
    buildWheel({ name: 'demo-lib', version: '1.0', requiresDist: ['foo_bar'] }),
  ]);
  h.fake.addProject('foo_bar', [buildWheel({ name: 'foo_bar', version: '1.0' })]);
  h.fake.addProject('unrelated', [buildWheel({ name: 'unrelated', version: '1.0' })]);
  // The bait: acme-core on the public index too, with other bytes and a dependency of its own.
  h.fake.addProject('acme-core', [
    buildWheel({ name: 'acme-core', version: '9.0', requiresDist: ['unrelated'], files: { 'evil.py': '' } }),
  ]);
  const over = { ...requirementsOf(['app']), upstreams: [upstreamSection('internal', internal, ['acme-*'])] };

  const report = await h.sync(over);
  assert.deepEqual(report.failures, []);
  const pages = (await listTree(h.root)).filter((f) => /^[^/]+\/index\.html$/.test(f)).sort();
  assert.deepEqual(pages, [
    'acme-core/index.html',
    'app/index.html',
    'demo-lib/index.html',
    'foo-bar/index.html',
  ]);
  const wheel = 'acme_core-1.0-py3-none-any.whl';
  assert.equal(await sha256(join(h.root, 'acme-core', wheel)), internal.sha256('acme-core', wheel));
  assert.deepEqual(
    h.fake.requests.map((r) => r.path).filter((p) => p.includes('acme')),
    [],
    'the public index is never asked for the claimed name',
  );

  // A no-op keeps the whole closure, from both upstreams, and fetches no page again.
  h.fake.resetLog();
  internal.resetLog();
  const noop = await h.sync(over);
  assert.deepEqual(noop.failures, []);
  assert.equal(noop.projectsChanged, 0);
  assert.deepEqual(
    [...h.fake.requests, ...internal.requests]
      .filter((r) => r.path.startsWith('/simple/'))
      .map((r) => r.path),
    [],
  );
  assert.equal((await listTree(h.root)).filter((f) => /^[^/]+\/index\.html$/.test(f)).length, 4);
});
