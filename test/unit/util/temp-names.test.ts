// Temp names (src/util/fs.ts tempPathFor): hidden, beside the target, `.<name>.<12 hex>.tmp` as
// model/layout.ts recognises them, and no two alike across the refills of their random bytes.
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { test } from 'node:test';
import { isTempName } from '../../../src/model/layout.js';
import { tempPathFor } from '../../../src/util/fs.js';

test('temp names sit beside their target, are recognised as ours, and never repeat', () => {
  const target = '/srv/mirror/demo/demo-1.0.tar.gz';
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const temp = tempPathFor(target);
    assert.equal(dirname(temp), dirname(target));
    assert.match(basename(temp), /^\.demo-1\.0\.tar\.gz\.[0-9a-f]{12}\.tmp$/);
    assert.equal(isTempName(basename(temp)), true);
    seen.add(temp);
  }
  assert.equal(seen.size, 2000, 'every name differs, across several refills of the random bytes');
});
