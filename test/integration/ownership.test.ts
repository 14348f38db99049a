// The mirror root's ownership and removal by records (src/mirror/ownership.ts), on a real file system.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import {
  claimRoot,
  initRoot,
  inspectRoot,
  removeOwnedProject,
  whyProjectDirIsNotOurs,
} from '../../src/mirror/ownership.js';
import type { ProjectRecord } from '../../src/model/record.js';
import { createCaptureLogger } from '../helpers/capture-logger.js';
import { makeConfig } from '../helpers/config.js';
import { buildWheel } from '../helpers/dist-builder.js';
import { startHarness } from '../helpers/sync-harness.js';
import { makeTempDir } from '../helpers/tree.js';
import { createLocalStorage } from '../../src/storage/local.js';

const LOCK = '.pypimirror.lock';

test('inspectRoot tells missing, empty (our lock aside), ours, an earlier version, foreign and refused apart', async (t) => {
  const dir = await makeTempDir(t);
  const at = (name: string): string => join(dir, name);
  const verdict = async (name: string): Promise<string> => {
    const v = await inspectRoot(createLocalStorage(at(name)), join(at(name), LOCK));
    return v.kind === 'foreign'
      ? `foreign: ${v.entries.join(' ')}`
      : v.kind === 'refused'
        ? `refused: ${v.problem}`
        : v.kind;
  };
  await mkdir(at('empty/.pypimirror.lock'), { recursive: true });
  await writeFile(at('empty/.pypimirror.lock.owner'), '{}');
  await writeFile(at('empty/.index.html.0123456789ab.tmp'), '');
  await mkdir(at('older/.pypimirror'), { recursive: true });
  await writeFile(at('older/.pypimirror/state.json'), '{}');
  await mkdir(at('foreign/docs'), { recursive: true });
  await writeFile(at('foreign/.notes.tmp'), '');
  await writeFile(at('file'), '');
  await mkdir(at('linked'));
  await symlink(dir, at('linked/.pypimirror'));
  const cases: [string, string][] = [
    ['missing/deeper', 'missing'],
    ['empty', 'empty'],
    ['older', 'ours'],
    ['foreign', 'foreign: .notes.tmp docs'],
    ['file', 'refused: is a regular file, not a directory'],
    ['file/below', 'refused: cannot be read (ENOTDIR: not a directory, stat'],
    ['linked', 'refused: holds'],
  ];
  for (const [name, expected] of cases)
    assert.ok((await verdict(name)).startsWith(expected), `${name}: ${await verdict(name)}`);
  const cfg = makeConfig({ mirrorRoot: at('missing/deeper'), indexUrl: 'http://127.0.0.1:9/simple/' });
  assert.deepEqual((await claimRoot(cfg, createLocalStorage(cfg.mirrorRoot))).foreign, []);
  assert.equal(await verdict('missing/deeper'), 'ours', 'claimed: created with its marker');
  assert.equal(((await stat(at('missing'))).mode & 0o777).toString(8), '755');
  t.diagnostic(`cases: ${cases.length + 1}`);
});

test('claimRoot refuses a foreign root with a ConfigError naming it; init --adopt records what is there', async (t) => {
  const dir = await makeTempDir(t);
  const cfg = makeConfig({ mirrorRoot: dir, indexUrl: 'http://127.0.0.1:9/simple/', file: '/etc/p.cfg' });
  await mkdir(join(dir, 'docs'));
  await writeFile(join(dir, 'README'), 'theirs\n');
  await assert.rejects(claimRoot(cfg, createLocalStorage(cfg.mirrorRoot)), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /mirror_file_path = ".*": is a non-empty directory that pypimirror did not write \(it holds README, docs\)/,
    );
    assert.match(err.message, /run "pypimirror init \/etc\/p\.cfg --adopt"/);
    return true;
  });
  await assert.rejects(initRoot(cfg, createLocalStorage(cfg.mirrorRoot), false), ConfigError);
  await writeFile(join(dir, 'index.html'), 'their home page\n');
  await assert.rejects(
    initRoot(cfg, createLocalStorage(cfg.mirrorRoot), true),
    /holds index\.html, which pypimirror writes as the root page/,
  );
  assert.equal(await readFile(join(dir, 'index.html'), 'utf8'), 'their home page\n');
  await rm(join(dir, 'index.html'));
  assert.match(await initRoot(cfg, createLocalStorage(cfg.mirrorRoot), true), /adopted: 2 entries/);
  assert.deepEqual((await claimRoot(cfg, createLocalStorage(cfg.mirrorRoot))).foreign, ['README', 'docs']);
  assert.match(await initRoot(cfg, createLocalStorage(cfg.mirrorRoot), true), /already a pypimirror mirror/);
  t.diagnostic('cases: 5');
});

test('an adopted directory named like a project is never written, even when empty', async (t) => {
  const h = await startHarness(t);
  h.fake.addProject('docs', [buildWheel({ name: 'docs', version: '1.0' })]);
  h.fake.addProject('demo-lib', [buildWheel({ name: 'demo-lib', version: '1.0' })]);
  await mkdir(join(h.root, 'docs'));
  await initRoot(h.config(), createLocalStorage(h.config().mirrorRoot), true);
  const report = await h.sync();
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await readdir(join(h.root, 'docs')), []);
  assert.equal(h.log.find('project skipped', 'warn').length, 1);
  assert.ok((await readdir(join(h.root, 'demo-lib'))).includes('index.html'));
});

function recordOf(name: string, files: string[]): ProjectRecord {
  return {
    formatVersion: 1,
    name,
    displayName: name,
    serial: null,
    etag: null,
    lastModified: null,
    status: null,
    statusReason: null,
    versions: [],
    upstreamFiles: [],
    files: files.map((filename) => ({
      filename,
      url: `http://x/${filename}`,
      upstreamHashes: {},
      requiresPython: null,
      yanked: null,
      uploadTime: null,
      sha256: '0'.repeat(64),
      size: 1,
      metadataSha256: null,
    })),
  } as unknown as ProjectRecord;
}

test('removal by records: only the recorded files, their .metadata, our pages and temp files; the directory only when empty', async (t) => {
  const root = await makeTempDir(t);
  const log = createCaptureLogger();
  const dir = join(root, 'demo');
  await mkdir(join(dir, 'their-dir'), { recursive: true });
  for (const name of [
    'a-1.0.whl',
    'a-1.0.whl.metadata',
    'index.html',
    'index.v1_json',
    '.a-1.0.whl.0123456789ab.tmp',
    'theirs.txt',
    'b-1.0.whl',
  ]) {
    await writeFile(join(dir, name), name);
  }
  assert.equal(
    await removeOwnedProject(createLocalStorage(root), 'demo', recordOf('demo', ['a-1.0.whl']), log),
    1,
  );
  assert.deepEqual((await readdir(dir)).sort(), ['b-1.0.whl', 'their-dir', 'theirs.txt']);
  assert.equal(log.find('project directory kept', 'warn').length, 1);

  await mkdir(join(root, 'clean'));
  await writeFile(join(root, 'clean/x-1.whl'), '');
  await writeFile(join(root, 'clean/index.html'), '');
  assert.equal(
    await removeOwnedProject(createLocalStorage(root), 'clean', recordOf('clean', ['x-1.whl']), log),
    1,
  );
  await assert.rejects(stat(join(root, 'clean')), /ENOENT/);

  // A symlink where the project directory was: left alone, and what it points at too.
  const outside = await makeTempDir(t);
  await writeFile(join(outside, 'x-1.whl'), 'outside');
  await symlink(outside, join(root, 'linked'));
  assert.equal(
    await removeOwnedProject(createLocalStorage(root), 'linked', recordOf('linked', ['x-1.whl']), log),
    0,
  );
  assert.equal(await readFile(join(outside, 'x-1.whl'), 'utf8'), 'outside');
  assert.equal(log.find('project directory left alone', 'warn').length, 1);

  assert.match(
    (await whyProjectDirIsNotOurs(createLocalStorage(root), 'linked', true, new Set())) ?? '',
    /is a symbolic link/,
  );
  assert.match(
    (await whyProjectDirIsNotOurs(createLocalStorage(root), 'demo', false, new Set())) ?? '',
    /holds entries pypimirror did not write \(b-1\.0\.whl, their-dir, theirs\.txt\)/,
  );
  assert.equal(
    await whyProjectDirIsNotOurs(createLocalStorage(root), 'demo', true, new Set()),
    null,
    'with a record it is ours',
  );
  assert.equal(await whyProjectDirIsNotOurs(createLocalStorage(root), 'nothing-yet', false, new Set()), null);
  assert.match(
    (await whyProjectDirIsNotOurs(
      createLocalStorage(root),
      'nothing-yet',
      false,
      new Set(['nothing-yet']),
    )) ?? '',
    /before pypimirror adopted it/,
  );
  t.diagnostic('cases: 8');
});
