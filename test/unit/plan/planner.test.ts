import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LocalFile, ProjectRecord } from '../../../src/model/record.js';
import { compileFilters } from '../../../src/plan/filters.js';
import { judgePage, namingDigest, orderFiles, planProject } from '../../../src/plan/planner.js';
import type { ProjectPage, UpstreamFile } from '../../../src/model/upstream.js';
import { localFile } from '../../helpers/local-file.js';

const hex = (c: string): string => c.repeat(64);

function up(filename: string, sha = hex('a'), over: Partial<UpstreamFile> = {}): UpstreamFile {
  return {
    filename,
    url: `https://files.example/${filename}`,
    hashes: { sha256: sha },
    size: 10,
    requiresPython: null,
    yanked: null,
    coreMetadata: null,
    uploadTime: null,
    ...over,
  };
}

function local(filename: string, sha = hex('a'), over: Partial<LocalFile> = {}): LocalFile {
  return localFile(filename, sha, over);
}

function page(files: UpstreamFile[], over: Partial<ProjectPage> = {}): ProjectPage {
  return {
    name: 'demo',
    files,
    versions: [],
    serial: 5,
    etag: null,
    lastModified: null,
    status: null,
    statusReason: null,
    ...over,
  };
}

function rec(files: LocalFile[]): ProjectRecord {
  return {
    formatVersion: 1,
    name: 'demo',
    displayName: 'demo',
    serial: 4,
    etag: null,
    lastModified: null,
    status: null,
    statusReason: null,
    versions: [],
    upstreamFiles: [],
    files,
  };
}

const all = compileFilters([], []);
const onlyWheels = compileFilters([], ['*.whl']);
const allowed = { cleanup: true, isDeletionAllowed: true };

test('new project: every selected file is downloaded', () => {
  const plan = planProject(
    page([up('demo-1.0.tar.gz'), up('demo-1.0-py3-none-any.whl')]),
    null,
    onlyWheels,
    allowed,
  );
  assert.deepEqual(
    plan.download.map((f) => f.filename),
    ['demo-1.0-py3-none-any.whl'],
  );
  assert.deepEqual([plan.keep, plan.retain, plan.remove], [[], [], []]);
});

test('files on disk with the upstream hash are kept, not fetched again; attributes refreshed', () => {
  const plan = planProject(
    page([up('demo-1.0.tar.gz', hex('a'), { yanked: 'bad', requiresPython: '>=3' })]),
    rec([local('demo-1.0.tar.gz')]),
    all,
    allowed,
  );
  assert.deepEqual(plan.download, []);
  assert.equal(plan.keep[0]?.yanked, 'bad');
  assert.equal(plan.keep[0]?.requiresPython, '>=3');
});

test('a changed hash for the same name is held by default: the mirrored file is kept as it is, not fetched', () => {
  const mirrored = local('demo-1.0.tar.gz', hex('a'), { yanked: null });
  const plan = planProject(
    page([up('demo-1.0.tar.gz', hex('b'), { yanked: 'oops' })]),
    rec([mirrored]),
    all,
    allowed,
  );
  assert.deepEqual(plan.download, []);
  assert.deepEqual(plan.replace, []);
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(
    plan.held.map((c) => [c.local.sha256, c.upstream.hashes['sha256']]),
    [[hex('a'), hex('b')]],
  );
  // The page keeps linking the mirrored bytes with their own hash; the upstream's new digest is remembered.
  const kept = plan.keep[0];
  assert.equal(kept?.sha256, hex('a'));
  assert.deepEqual(kept?.upstreamHashes, { sha256: hex('a') });
  assert.deepEqual(kept?.heldUpstreamHashes, { sha256: hex('b') });
  assert.equal(kept?.yanked, 'oops', "the name's attributes are still refreshed");
});

test('a held change is held again next run, and is over once upstream serves the mirrored bytes again', () => {
  const first = planProject(
    page([up('demo-1.0.tar.gz', hex('b'))]),
    rec([local('demo-1.0.tar.gz')]),
    all,
    allowed,
  );
  const again = planProject(page([up('demo-1.0.tar.gz', hex('b'))]), rec([...first.keep]), all, allowed);
  assert.equal(again.held.length, 1);
  assert.deepEqual(again.download, []);
  const back = planProject(page([up('demo-1.0.tar.gz', hex('a'))]), rec([...again.keep]), all, allowed);
  assert.deepEqual(back.held, []);
  assert.equal(back.keep[0]?.heldUpstreamHashes, undefined);
});

test('with allow_replaced_files, a changed hash is replaced: downloaded (to a new path), never removed as a deletion', () => {
  for (const opts of [
    { ...allowed, allowReplacedFiles: true },
    { cleanup: false, isDeletionAllowed: false, allowReplacedFiles: true },
  ]) {
    const mirrored = local('demo-1.0.tar.gz');
    const plan = planProject(page([up('demo-1.0.tar.gz', hex('b'))]), rec([mirrored]), all, opts);
    assert.deepEqual(
      plan.download.map((f) => f.filename),
      ['demo-1.0.tar.gz'],
    );
    assert.deepEqual(
      plan.replace.map((c) => [c.local, c.upstream.hashes['sha256']]),
      [[mirrored, hex('b')]],
    );
    assert.deepEqual([plan.keep, plan.retain, plan.remove, plan.held], [[], [], [], []]);
  }
});

test('with allow_replaced_files but no digest upstream to name the new bytes by, a change is held', () => {
  const sizeOnly = up('demo-1.0.tar.gz', hex('a'), { hashes: {}, size: 11 });
  const plan = planProject(page([sizeOnly]), rec([local('demo-1.0.tar.gz')]), all, {
    ...allowed,
    allowReplacedFiles: true,
  });
  assert.deepEqual([plan.download, plan.replace], [[], []]);
  assert.equal(plan.held.length, 1);
});

test('namingDigest: sha256 first, else the strongest other digest, lower case; null without one', () => {
  assert.equal(namingDigest(up('a.whl', hex('b'))), hex('b'));
  assert.equal(
    namingDigest(up('a.whl', hex('b'), { hashes: { md5: 'AB'.repeat(16), sha1: 'c'.repeat(40) } })),
    'c'.repeat(40),
  );
  assert.equal(namingDigest(up('a.whl', hex('b'), { hashes: { md5: 'AB'.repeat(16) } })), 'ab'.repeat(16));
  assert.equal(namingDigest(up('a.whl', hex('b'), { hashes: {} })), null);
  assert.equal(namingDigest(up('a.whl', hex('b'), { hashes: { sha256: '../etc' } })), null);
});

test('cleanup removes files gone upstream or no longer selected', () => {
  const plan = planProject(
    page([up('demo-1.0.tar.gz'), up('demo-1.0-py3-none-any.whl')]),
    rec([local('demo-0.9.tar.gz'), local('demo-1.0.tar.gz'), local('demo-1.0-py3-none-any.whl')]),
    onlyWheels,
    allowed,
  );
  assert.deepEqual(plan.remove, ['demo-0.9.tar.gz', 'demo-1.0.tar.gz']);
  assert.deepEqual(
    plan.keep.map((f) => f.filename),
    ['demo-1.0-py3-none-any.whl'],
  );
});

test('cleanup off, or deletions held: such files are retained', () => {
  for (const opts of [
    { cleanup: false, isDeletionAllowed: true },
    { cleanup: true, isDeletionAllowed: false },
  ]) {
    const plan = planProject(
      page([up('demo-1.0.tar.gz')]),
      rec([local('demo-0.9.tar.gz'), local('demo-1.0.tar.gz')]),
      all,
      opts,
    );
    assert.deepEqual(plan.remove, []);
    assert.deepEqual(
      plan.retain.map((f) => f.filename),
      ['demo-0.9.tar.gz'],
    );
  }
});

test('an empty upstream page never empties a mirrored project', () => {
  const plan = planProject(page([]), rec([local('demo-1.0.tar.gz')]), all, allowed);
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(
    plan.retain.map((f) => f.filename),
    ['demo-1.0.tar.gz'],
  );
});

test('a quarantined project exposes no files (PEP 792)', () => {
  const plan = planProject(
    page([up('demo-1.0.tar.gz')], { status: 'quarantined' }),
    rec([local('demo-1.0.tar.gz')]),
    all,
    allowed,
  );
  assert.deepEqual(plan.download, []);
  assert.deepEqual(plan.remove, ['demo-1.0.tar.gz']);
});

test('metadata newly offered for a kept file is fetched', () => {
  const plan = planProject(
    page([up('demo-1.0-py3-none-any.whl', hex('a'), { coreMetadata: { sha256: hex('c') } })]),
    rec([local('demo-1.0-py3-none-any.whl')]),
    all,
    allowed,
  );
  assert.deepEqual(
    plan.fetchMetadata.map((f) => f.filename),
    ['demo-1.0-py3-none-any.whl'],
  );
});

test('without sha256 upstream, other digests decide identity', () => {
  const md5Only = up('demo-1.0.tar.gz', hex('a'), { hashes: { md5: 'f'.repeat(32) } });
  const same = local('demo-1.0.tar.gz', hex('a'), { upstreamHashes: { md5: 'f'.repeat(32) } });
  assert.deepEqual(planProject(page([md5Only]), rec([same]), all, allowed).download, []);
  const other = local('demo-1.0.tar.gz', hex('a'), { upstreamHashes: { md5: 'e'.repeat(32) } });
  assert.equal(planProject(page([md5Only]), rec([other]), all, allowed).held.length, 1);
  const replacing = { ...allowed, allowReplacedFiles: true };
  assert.equal(planProject(page([md5Only]), rec([other]), all, replacing).download.length, 1);
});

test('orderFiles: upstream order, then files no longer upstream', () => {
  const p = page([up('b'), up('a')]);
  assert.deepEqual(
    orderFiles(p, [local('a'), local('old'), local('b')]).map((f) => f.filename),
    ['b', 'a', 'old'],
  );
});

// ---- suspect pages (issue #10): a page that may be cut short or suddenly lost most files shrinks nothing ----

const three = ['demo-1.0.tar.gz', 'demo-1.1.tar.gz', 'demo-1.2.tar.gz'];

test('a page that drops more than half of the mirrored files (and more than one) is suspect: all retained', () => {
  const plan = planProject(page([up(three[0] ?? '')]), rec(three.map((f) => local(f))), all, allowed);
  assert.deepEqual(plan.suspect, { reason: 'shrank', dropped: 2, mirrored: 3 });
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.unlinked, []);
  assert.deepEqual(
    plan.retain.map((f) => f.filename),
    three.slice(1),
  );
});

test('a page dropping one file, or no more than half, is not suspect', () => {
  const one = planProject(
    page(three.slice(0, 2).map((f) => up(f))),
    rec(three.map((f) => local(f))),
    all,
    allowed,
  );
  assert.equal(one.suspect, null);
  assert.deepEqual(one.remove, ['demo-1.2.tar.gz']);
  const four = [...three, 'demo-1.3.tar.gz'];
  const half = planProject(
    page(four.slice(0, 2).map((f) => up(f))),
    rec(four.map((f) => local(f))),
    all,
    allowed,
  );
  assert.equal(half.suspect, null);
  assert.deepEqual(half.remove, ['demo-1.2.tar.gz', 'demo-1.3.tar.gz']);
  assert.equal(judgePage(page([up('new.tar.gz')]), rec([local('old.tar.gz')])), null, '1 of 1: one file');
});

test('a page whose body may have ended early never removes a file, but may add files', () => {
  const cut = page([up(three[0] ?? ''), up('demo-2.0.tar.gz')], { isMaybeTruncated: true });
  const plan = planProject(cut, rec(three.slice(0, 2).map((f) => local(f))), all, allowed);
  assert.deepEqual(plan.suspect, { reason: 'truncated', dropped: 1, mirrored: 2 });
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(
    plan.download.map((f) => f.filename),
    ['demo-2.0.tar.gz'],
  );
  // Cut short but nothing dropped: nothing to suspect.
  assert.equal(judgePage(cut, rec([local(three[0] ?? '')])), null);
});

test('an empty page is suspect; a quarantined one is not; --allow-deletions trusts every page', () => {
  assert.deepEqual(judgePage(page([]), rec([local('a.tar.gz')])), {
    reason: 'empty',
    dropped: 1,
    mirrored: 1,
  });
  assert.equal(judgePage(page([], { status: 'quarantined' }), rec([local('a.tar.gz')])), null);
  const trusted = planProject(page([up(three[0] ?? '')]), rec(three.map((f) => local(f))), all, {
    ...allowed,
    isPageTrusted: true,
  });
  assert.equal(trusted.suspect, null);
  assert.deepEqual(trusted.remove, three.slice(1));
});

test('while the run decides, files to remove are retained and listed as unlinked; deselected ones too', () => {
  const plan = planProject(
    page([up('demo-1.0.tar.gz'), up('demo-1.0-py3-none-any.whl')]),
    rec([local('demo-0.9.tar.gz'), local('demo-1.0.tar.gz'), local('demo-1.0-py3-none-any.whl')]),
    onlyWheels,
    { cleanup: true, isDeletionAllowed: false },
  );
  assert.equal(plan.suspect, null, 'one file dropped upstream; the other is deselected, not dropped');
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.unlinked, ['demo-0.9.tar.gz', 'demo-1.0.tar.gz']);
  assert.deepEqual(
    plan.retain.map((f) => f.filename),
    ['demo-0.9.tar.gz', 'demo-1.0.tar.gz'],
  );
  const off = planProject(page([]), rec([local('a.tar.gz')]), all, {
    cleanup: false,
    isDeletionAllowed: true,
  });
  assert.deepEqual(off.unlinked, [], 'cleanup off: nothing to decide');
});
