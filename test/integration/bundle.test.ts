// Air-gapped pairs (issue #16): an outside mirror synced through three successive upstream changes exports a
// bundle after each sync; inside mirrors import them in order, out of order and twice, and end equal to the
// outside, byte for byte (files and pages). Tampered and foreign bundles are refused with nothing written.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { BUNDLE_EXIT, runImportCommand } from '../../src/bundle/commands.js';
import { canonicalJson, idOfManifestName } from '../../src/bundle/manifest.js';
import { generateKeys, readPrivateKey, signBytes } from '../../src/bundle/signing.js';
import { describeBundles } from '../../src/bundle/state.js';
import { verifyTree } from '../../src/verify.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { type BundlePair, snapshotTree, startBundlePair } from '../helpers/bundle-pair.js';
import { makeConfig } from '../helpers/config.js';
import { makeTempDir } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

/** The first sync, then three upstream changes, an export after each; the outside tree after each. */
async function exportFour(pair: BundlePair): Promise<{ dirs: string[]; trees: Record<string, string>[] }> {
  const { fake } = pair.outside;
  const dirs: string[] = [];
  const trees: Record<string, string>[] = [];
  const step = async (over = {}): Promise<void> => {
    // A volume of 64 KiB: the 200 KiB file below is split across volumes.
    const { dir, code } = await pair.syncAndExport(over, { maxVolume: 64 * 1024 });
    assert.equal(code, 0, 'export');
    dirs.push(dir);
    trees.push(await snapshotTree(pair.outside.root));
  };
  await step();
  // 1: new releases (one larger than a volume), a yank.
  fake.addFile('foo_bar', buildWheel({ name: 'foo_bar', version: '1.1' }));
  await fake.addBigFile('demo-app', 'demo_app-3.0-py3-none-any.whl', 200 * 1024);
  fake.yank('Zope.Interface', 'zope_interface-5.0-py3-none-any.whl', 'broken');
  await step();
  // 2: a removed file.
  fake.removeFile('Zope.Interface', 'zope_interface-4.0.zip');
  await step();
  // 3: a deselected project, and another release.
  fake.addFile('demo-lib', buildWheel({ name: 'demo-lib', version: '1.1' }));
  await step({ packageMatches: ['*', '!unrelated'] });
  return { dirs, trees };
}

test('bundles imported in order, out of order and twice leave the inside equal to the outside', async (t) => {
  const pair = await startBundlePair(t);
  const { dirs, trees } = await exportFour(pair);
  const last = trees[3] as Record<string, string>;
  assert.ok(Object.keys(last).includes('demo-app/demo_app-3.0-py3-none-any.whl'));
  assert.ok(!Object.keys(last).some((p) => p.startsWith('unrelated/')), 'unrelated was deselected');
  assert.ok(!Object.keys(last).includes('zope-interface/zope_interface-4.0.zip'));
  const volumes = (await readdir(dirs[1] as string)).filter((n) => n.endsWith('.tar'));
  assert.ok(volumes.length >= 4, `the 200 KiB file is split over 64 KiB volumes: ${volumes.join(' ')}`);

  // In order: equal to the outside after each bundle.
  const inOrder = await pair.newInside();
  for (const [i, dir] of dirs.entries()) {
    const { code } = await inOrder.import([dir]);
    assert.equal(code, 0, `bundle ${i + 1}: ${JSON.stringify(inOrder.log.records.slice(-3))}`);
    assert.deepEqual(await snapshotTree(inOrder.cfg.mirrorRoot), trees[i], `after bundle ${i + 1}`);
  }
  const zope = await readFile(join(inOrder.cfg.mirrorRoot, 'zope-interface/index.html'), 'utf8');
  assert.match(zope, /data-yanked="broken"/);

  // Twice: nothing changes.
  const again = await inOrder.import(dirs);
  assert.equal(again.code, 0);
  assert.deepEqual(await snapshotTree(inOrder.cfg.mirrorRoot), last);

  // Out of order: 3, then 4 and 2 (held: the first is missing), then 1 fills the gap.
  const shuffled = await pair.newInside();
  const third = await shuffled.import([dirs[2] as string]);
  assert.equal(third.code, BUNDLE_EXIT.GAP);
  assert.match(shuffled.log.records.map((r) => r.msg).join('\n'), /waiting for a full bundle/);
  assert.deepEqual(await snapshotTree(shuffled.cfg.mirrorRoot), {});
  const fourthAndSecond = await shuffled.import([dirs[3] as string, dirs[1] as string]);
  assert.equal(fourthAndSecond.code, BUNDLE_EXIT.GAP);
  const first = await shuffled.import([dirs[0] as string]);
  assert.equal(first.code, 0, JSON.stringify(shuffled.log.records.slice(-3)));
  assert.deepEqual(await snapshotTree(shuffled.cfg.mirrorRoot), last);
});

test('a gap in the middle names the missing bundle; import --dry-run prints and changes nothing', async (t) => {
  const pair = await startBundlePair(t);
  const { dirs, trees } = await exportFour(pair);
  const inside = await pair.newInside();
  assert.equal((await inside.import([dirs[0] as string])).code, 0);
  const firstId = (await readdir(dirs[0] as string))
    .map(idOfManifestName)
    .find((id) => id !== null) as string;
  const secondId = (await readdir(dirs[1] as string))
    .map(idOfManifestName)
    .find((id) => id !== null) as string;
  const held = await inside.import([dirs[2] as string]);
  assert.equal(held.code, BUNDLE_EXIT.GAP);
  const warning = inside.log.records.find((r) => r.msg.startsWith('waiting for'))?.msg ?? '';
  assert.match(warning, new RegExp(`waiting for bundle ${secondId}: the last imported is ${firstId}`));
  // `check` shows the last bundle imported and the gap.
  const shown = (await describeBundles(inside.cfg.mirrorRoot)).join('\n');
  assert.match(shown, new RegExp(`^# last bundle imported: ${firstId} at `, 'm'));
  assert.match(shown, new RegExp(`^# bundle gap: waiting for ${secondId}; held: `, 'm'));

  const before = await snapshotTree(inside.cfg.mirrorRoot);
  const dry = await inside.import([dirs[1] as string], { dryRun: true });
  assert.equal(dry.code, 0);
  assert.ok(
    dry.printed.some((l) => l.includes('+ demo_app-3.0-py3-none-any.whl')),
    dry.printed.join('\n'),
  );
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), before, 'a dry run writes nothing');

  assert.equal((await inside.import([dirs[1] as string])).code, 0, 'the held third applies after the second');
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), trees[2]);
  assert.equal((await inside.import([dirs[3] as string])).code, 0);
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), trees[3]);
  assert.doesNotMatch((await describeBundles(inside.cfg.mirrorRoot)).join('\n'), /gap/);
  // The inside is an ordinary mirror: verify finds every file and page right.
  assert.deepEqual(
    await verifyTree(
      inside.cfg,
      createLocalStorage(inside.cfg.mirrorRoot),
      inside.log,
      new AbortController().signal,
    ),
    [],
  );
});

/** Copies bundle `dir` into a new directory, passing each file through `edit`. */
async function tamperedCopy(
  t: TestContext,
  dir: string,
  edit: (name: string, bytes: Buffer) => Buffer | Promise<Buffer>,
): Promise<string> {
  const copy = await makeTempDir(t, 'pypimirror-tampered-');
  for (const name of await readdir(dir))
    await writeFile(join(copy, name), await edit(name, await readFile(join(dir, name))));
  return copy;
}

test('a tampered member, a tampered manifest and a bundle signed by another key are refused, nothing written', async (t) => {
  const pair = await startBundlePair(t);
  const { dirs, trees } = await exportFour(pair);
  const inside = await pair.newInside();
  assert.equal((await inside.import([dirs[0] as string])).code, 0);
  const second = dirs[1] as string;

  const memberFlipped = await tamperedCopy(t, second, (name, bytes) => {
    if (!name.endsWith('.vol0001.tar')) return bytes;
    // The first member's data starts after its 512-byte header (a plain ustar header: its name is short).
    assert.equal(String.fromCharCode(bytes[156] ?? 0), '0');
    const at = 512 + Math.floor(parseInt(bytes.subarray(124, 135).toString('latin1'), 8) / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    return bytes;
  });
  const manifestEdited = await tamperedCopy(t, second, (name, bytes) =>
    name.endsWith('.manifest.json')
      ? Buffer.from(bytes.toString('utf8').replace('"broken"', '"fine"'))
      : bytes,
  );
  const other = await generateKeys(await makeTempDir(t, 'pypimirror-other-keys-'));
  const otherKey = await readPrivateKey(other.privateKey);
  const foreignSigned = await tamperedCopy(t, second, async (name, bytes) =>
    name.endsWith('.manifest.sig')
      ? Buffer.from(signBytes(await readFile(join(second, name.replace('.sig', '.json'))), otherKey))
      : bytes,
  );
  const unsigned = await tamperedCopy(t, second, (_name, bytes) => bytes);
  for (const name of await readdir(unsigned))
    if (name.endsWith('.sig')) await writeFile(join(unsigned, name), '');

  for (const [what, dir, says] of [
    [
      'a tampered member',
      memberFlipped,
      /member .* has sha256 [0-9a-f]{64}; the manifest says|volume sha256/,
    ],
    ['a tampered manifest', manifestEdited, /signature does not match bundle_public_key/],
    ['another key', foreignSigned, /signature does not match bundle_public_key/],
    ['an empty signature', unsigned, /signature does not match/],
  ] as const) {
    const result = await inside.import([dir]);
    assert.equal(result.code, BUNDLE_EXIT.REFUSED, what);
    const error = inside.log.records.filter((r) => r.level === 'error').at(-1)?.msg ?? '';
    assert.match(error, says, what);
    assert.match(error, /nothing was written/, what);
    assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), trees[0], `${what}: nothing written`);
  }
  // A manifest re-signed with the right key stays canonical-checked: signing is what proves it.
  assert.equal(canonicalJson({ b: 1, a: [2] }), '{"a":[2],"b":1}');
  assert.equal((await inside.import([second])).code, 0, 'the genuine bundle still applies');
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), trees[1]);
});

test('export with nothing changed exits 3 and writes nothing; --full carries the whole tree', async (t) => {
  const pair = await startBundlePair(t);
  const { dir, code } = await pair.syncAndExport();
  assert.equal(code, 0);
  const again = await makeTempDir(t, 'pypimirror-bundle-');
  assert.equal(await pair.exportTo(again), BUNDLE_EXIT.NOTHING);
  assert.deepEqual(await readdir(again), []);
  const full = await makeTempDir(t, 'pypimirror-bundle-');
  assert.equal(await pair.exportTo(full, { isFull: true }), 0);
  // A dry run into a root that does not exist yet creates nothing, not even the root.
  const nowhere = join(await makeTempDir(t, 'pypimirror-inside-'), 'mirror');
  const dry = await runImportCommand(
    makeConfig({
      mirrorRoot: nowhere,
      indexUrl: 'https://pypi.invalid/simple/',
      bundlePublicKey: pair.keys.publicKey,
    }),
    pair.outside.log,
    {
      operands: [full],
      isFull: false,
      maxVolume: 0,
      dryRun: true,
      allowDeletions: false,
      signal: new AbortController().signal,
      print: () => {},
    },
  );
  assert.equal(dry, 0);
  assert.equal(existsSync(nowhere), false);
  // The full second bundle alone brings an empty inside to the outside's tree.
  const inside = await pair.newInside();
  assert.equal((await inside.import([full])).code, 0);
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), await snapshotTree(pair.outside.root));
  // The first bundle, older, changes nothing afterwards.
  assert.equal((await inside.import([dir])).code, 0);
});

test('a bundle removing more than max_deletions is held inside until import --allow-deletions', async (t) => {
  const pair = await startBundlePair(t);
  const first = await pair.syncAndExport();
  assert.equal(first.code, 0);
  const inside = await pair.newInside();
  assert.equal((await inside.import([first.dir])).code, 0);
  const before = await snapshotTree(inside.cfg.mirrorRoot);
  // The outside lets three of five projects go (its admin released its own hold), then exports.
  const report = await pair.outside.sync({ packageMatches: ['demo-*'] }, { run: { allowDeletions: true } });
  assert.equal(report.projectsRemoved, 3);
  const dir = await makeTempDir(t, 'pypimirror-bundle-');
  assert.equal(await pair.exportTo(dir), 0);

  const held = await inside.import([dir]);
  assert.equal(held.code, 1);
  const warning = inside.log.records.find((r) => r.msg.startsWith('deletions held'))?.msg ?? '';
  assert.match(warning, /would remove 3 projects .* more than max_deletions = 10%.*import --allow-deletions/);
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), before, 'nothing applied');
  const released = await inside.import([dir], { allowDeletions: true });
  assert.equal(released.code, 0);
  assert.deepEqual(await snapshotTree(inside.cfg.mirrorRoot), await snapshotTree(pair.outside.root));
});
