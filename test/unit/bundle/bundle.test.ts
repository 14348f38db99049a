// The pure parts of bundles (issue #16): tar headers (ustar and pax), the export plan, canonical JSON, the
// manifest check and the command line of export, import and keygen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalJson,
  memberNames,
  planExport,
  exportedProject,
  whyManifestInvalid,
} from '../../../src/bundle/manifest.js';
import {
  BLOCK,
  memberHeader,
  memberSpan,
  parseHeaderBlock,
  parsePaxRecords,
} from '../../../src/bundle/tar.js';
import { parseVolumeSize } from '../../../src/bundle/volume-size.js';
import { parseCli, UsageError } from '../../../src/cli.js';
import type { LocalFile, ProjectRecord } from '../../../src/model/record.js';
import { emptyRecord } from '../../../src/sync/project.js';

function file(filename: string, sha: string, metadata: string | null = null): LocalFile {
  return {
    filename,
    sha256: sha.repeat(64),
    size: 10,
    url: `https://x.invalid/${filename}`,
    upstreamHashes: {},
    requiresPython: null,
    yanked: null,
    uploadTime: null,
    metadataSha256: metadata === null ? null : metadata.repeat(64),
  };
}

function record(name: string, files: LocalFile[]): ProjectRecord {
  return { ...emptyRecord(name, name), files };
}

describe('tar headers', () => {
  it('reads back a short name as one ustar block, and a long one through a pax path record', () => {
    const short = memberHeader('demo/demo-1.0.tar.gz', 1234);
    assert.equal(short.length, BLOCK);
    assert.deepEqual(parseHeaderBlock(short), { kind: 'file', name: 'demo/demo-1.0.tar.gz', size: 1234 });
    const name = `${'p'.repeat(150)}/${'f'.repeat(150)}.whl.part12`;
    const long = memberHeader(name, 5);
    assert.equal(long.length, 3 * BLOCK);
    const pax = parseHeaderBlock(long.subarray(0, BLOCK));
    assert.equal(pax.kind, 'pax');
    const size = 'size' in pax ? pax.size : 0;
    assert.equal(parsePaxRecords(long.subarray(BLOCK, BLOCK + size)).path, name);
    assert.equal(memberSpan(name, 5), 4 * BLOCK);
  });

  it('refuses a header whose checksum is wrong, and a member type volumes never hold', () => {
    const header = memberHeader('a/b', 1);
    header[0] = 'x'.charCodeAt(0);
    assert.throws(() => parseHeaderBlock(header), /checksum/);
    assert.deepEqual(parseHeaderBlock(Buffer.alloc(BLOCK)), { kind: 'end' });
  });
});

describe('planExport', () => {
  const a1 = record('a', [file('a-1.whl', '1', '2')]);
  it('carries every file the first time, and only new bytes, changed records and removals after', () => {
    const first = planExport(null, [a1]);
    assert.deepEqual(
      first.files.map((f) => f.path),
      ['a-1.whl', 'a-1.whl.metadata'],
    );
    const previous = { a: exportedProject(a1), gone: exportedProject(record('gone', [file('g.whl', '3')])) };
    const a2 = record('a', [file('a-2.whl', '4')]);
    const next = planExport(previous, [a2]);
    assert.deepEqual(
      next.files.map((f) => f.path),
      ['a-2.whl'],
    );
    assert.deepEqual(next.removals, { projects: ['gone'], files: ['a/a-1.whl', 'a/a-1.whl.metadata'] });
    assert.deepEqual(planExport({ a: exportedProject(a1) }, [a1]).projects, []);
  });
});

describe('manifest', () => {
  it('is canonical JSON: keys sorted at every depth, no spaces', () => {
    assert.equal(canonicalJson({ b: [{ d: 1, c: 'x' }], a: null }), '{"a":null,"b":[{"c":"x","d":1}]}');
  });

  it('names a split file part by part', () => {
    const split = { project: 'a', path: 'a.whl', size: 3, sha256: '', parts: 3 };
    assert.deepEqual(memberNames(split), ['a/a.whl.part1', 'a/a.whl.part2', 'a/a.whl.part3']);
    assert.deepEqual(memberNames({ ...split, parts: 1 }), ['a/a.whl']);
  });

  it('refuses a file its record does not hold, and a path out of the tree', () => {
    const base = {
      format: 'pypimirror-bundle',
      formatVersion: 1,
      origin: '0123456789ab',
      id: 'pypimirror-0123456789ab-000001',
      sequence: 1,
      volumes: [],
      projects: [record('a', [file('a-1.whl', '1')])],
      removals: { projects: [], files: [] },
    };
    assert.equal(whyManifestInvalid({ ...base, files: [] }), null);
    const stray = { project: 'a', path: '../../etc/passwd', size: 1, sha256: '1'.repeat(64), parts: 1 };
    assert.match(whyManifestInvalid({ ...base, files: [stray] }) ?? '', /not one its project's record holds/);
    const unsafe = record('a', [{ ...file('a-1.whl', '1'), path: '../a-1.whl' }]);
    assert.match(whyManifestInvalid({ ...base, files: [], projects: [unsafe] }) ?? '', /unsafe path/);
  });

  it('reads volume sizes', () => {
    assert.equal(parseVolumeSize('4G'), 4 * 1024 ** 3);
    assert.equal(parseVolumeSize('700m'), 700 * 1024 ** 2);
    assert.equal(parseVolumeSize('4 GB'), null);
  });
});

describe('the command line of export, import and keygen', () => {
  it('takes CONFIG then operands', () => {
    const exp = parseCli(['export', 'a.cfg', 'out', '--full', '--max-volume', '1G']);
    assert.deepEqual(
      [exp.command, exp.configPath, exp.operands, exp.full, exp.maxVolume],
      ['export', 'a.cfg', ['out'], true, 1024 ** 3],
    );
    const imp = parseCli(['import', 'b.cfg', 'x', 'y', '--dry-run']);
    assert.deepEqual(
      [imp.command, imp.configPath, imp.operands, imp.dryRun],
      ['import', 'b.cfg', ['x', 'y'], true],
    );
    const keygen = parseCli(['keygen', '/etc/keys']);
    assert.deepEqual([keygen.command, keygen.configPath, keygen.operands], ['keygen', null, ['/etc/keys']]);
  });

  it('says what is missing or misplaced', () => {
    assert.throws(() => parseCli(['export', 'a.cfg']), UsageError);
    assert.throws(() => parseCli(['import', 'a.cfg']), UsageError);
    assert.throws(() => parseCli(['keygen']), UsageError);
    assert.throws(
      () => parseCli(['sync', 'a.cfg', '--full']),
      /--full and --max-volume go with the export command/,
    );
    assert.throws(() => parseCli(['export', 'a.cfg', 'out', '--max-volume', '1K']), /at least 64K/);
    assert.throws(() => parseCli(['export', 'a.cfg', 'out', '--dry-run']), /do not go with export/);
  });
});
