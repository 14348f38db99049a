// util/heap-tier.ts: once the upstream client has fetched a file (or a page), V8's young generation grows
// no more under a load that grows it to 16 MiB semi-spaces by default; a process that fetched none keeps
// V8's defaults. Each case runs in a node of its own (V8 flags are the process's).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const MiB = 1024 * 1024;

/** The young generation's size (both semi-spaces) before and after a load with survivors, in a fresh node. */
async function youngGenerationUnderLoad(
  fetchesFile: boolean,
): Promise<{ readonly before: number; readonly after: number }> {
  const modules = {
    http: new URL('../../../src/upstream/http.js', import.meta.url).href,
    api: new URL('../../../src/upstream/simple-api.js', import.meta.url).href,
    log: new URL('../../../src/log.js', import.meta.url).href,
  };
  const script = `
    const { createServer } = await import('node:http');
    const { getHeapSpaceStatistics } = await import('node:v8');
    const { createHttp } = await import(${JSON.stringify(modules.http)});
    const { createUpstream } = await import(${JSON.stringify(modules.api)});
    const { silentLogger } = await import(${JSON.stringify(modules.log)});
    if (process.argv[1] === 'fetch') {
      const server = createServer((req, res) => res.end('a file'));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = 'http://127.0.0.1:' + server.address().port;
      const http = createHttp({ timeoutMs: 10_000, workers: 1, log: silentLogger, env: {} });
      const upstream = createUpstream({ indexUrl: new URL(origin + '/simple/'), http, log: silentLogger });
      const answer = await upstream.fetchFile(origin + '/files/a.whl', AbortSignal.timeout(10_000));
      for await (const chunk of answer.body) void chunk;
      await http.close();
      server.close();
    }
    const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
    const before = young();
    // Objects that outlive a few collections of a small young generation, which V8 grows in answer.
    const kept = new Array(50_000);
    for (let i = 0; i < 2_000_000; i++) kept[i % kept.length] = { i, text: 'x' + i };
    process.stdout.write(JSON.stringify({ before, after: young() }));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script, fetchesFile ? 'fetch' : 'none'],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout) as { before: number; after: number };
}

test('once a file is fetched, the young generation grows no more', async () => {
  const { before, after } = await youngGenerationUnderLoad(true);
  assert.ok(before <= 4 * MiB, `young generation ${before / MiB} MiB before the load`);
  // It may shrink (V8 does when it finds the allocation rate low, as on a loaded machine), never grow.
  assert.ok(after <= before, `young generation ${before / MiB} → ${after / MiB} MiB`);
});

test('a process that fetches no file keeps V8 defaults: the same load grows the young generation', async () => {
  const { before, after } = await youngGenerationUnderLoad(false);
  assert.ok(after >= before + 8 * MiB, `young generation ${before / MiB} → ${after / MiB} MiB`);
});
