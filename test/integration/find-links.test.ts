// find_links_dir (issue #11 part 4): a flat directory of every mirrored file, hard links (copies on another
// file system), kept in step with the tree in the same run, owned like the root, checked by verify.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { Config } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { findLinksRecordPath, openFindLinks, readFindLinksRecord } from '../../src/mirror/find-links.js';
import { readRecord, writeRecord } from '../../src/mirror/state.js';
import { repairTree, verifyTree } from '../../src/verify.js';
import { buildSdist, buildWheel } from '../helpers/dist-builder.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { type Harness, seedCatalogue, startHarness } from '../helpers/sync-harness.js';
import { listTree, makeTempDir } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const ALPHA_FILES = [
  'fakepkg_alpha-1.0-py3-none-any.whl',
  'fakepkg_alpha-1.0.tar.gz',
  'fakepkg_alpha-1.1-py3-none-any.whl',
];

function seedAlpha(h: Harness): void {
  h.fake.addProject('fakepkg-alpha', [
    buildWheel({ name: 'fakepkg-alpha', version: '1.0', requiresDist: ['fakepkg-beta'] }),
    buildSdist({ name: 'fakepkg-alpha', version: '1.0', requiresDist: ['fakepkg-beta'] }),
    buildWheel({ name: 'fakepkg-alpha', version: '1.1', requiresDist: ['fakepkg-beta'] }),
  ]);
  h.fake.addProject('fakepkg-beta', [buildWheel({ name: 'fakepkg-beta', version: '2.0' })]);
}

/** The files a sync requested (not pages, not the listing). */
function fileRequests(h: Harness): string[] {
  return h.fake.requests.filter((r) => r.path.startsWith('/packages/')).map((r) => r.path);
}

async function inode(path: string): Promise<number> {
  return (await stat(path)).ino;
}

const SIGNAL = new AbortController().signal;

/** The fakepkg projects mirrored once, with a flat directory. */
async function startFlatMirror(t: TestContext): Promise<{ h: Harness; flat: string; over: Partial<Config> }> {
  const h = await startHarness(t);
  seedAlpha(h);
  const flat = join(await makeTempDir(t), 'flat');
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'], findLinksDir: flat };
  await h.sync(over);
  return { h, flat, over };
}

test('find_links_dir holds every mirrored file as a hard link, pip installs from it, and it follows a cleanup', async (t) => {
  const h = await startHarness(t);
  seedAlpha(h);
  seedCatalogue(h.fake);
  const flat = join(await makeTempDir(t), 'find-links');
  const over: Partial<Config> = {
    packageMatches: ['fakepkg-*', 'foo-bar'],
    findLinksDir: flat,
    maxDeletionsPercent: 100,
  };
  const first = await h.sync(over);
  assert.equal(first.failures.length, 0);
  const all = [
    ...ALPHA_FILES,
    'fakepkg_beta-2.0-py3-none-any.whl',
    'foo_bar-1.0-py3-none-any.whl',
    'foo_bar-1.0.tar.gz',
  ];
  assert.deepEqual((await readdir(flat)).sort(), all.sort()); // no pages, no .metadata
  assert.ok((await readdir(join(h.root, 'fakepkg-alpha'))).some((n) => n.endsWith('.metadata')));
  for (const name of ALPHA_FILES) {
    assert.equal(await inode(join(flat, name)), await inode(join(h.root, 'fakepkg-alpha', name)), name);
  }
  assert.deepEqual(
    await verifyTree(h.config(over), createLocalStorage(h.config(over).mirrorRoot), h.log, SIGNAL),
    [],
  );

  if (requirePip(t)) {
    const target = join(await makeTempDir(t), 'target');
    const pip = await pipInstall({
      indexUrl: 'file:///nonexistent/',
      target,
      packages: ['fakepkg-alpha'],
      extraArgs: ['--no-index', '--find-links', flat],
    });
    assert.equal(pip.code, 0, describePipResult(pip));
    assert.deepEqual(await installedDists(target), { 'fakepkg-alpha': '1.1', 'fakepkg-beta': '2.0' });
  }

  // A file and a project leave the selection: the flat directory loses them in the same run.
  const narrowed = { ...over, packageMatches: ['fakepkg-*'], filenameMatches: ['*.whl'] };
  const second = await h.sync(narrowed);
  assert.equal(second.deletionsHeld, null);
  const whls = [
    'fakepkg_alpha-1.0-py3-none-any.whl',
    'fakepkg_alpha-1.1-py3-none-any.whl',
    'fakepkg_beta-2.0-py3-none-any.whl',
  ];
  assert.deepEqual((await readdir(flat)).sort(), whls);
  assert.deepEqual(
    await verifyTree(h.config(narrowed), createLocalStorage(h.config(narrowed).mirrorRoot), h.log, SIGNAL),
    [],
  );

  // Upstream drops a file: gone from the tree and the flat directory together.
  h.fake.removeFile('fakepkg-alpha', 'fakepkg_alpha-1.0-py3-none-any.whl');
  await h.sync(narrowed);
  assert.deepEqual((await readdir(flat)).sort(), whls.slice(1));
  const record = await readFindLinksRecord(h.root);
  assert.deepEqual(Object.keys(record?.files ?? {}).sort(), whls.slice(1));
});

test('setting find_links_dir on an existing mirror fills it without a download; removing the key leaves it alone', async (t) => {
  const h = await startHarness(t);
  seedAlpha(h);
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'], maxDeletionsPercent: 100 };
  await h.sync(over);
  const flat = join(await makeTempDir(t), 'flat');
  h.fake.resetLog();
  await h.sync({ ...over, findLinksDir: flat });
  assert.deepEqual(fileRequests(h), []);
  assert.deepEqual((await readdir(flat)).sort(), [...ALPHA_FILES, 'fakepkg_beta-2.0-py3-none-any.whl']);

  // Unset: the directory stays as it is while the tree changes...
  h.fake.removeFile('fakepkg-alpha', 'fakepkg_alpha-1.0.tar.gz');
  await h.sync(over);
  assert.ok((await readdir(flat)).includes('fakepkg_alpha-1.0.tar.gz'));
  // ...and set again, it catches up with the tree, still without a download.
  h.fake.resetLog();
  await h.sync({ ...over, findLinksDir: flat });
  assert.deepEqual(fileRequests(h), []);
  assert.ok(!(await readdir(flat)).includes('fakepkg_alpha-1.0.tar.gz'));
  assert.deepEqual(
    await verifyTree(
      h.config({ ...over, findLinksDir: flat }),
      createLocalStorage(h.config({ ...over, findLinksDir: flat }).mirrorRoot),
      h.log,
      SIGNAL,
    ),
    [],
  );
});

test('find_links_dir is never taken from someone else, and a name in the way is neither overwritten nor removed', async (t) => {
  const h = await startHarness(t);
  seedAlpha(h);
  const flat = join(await makeTempDir(t), 'flat');
  await mkdir(flat);
  await writeFile(join(flat, 'notes.txt'), 'mine');
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'], findLinksDir: flat };
  await assert.rejects(h.sync(over), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /find_links_dir = ".*flat": is a non-empty directory that pypimirror did not fill \(it holds notes\.txt\)/,
    );
    return true;
  });
  assert.equal(h.fake.requests.length, 0);

  // An empty directory is taken; a file of someone else's under a mirrored name stays, with a warning.
  await rm(join(flat, 'notes.txt'));
  await h.sync({ ...over, packageMatches: ['fakepkg-beta'] });
  await writeFile(join(flat, 'fakepkg_alpha-1.0.tar.gz'), 'not ours');
  const report = await h.sync(over);
  assert.equal(report.failures.length, 0);
  assert.equal(await readFile(join(flat, 'fakepkg_alpha-1.0.tar.gz'), 'utf8'), 'not ours');
  assert.equal(h.log.find('a file pypimirror did not put there has the name', 'warn').length, 1);
  // verify says so; the file is still there after a cleanup that drops the project.
  const problems = await verifyTree(
    h.config(over),
    createLocalStorage(h.config(over).mirrorRoot),
    h.log,
    SIGNAL,
  );
  assert.deepEqual(
    problems.map((p) => [p.file, p.problem]),
    [['fakepkg_alpha-1.0.tar.gz', 'find_links']],
  );
  await h.sync({ ...over, packageMatches: ['fakepkg-beta'], maxDeletionsPercent: 100 });
  assert.deepEqual((await readdir(flat)).sort(), [
    'fakepkg_alpha-1.0.tar.gz',
    'fakepkg_beta-2.0-py3-none-any.whl',
  ]);
  assert.equal(await readFile(join(flat, 'fakepkg_alpha-1.0.tar.gz'), 'utf8'), 'not ours');
});

test('verify finds a flat directory out of step, and --repair with the sync after it puts it right', async (t) => {
  const { h, flat, over } = await startFlatMirror(t);
  const [whl10, sdist] = ALPHA_FILES as [string, string, string];
  await rm(join(flat, whl10));
  await rm(join(flat, sdist));
  await writeFile(join(flat, sdist), 'other bytes'); // ours by name, with other bytes
  const problems = await verifyTree(
    h.config(over),
    createLocalStorage(h.config(over).mirrorRoot),
    h.log,
    SIGNAL,
  );
  assert.deepEqual(
    problems.map((p) => [p.file, p.problem]),
    [
      [whl10, 'find_links'],
      [sdist, 'find_links'],
    ],
  );
  await repairTree(h.config(over), createLocalStorage(h.config(over).mirrorRoot), problems, h.log);
  h.fake.resetLog();
  await h.sync(over);
  assert.deepEqual(fileRequests(h), []);
  assert.deepEqual(
    await verifyTree(h.config(over), createLocalStorage(h.config(over).mirrorRoot), h.log, SIGNAL),
    [],
  );
  assert.equal(await inode(join(flat, sdist)), await inode(join(h.root, 'fakepkg-alpha', sdist)));
});

test('a run that stopped before the flat directory caught up, or its removal by hand, is made good by the next run', async (t) => {
  const { h, flat, over } = await startFlatMirror(t);
  // As a kill after the tree changed leaves it: the marker written, the directory behind.
  await writeFile(join(h.root, '.pypimirror/find-links.dirty'), '');
  await rm(join(flat, ALPHA_FILES[0] as string));
  await h.sync(over); // a no-op upstream
  assert.ok((await readdir(flat)).includes(ALPHA_FILES[0] as string));
  assert.deepEqual(
    await verifyTree(h.config(over), createLocalStorage(h.config(over).mirrorRoot), h.log, SIGNAL),
    [],
  );
  // The directory removed by hand is filled again.
  await rm(flat, { recursive: true });
  await h.sync(over);
  assert.deepEqual((await readdir(flat)).sort(), [...ALPHA_FILES, 'fakepkg_beta-2.0-py3-none-any.whl']);
});

test('on another file system (link fails EXDEV) the flat directory gets verified copies', async (t) => {
  const h = await startHarness(t);
  seedAlpha(h);
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'] };
  await h.sync(over);
  const flat = join(await makeTempDir(t), 'flat');
  const cfg = h.config({ ...over, findLinksDir: flat });
  const links: string[] = [];
  const exdev = {
    link: async (from: string, to: string): Promise<void> => {
      links.push(to);
      if (from.startsWith(h.root)) {
        throw Object.assign(new Error(`EXDEV: cross-device link not permitted, link '${from}' -> '${to}'`), {
          code: 'EXDEV',
        });
      }
      await link(from, to);
    },
    copyFile: (src: string, dest: string, mode: number) => copyFile(src, dest, mode),
  };
  const findLinks = await openFindLinks(cfg, createLocalStorage(cfg.mirrorRoot), h.log, new Date(), exdev);
  assert.ok(findLinks !== null);
  const changes = await findLinks.update(new Set());
  assert.deepEqual(changes, { added: 4, replaced: 0, removed: 0, clashes: 0, failed: 0 });
  assert.equal(links.length, 4);
  for (const name of ALPHA_FILES) {
    const [copied, tree] = [join(flat, name), join(h.root, 'fakepkg-alpha', name)];
    assert.notEqual(await inode(copied), await inode(tree));
    assert.deepEqual(await readFile(copied), await readFile(tree));
    assert.equal((await stat(copied)).mode & 0o777, 0o644);
  }
  const record = await readFindLinksRecord(h.root);
  assert.equal(record?.files[ALPHA_FILES[0] as string]?.isCopy, true);
  assert.deepEqual(await readdir(flat).then((n) => n.filter((x) => x.endsWith('.tmp'))), []);
  assert.deepEqual(await verifyTree(cfg, createLocalStorage(cfg.mirrorRoot), h.log, SIGNAL), []);
  // A copy with other bytes is found by verify (a hard link would share the tree's inode).
  await writeFile(join(flat, ALPHA_FILES[2] as string), 'rotten');
  const problems = await verifyTree(cfg, createLocalStorage(cfg.mirrorRoot), h.log, SIGNAL);
  assert.deepEqual(
    problems.map((p) => p.file),
    [ALPHA_FILES[2]],
  );
  assert.match(problems[0]?.detail ?? '', /has sha256 [0-9a-f]{64}, the tree's file [0-9a-f]{64}/);
  // Nothing was written outside the flat directory and the state.
  assert.ok(!(await listTree(h.root)).some((f) => f.includes('.tmp')));
  assert.ok((await stat(findLinksRecordPath(h.root))).isFile());
});

test('a file name two projects list stays with the project it is named after, with a warning', async (t) => {
  const h = await startHarness(t);
  seedAlpha(h);
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'] };
  await h.sync(over);
  // A project ("evil" sorts first) whose record lists other bytes under fakepkg-alpha's file name: the fake
  // upstream refuses such a catalogue, so the record is written as a sync would write it.
  const sdist = 'fakepkg_alpha-1.0.tar.gz';
  const bytes = Buffer.from('not fakepkg-alpha');
  const alpha = await readRecord(createLocalStorage(h.root), 'fakepkg-alpha');
  const file = alpha?.files.find((f) => f.filename === sdist);
  assert.ok(alpha !== null && file !== undefined);
  await mkdir(join(h.root, 'evil'));
  await writeFile(join(h.root, 'evil', sdist), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const files = [{ ...file, sha256, size: bytes.length, metadataSha256: null }];
  await writeRecord(createLocalStorage(h.root), { ...alpha, name: 'evil', displayName: 'evil', files });
  const flat = join(await makeTempDir(t), 'flat');
  const cfg = h.config({ ...over, findLinksDir: flat });
  const findLinks = await openFindLinks(cfg, createLocalStorage(cfg.mirrorRoot), h.log, new Date());
  assert.ok(findLinks !== null);
  const changes = await findLinks.update(new Set());
  assert.equal(changes.clashes, 1);
  assert.equal(await inode(join(flat, sdist)), await inode(join(h.root, 'fakepkg-alpha', sdist)));
  const warned = h.log.find('two projects list a file of the same name', 'warn');
  assert.deepEqual(
    warned.map((r) => [r.fields['project'], r.fields['heldBy']]),
    [['evil', 'fakepkg-alpha']],
  );
  const problems = await verifyTree(cfg, createLocalStorage(cfg.mirrorRoot), h.log, SIGNAL);
  assert.deepEqual(
    problems.map((p) => [p.project, p.file, p.problem]),
    [['evil', sdist, 'find_links']],
  );
  assert.match(problems[0]?.detail ?? '', /the name is project fakepkg-alpha's there/);
});

test('on a second file system for real (/dev/shm, when the machine has one) the flat directory gets copies', async (t) => {
  const shm = '/dev/shm';
  const isOther = await stat(shm).then(
    async (info) => info.isDirectory() && info.dev !== (await stat(tmpdir())).dev,
    () => false,
  );
  if (!isOther) {
    t.skip(`${shm} is not a second file system here: the injected-EXDEV test covers the copies`);
    return;
  }
  const flat = await mkdtemp(join(shm, 'pypimirror-flat-'));
  t.after(() => rm(flat, { recursive: true, force: true }));
  const h = await startHarness(t);
  seedAlpha(h);
  const over: Partial<Config> = { packageMatches: ['fakepkg-*'], findLinksDir: flat };
  await h.sync(over);
  for (const name of ALPHA_FILES) {
    assert.deepEqual(await readFile(join(flat, name)), await readFile(join(h.root, 'fakepkg-alpha', name)));
  }
  const record = await readFindLinksRecord(h.root);
  assert.ok(Object.values(record?.files ?? {}).every((e) => e.isCopy === true));
  assert.deepEqual(
    await verifyTree(h.config(over), createLocalStorage(h.config(over).mirrorRoot), h.log, SIGNAL),
    [],
  );
});
