// The fake upstream's serials and journal: every mutation bumps the serial, shows on the pages, and is
// reported by PyPI's XML-RPC changelog (paged by changelogCap).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { buildWheel } from '../helpers/dist-builder.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { startStandardUpstream } from '../helpers/standard-catalogue.js';

const execFileAsync = promisify(execFile);
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

const get = (url: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { headers, redirect: 'manual' });

test('every mutation bumps the serial, journals it, and shows on the pages', async (t) => {
  const fake = await startFakeUpstream({ initialSerial: 100 });
  t.after(() => fake.close());
  const serialOf = async (path: string): Promise<number> =>
    Number((await get(fake.baseOrigin + path, { accept: JSON_TYPE })).headers.get('x-pypi-last-serial'));

  assert.equal(await serialOf('/simple/'), 100);
  fake.addProject('Alpha', [buildWheel({ name: 'Alpha', version: '1.0' })]);
  assert.equal(fake.serial, 103); // create, new release, add file
  assert.deepEqual(
    fake.journal.map((e) => [e.name, e.version, e.action, e.serial]),
    [
      ['Alpha', null, 'create', 101],
      ['Alpha', '1.0', 'new release', 102],
      ['Alpha', '1.0', 'add py3 file alpha-1.0-py3-none-any.whl', 103],
    ],
  );
  fake.addFile('alpha', buildWheel({ name: 'Alpha', version: '1.0', tag: 'py2.py3-none-any' }));
  assert.equal(fake.journal.at(-1)?.action, 'add py2.py3 file alpha-1.0-py2.py3-none-any.whl');
  fake.addProject('beta');
  fake.touch('alpha');
  assert.equal(await serialOf('/simple/alpha/'), fake.serial);
  assert.equal(await serialOf('/simple/'), fake.serial);
  const before = fake.serial;
  fake.yank('alpha', 'alpha-1.0-py3-none-any.whl', 'oops');
  fake.unyank('alpha', 'alpha-1.0-py3-none-any.whl');
  fake.removeFile('alpha', 'alpha-1.0-py2.py3-none-any.whl');
  fake.setProjectStatus('alpha', 'archived', 'moved to alpha2');
  assert.equal(fake.serial, before + 4);
  const page = (await (await get(fake.projectUrl('alpha'), { accept: JSON_TYPE })).json()) as Record<
    string,
    unknown
  >;
  assert.deepEqual(page['project-status'], { status: 'archived', reason: 'moved to alpha2' });
  assert.equal((page['files'] as unknown[]).length, 1);
  assert.match(
    await (await get(fake.projectUrl('alpha'))).text(),
    /<meta name="pypi:project-status" content="archived">/,
  );

  fake.setProjectStatus('alpha', 'quarantined');
  const quarantined = (await (await get(fake.projectUrl('alpha'), { accept: JSON_TYPE })).json()) as {
    files: unknown[];
    versions: unknown[];
  };
  assert.deepEqual([quarantined.files, quarantined.versions], [[], []]);
  const root = (await (await get(fake.url, { accept: JSON_TYPE })).json()) as {
    projects: { name: string }[];
  };
  assert.deepEqual(
    root.projects.map((p) => p.name),
    ['beta'],
  );
  fake.setProjectStatus('alpha', 'active');
  assert.equal(fake.journal.at(-1)?.action, 'project quarantine cleared');
  fake.removeProject('beta');
  assert.equal((await get(fake.projectUrl('beta'))).status, 404);
  assert.equal(fake.journal.at(-1)?.action, 'remove project');
  assert.equal(fake.serial, fake.journal.at(-1)?.serial);
  assert.throws(() => fake.addProject('Alpha'), /exists/);
  assert.throws(() => fake.addProject('-bad-'), /invalid project name/);
});

test('XML-RPC: changelog paging with a small cap, last serial, faults; 404 when disabled', async (t) => {
  const { fake } = await startStandardUpstream({ changelogCap: 7, initialSerial: 10 });
  t.after(() => fake.close());
  const script = `
import json, sys, xmlrpc.client
client = xmlrpc.client.ServerProxy(sys.argv[1])
since, rows, calls = 10, [], 0
while calls < 100:
    batch = client.changelog_since_serial(since)
    calls += 1
    rows.extend(batch)
    if len(batch) < 7:
        break
    since = batch[-1][4]
try:
    client.package_releases("foo_bar")
    fault = None
except xmlrpc.client.Fault as error:
    fault = error.faultCode
print(json.dumps({"last": client.changelog_last_serial(), "rows": rows, "calls": calls,
                  "serials": client.list_packages_with_serial(), "fault": fault}))
`;
  // Async: the server runs in this process, so a synchronous child would deadlock.
  const { stdout } = await execFileAsync('python3', ['-c', script, fake.xmlrpcUrl], { timeout: 60_000 });
  const out = JSON.parse(stdout) as {
    last: number;
    rows: [string, string | null, number, string, number][];
    calls: number;
    serials: Record<string, number>;
    fault: number | null;
  };
  assert.equal(out.last, fake.serial);
  assert.deepEqual(
    out.rows.map((r) => r[4]),
    fake.journal.map((e) => e.serial),
  );
  assert.equal(out.calls, Math.floor(fake.journal.length / 7) + 1);
  assert.deepEqual(out.rows[0]?.slice(0, 2), ['Zope.Interface', null]);
  assert.ok(out.rows.some((r) => r[3] === 'yank release' && r[1] === '1.2'));
  assert.ok(out.rows.every((r) => Number.isInteger(r[2]) && r[2] > 1_600_000_000));
  assert.equal(out.serials['foo_bar'], fake.project('foo_bar')?.lastSerial);
  assert.equal(out.fault, -32601);

  const plain = await startFakeUpstream({ xmlrpc: false });
  t.after(() => plain.close());
  const res = await fetch(plain.xmlrpcUrl, { method: 'POST', body: '<methodCall/>' });
  assert.equal(res.status, 404);
});
