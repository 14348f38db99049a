// bench --scale-dir (bench/scale-dir.ts): a kept scale mirror is reused only when its marker matches the
// run's parameters and its records are all there; it is put back as written first (what a scenario added
// goes, the root pages and state are written again); any mismatch writes it afresh.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MirroredProject } from '../../../src/mirror/state.js';
import { keptScaleMirror, type ScaleMirrorWriter } from '../../../bench/scale-dir.js';
import { makeTempDir } from '../../helpers/tree.js';

/** A writer of a two-project mirror that counts what it is asked to do. */
function countingWriter(): ScaleMirrorWriter & { generated: number; rooted: number } {
  const projects: Record<string, MirroredProject> = {
    'scale-p000000': { displayName: 'scale-p000000', serial: 1, files: 1 },
    'scale-p000001': { displayName: 'scale-p000001', serial: 2, files: 1 },
  };
  const writer = {
    generated: 0,
    rooted: 0,
    async generate(root: string) {
      writer.generated++;
      await mkdir(join(root, '.pypimirror', 'projects'), { recursive: true });
      for (const name of Object.keys(projects)) {
        await mkdir(join(root, name));
        await writeFile(join(root, '.pypimirror', 'projects', `${name}.json`), '{}');
      }
      return projects;
    },
    async writeRootAndState(root: string) {
      writer.rooted++;
      await writeFile(join(root, 'index.html'), 'root');
    },
  };
  return writer;
}

test('a kept scale mirror is reused when its marker matches, put back as written, and rewritten on a mismatch', async (t) => {
  const dir = await makeTempDir(t);
  const params = { projects: 2, files: 2, lastSerial: 9 };
  const writer = countingWriter();
  const log = (): void => {};
  const root = await keptScaleMirror(dir, params, writer, log);
  assert.equal(writer.generated, 1);

  // A scenario added a project: the reuse removes it and writes the root and state again.
  await mkdir(join(root, 'scale-new000000'));
  await writeFile(join(root, '.pypimirror', 'projects', 'scale-new000000.json'), '{}');
  assert.equal(await keptScaleMirror(dir, params, writer, log), root);
  assert.deepEqual([writer.generated, writer.rooted], [1, 1]);
  assert.deepEqual((await readdir(root)).sort(), [
    '.pypimirror',
    'index.html',
    'scale-p000000',
    'scale-p000001',
  ]);
  assert.deepEqual((await readdir(join(root, '.pypimirror', 'projects'))).sort(), [
    'scale-p000000.json',
    'scale-p000001.json',
  ]);

  // Other parameters: written afresh, never reused.
  await keptScaleMirror(dir, { ...params, lastSerial: 10 }, writer, log);
  assert.equal(writer.generated, 2);
  // A record missing: written afresh too.
  await rm(join(dir, 'mirror', '.pypimirror', 'projects', 'scale-p000001.json'));
  await keptScaleMirror(dir, { ...params, lastSerial: 10 }, writer, log);
  assert.equal(writer.generated, 3);
  assert.ok((await stat(join(dir, 'scale-mirror.json'))).isFile());
});
