// The config watcher alone (every way an editor saves, bursts, deletion), then the daemon driven by edits
// of its config file: projects added and removed, a bad edit refused, a deleted file survived.
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConfigFileEvent, watchConfig } from '../../src/config/watch.js';
import type { RunOutcome } from '../../src/daemon.js';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import { renderConfig, saveByRename, saveInPlace } from '../helpers/daemon-config.js';
import { startDaemonHarness } from '../helpers/daemon-harness.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { seedCatalogue } from '../helpers/sync-harness.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { waitFor } from '../helpers/wait-for.js';

const DEBOUNCE_MS = 100;

async function startWatcher(t: TestContext) {
  const dir = await makeTempDir(t);
  const file = join(dir, 'pypimirror.cfg');
  await writeFile(file, 'one\n');
  await writeFile(join(dir, 'neighbour.txt'), 'x');
  const events: ConfigFileEvent[] = [];
  const watcher = watchConfig({
    file,
    log: createCaptureLogger(),
    debounceMs: DEBOUNCE_MS,
    onEvent: (e) => events.push(e),
  });
  t.after(() => watcher.close());
  await watcher.ready;
  return { dir, file, events };
}

/** Waits for `n` events, then a while longer to be sure no more come. */
async function settle(events: ConfigFileEvent[], n: number): Promise<void> {
  await waitFor(`${n} config file events`, () => events.length >= n, { timeoutMs: 5000 });
  await sleep(DEBOUNCE_MS * 4);
}

describe('config watcher', () => {
  it('sees a save by rename as one change', async (t) => {
    const w = await startWatcher(t);
    await saveByRename(w.file, 'two\n');
    await settle(w.events, 1);
    assert.deepEqual(w.events, ['changed']);
  });

  it('sees a save in place (truncate, then write in pieces) as one change', async (t) => {
    const w = await startWatcher(t);
    await writeFile(w.file, '');
    await sleep(10);
    await appendFile(w.file, 'three\n');
    await sleep(10);
    await appendFile(w.file, 'four\n');
    await settle(w.events, 1);
    assert.deepEqual(w.events, ['changed']);
  });

  it('keeps watching after several saves of either kind', async (t) => {
    const w = await startWatcher(t);
    for (const [i, save] of [saveByRename, saveInPlace, saveByRename, saveInPlace].entries()) {
      await save(w.file, `v${i}\n`);
      await settle(w.events, i + 1);
    }
    assert.deepEqual(w.events, ['changed', 'changed', 'changed', 'changed']);
  });

  it('says when the file is deleted, and sees it come back', async (t) => {
    const w = await startWatcher(t);
    await rm(w.file);
    await settle(w.events, 1);
    assert.deepEqual(w.events, ['deleted']);
    await writeFile(w.file, 'back\n');
    await settle(w.events, 2);
    assert.deepEqual(w.events, ['deleted', 'changed']);
  });

  it('ignores the other files in the directory', async (t) => {
    const w = await startWatcher(t);
    await writeFile(join(w.dir, 'neighbour.txt'), 'y');
    await writeFile(join(w.dir, 'new.cfg'), 'z');
    await sleep(DEBOUNCE_MS * 4);
    assert.deepEqual(w.events, []);
  });
});

function projectsIn(tree: string[]): string[] {
  return [...new Set(tree.filter((p) => p.includes('/')).map((p) => p.split('/')[0] ?? ''))];
}

function isRun(o: RunOutcome): boolean {
  return o.kind === 'ran';
}

describe('daemon driven by config edits', () => {
  async function start(t: TestContext) {
    const fake = await startFakeUpstream();
    t.after(() => fake.close());
    seedCatalogue(fake);
    const h = await startDaemonHarness(t, fake, { package_matches: 'foo* demo-lib', sync_interval: '1h' });
    await h.waitForRuns(1);
    assert.deepEqual(projectsIn(await listTree(h.root)), ['demo-lib', 'foo-bar']);
    return h;
  }

  for (const [how, save] of [
    ['by rename', saveByRename],
    ['in place', saveInPlace],
  ] as const) {
    it(`a save ${how} that changes package_matches adds and removes projects within 2 s`, async (t) => {
      const h = await start(t);
      const edited = performance.now();
      await save(
        h.configPath,
        renderConfig(h.values({ package_matches: 'foo* zope.*', sync_interval: '1h' })),
      );
      await h.waitForRuns(2, 5000);
      const tookMs = (h.runs[1]?.endedAt ?? Infinity) - edited;
      t.diagnostic(`save ${how} → sync finished ${tookMs.toFixed(0)} ms after the edit`);
      assert.ok(tookMs < 2000, `${tookMs} ms`);
      assert.ok(h.runs.every((r) => isRun(r.outcome)));
      assert.deepEqual(projectsIn(await listTree(h.root)), ['foo-bar', 'zope-interface']);
      assert.equal(h.runs.length, 2, 'one edit, one sync');
    });
  }

  it('a bad edit is refused with its errors and lines; the next good edit applies', async (t) => {
    const h = await start(t);
    const bad = `${renderConfig(h.values({ package_matches: 'zope.*', sync_interval: '1h' }))}cleanup = maybe\n[mirror\n`;
    await saveByRename(h.configPath, bad);
    await waitFor('the refusal', () => h.log.find('config not applied').length > 0, { timeoutMs: 5000 });
    const errors = h.log.records.filter((r) => r.level === 'error').map((r) => r.msg);
    assert.ok(
      errors.some((m) => m.startsWith(`${h.configPath}:6:`) && m.includes('cleanup')),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((m) => m.startsWith(`${h.configPath}:7:`)),
      errors.join('\n'),
    );
    await sleep(300);
    assert.equal(h.runs.length, 1, 'no sync for a refused edit');
    assert.deepEqual(projectsIn(await listTree(h.root)), ['demo-lib', 'foo-bar']);

    await saveInPlace(h.configPath, renderConfig(h.values({ package_matches: 'foo*', sync_interval: '1h' })));
    await h.waitForRuns(2, 5000);
    assert.deepEqual(projectsIn(await listTree(h.root)), ['foo-bar']);
  });

  it('a deleted config file is warned about and the daemon keeps its config', async (t) => {
    const h = await start(t);
    const text = await readFile(h.configPath, 'utf8');
    await rm(h.configPath);
    await waitFor('the warning', () => h.log.find('config file deleted', 'warn').length > 0, {
      timeoutMs: 5000,
    });
    h.daemon.reload('SIGHUP');
    await waitFor(
      'the SIGHUP answer',
      () => h.log.find('config file not found; keeping the current config').length > 0,
    );
    await writeFile(h.configPath, text.replace('foo* demo-lib', 'demo-lib'));
    await h.waitForRuns(2, 5000);
    assert.deepEqual(projectsIn(await listTree(h.root)), ['demo-lib']);
  });
});
