// The hostile-upstream fixture does what the attack tests rely on: framing, generated bodies, gzip, sequences,
// and the measured CLI run.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ATTACK_RSS_LIMIT_MIB, runCliMeasured, writeAttackConfig } from '../helpers/attack.js';
import {
  dist,
  listingRoute,
  projectRoutes,
  startHostileUpstream,
  type HostileUpstream,
} from '../helpers/hostile-upstream.js';
import { makeTempDir } from '../helpers/tree.js';

interface Got {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A raw GET that reads at most `limit` bytes of the body (then hangs up). */
function get(up: HostileUpstream, path: string, limit = Infinity): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(`${up.origin}${path}`, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= limit) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', () => {});
    });
    req.on('error', reject);
    req.end();
  });
}

test('the hostile upstream frames, generates, gzips and sequences answers as its scenario says', async (t) => {
  const up = await startHostileUpstream({
    name: 'fixture',
    routes: {
      '/fixed': { body: 'hello' },
      '/closed': { body: 'cut', framing: 'close' },
      '/repeat': { body: { head: '[', repeat: 'ab', times: 100_000, tail: ']' }, gzip: true },
      '/endless': { body: { endless: 1024 } },
      '/seq': [{ status: 500 }, { status: 503 }, { body: 'third and after' }],
      '/fn': (req) => ({ body: `${req.method} ${req.count}` }),
    },
  });
  t.after(() => up.close());
  const fixed = await get(up, '/fixed');
  assert.equal(fixed.headers['content-length'], '5');
  assert.equal(fixed.body.toString(), 'hello');
  const closed = await get(up, '/closed');
  assert.equal(closed.headers['content-length'], undefined);
  assert.equal(closed.headers['transfer-encoding'], undefined, 'close-delimited: not chunked either');
  assert.equal(closed.body.toString(), 'cut');
  const repeated = await get(up, '/repeat');
  assert.equal(repeated.headers['content-encoding'], 'gzip');
  const text = gunzipSync(repeated.body).toString();
  assert.equal(text.length, 200_002);
  assert.ok(text.startsWith('[abab') && text.endsWith('ab]'));
  assert.ok(repeated.body.length < 10_000, 'gzip shrinks the repeated body');
  assert.equal((await get(up, '/endless', 1_000_000)).body.length >= 1_000_000, true);
  const seq = [];
  for (let i = 0; i < 4; i++) seq.push((await get(up, '/seq')).status);
  assert.deepEqual(seq, [500, 503, 200, 200]);
  assert.equal((await get(up, '/fn')).body.toString(), 'GET 1');
  assert.equal((await get(up, '/nowhere')).status, 404);
  assert.ok(up.requests().some((r) => r.path === '/nowhere'));
  t.diagnostic('cases: 7');
});

test('runCliMeasured runs a real sync against a scenario and reads its peak RSS from /proc', async (t) => {
  const files = [dist('demo-1.0.tar.gz'), dist('demo-1.0-py3-none-any.whl')];
  const up = await startHostileUpstream({
    name: 'plain',
    routes: { ...listingRoute(['demo']), ...projectRoutes('demo', files) },
  });
  t.after(() => up.close());
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const config = await writeAttackConfig(dir, { mirror_file_path: root, index_url: up.url, timeout: '5s' });
  const run = await runCliMeasured(t, ['sync', config], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.output);
  assert.equal(run.timedOut, false);
  assert.ok(run.peakRssMiB > 10 && run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `peak RSS ${run.peakRssMiB} MiB`);
  assert.deepEqual((await readdir(join(root, 'demo'))).sort(), [
    'demo-1.0-py3-none-any.whl',
    'demo-1.0.tar.gz',
    'index.html',
    'index.v1_json',
  ]);
});
