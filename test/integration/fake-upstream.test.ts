// The fake upstream is the oracle for every sync test, so it is checked here against docs/protocol.md §1-§3:
// page formats and negotiation, escaping, hashes, conditional GETs, redirects, serials, XML-RPC, big files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { FakeUpstream, FakeUpstreamOptions } from '../helpers/fake-upstream.js';
import { startStandardUpstream } from '../helpers/standard-catalogue.js';

const PIP_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
const UV_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

async function standard(t: { after(fn: () => Promise<void>): void }, options: FakeUpstreamOptions = {}) {
  const started = await startStandardUpstream(options);
  t.after(() => started.fake.close());
  return started;
}

const get = (url: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { headers, redirect: 'manual' });

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function bytesOf(url: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return Buffer.from(await res.arrayBuffer());
}

interface ParsedHtml {
  anchors: { attrs: Record<string, string | null>; text: string }[];
  metas: Record<string, string | null>[];
}

/** Parses HTML with Python's html.parser, the parser pip uses (valueless attributes come back as null). */
function parseLikePip(html: string): ParsedHtml {
  const script = `
import json, sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors, self.metas, self.current = [], [], None
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.current = {"attrs": dict(attrs), "text": ""}
            self.anchors.append(self.current)
        elif tag == "meta":
            self.metas.append(dict(attrs))
    def handle_endtag(self, tag):
        if tag == "a":
            self.current = None
    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data
p = P()
p.feed(sys.stdin.read())
print(json.dumps({"anchors": p.anchors, "metas": p.metas}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script], { input: html, encoding: 'utf8' })) as ParsedHtml;
}

/** Checks a PEP 691 project page against docs/protocol.md §2 and the bytes actually served. */
async function checkProjectJson(fake: FakeUpstream, name: string): Promise<void> {
  const pageUrl = fake.projectUrl(name);
  const res = await get(pageUrl, { accept: PIP_ACCEPT });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), JSON_TYPE);
  assert.equal(res.headers.get('vary'), 'Accept, Accept-Encoding');
  const page = (await res.json()) as {
    meta: Record<string, unknown>;
    name: string;
    files: Record<string, unknown>[];
    versions: string[];
  };
  assert.match(String(page.meta['api-version']), /^1\.([1-9]|\d{2,})$/);
  assert.equal(page.meta['_last-serial'], fake.project(name)?.lastSerial);
  assert.equal(res.headers.get('x-pypi-last-serial'), String(fake.project(name)?.lastSerial));
  assert.match(page.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  assert.ok(page.files.length > 0);
  for (const f of page.files) {
    const filename = String(f['filename']);
    const model = fake.file(name, filename);
    assert.ok(!('dist-info-metadata' in f), 'dist-info-metadata must not be emitted in JSON');
    assert.ok(page.versions.includes(model.version));
    const bytes = await bytesOf(new URL(String(f['url']), pageUrl).href);
    assert.deepEqual(f['hashes'], { sha256: sha256(bytes) });
    assert.equal(f['size'], bytes.length);
    assert.match(String(f['upload-time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
    assert.equal(f['requires-python'], model.requiresPython ?? null);
    const yanked = f['yanked'];
    assert.ok(yanked === false || yanked === true || (typeof yanked === 'string' && yanked !== ''));
    assert.equal(yanked, model.yanked);
    const core = f['core-metadata'];
    if (filename.endsWith('.whl')) {
      const metadata = await bytesOf(new URL(String(f['url']), pageUrl).href + '.metadata');
      assert.deepEqual(core, { sha256: sha256(metadata) });
      assert.match(metadata.toString(), /^Metadata-Version: 2\.1\nName: /);
    } else {
      assert.equal(core, false);
    }
  }
}

/** Checks a PEP 503 project page, parsed the way pip parses it. */
async function checkProjectHtml(fake: FakeUpstream, name: string, accept = 'text/html'): Promise<void> {
  const pageUrl = fake.projectUrl(name);
  const res = await get(pageUrl, { accept });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  assert.ok(!/data-requires-python="[^"]*[<>]/.test(html), 'requires-python must be escaped');
  assert.ok(!/data-yanked(?!=)/.test(html), 'data-yanked is never bare');
  const parsed = parseLikePip(html);
  assert.ok(
    parsed.metas.some((m) => m['name'] === 'pypi:repository-version' && /^1\.\d+$/.test(m['content'] ?? '')),
  );
  assert.equal(parsed.anchors.length, fake.project(name)?.files.size);
  for (const { attrs, text } of parsed.anchors) {
    const href = attrs['href'] ?? '';
    const [url = '', fragment = ''] = href.split('#');
    assert.equal(decodeURIComponent(url.split('/').at(-1) ?? ''), text, 'link text = last URL segment');
    const model = fake.file(name, text);
    assert.equal(fragment, `sha256=${model.sha256}`);
    assert.equal(sha256(await bytesOf(new URL(url, pageUrl).href)), model.sha256);
    assert.equal(attrs['data-requires-python'], model.requiresPython);
    assert.equal(
      attrs['data-yanked'],
      model.yanked === false ? undefined : model.yanked === true ? '' : model.yanked,
    );
    const core = model.metadataSha256 === undefined ? undefined : `sha256=${model.metadataSha256}`;
    assert.equal(attrs['data-core-metadata'], core);
    assert.equal(attrs['data-dist-info-metadata'], core);
  }
}

test('project pages: JSON and HTML follow docs/protocol.md and their hashes match the served bytes', async (t) => {
  const { fake, catalogue } = await standard(t);
  for (const name of catalogue.names) {
    await checkProjectJson(fake, name);
    await checkProjectHtml(fake, name);
  }
  const foo = (await (await get(fake.projectUrl('foo_bar'), { accept: JSON_TYPE })).json()) as {
    files: { filename: string; yanked: unknown }[];
  };
  const yanked = foo.files.find((f) => f.filename === catalogue.yankedWithReason.filename);
  assert.equal(yanked?.yanked, 'broken build');
  const html = await (await get(fake.projectUrl('demo-lib'))).text();
  assert.match(
    html,
    new RegExp(`${catalogue.yankedWithoutReason.filename}#sha256=[0-9a-f]{64}" data-yanked=""`),
  );
  assert.match(await (await get(fake.projectUrl('foo_bar'))).text(), /data-requires-python="&lt;3"/);
});

test('other layouts: absolute URLs, /packages/ paths, and the plain html-only index', async (t) => {
  const abs = await standard(t, { fileUrls: 'absolute', filePaths: 'packages' });
  await checkProjectJson(abs.fake, 'Zope.Interface');
  await checkProjectHtml(abs.fake, 'Zope.Interface');
  const json = (await (await get(abs.fake.projectUrl('zope-interface'), { accept: JSON_TYPE })).json()) as {
    files: { url: string }[];
  };
  for (const f of json.files) {
    assert.match(f.url, new RegExp(`^${abs.fake.baseOrigin}/packages/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/`));
  }
  const root = await (await get(abs.fake.url)).text();
  assert.ok(root.includes(`href="${abs.fake.url}zope-interface/"`));

  const plain = await standard(t, { formats: 'html-only' });
  for (const accept of [PIP_ACCEPT, JSON_TYPE, '']) {
    const res = await get(plain.fake.projectUrl('demo-app'), accept === '' ? {} : { accept });
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('x-pypi-last-serial'), null);
    assert.equal(res.headers.get('vary'), 'Accept-Encoding', 'no Accept: one format only');
    assert.ok(!(await res.text()).includes('SERIAL'));
  }
  await checkProjectHtml(plain.fake, 'demo-app', PIP_ACCEPT);
});

test("PyPI's JSON API: every file with its absolute URL, size and digest, and the project's serial", async (t) => {
  const { fake } = await standard(t, { filePaths: 'packages' });
  const project = fake.project('demo-app');
  assert.ok(project !== undefined);
  const res = await get(`${fake.baseOrigin}/pypi/demo-app/json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-pypi-last-serial'), String(project.lastSerial));
  const doc = (await res.json()) as {
    info: { name: string; version: string };
    last_serial: number;
    releases: Record<string, { filename: string; url: string; size: number; digests: { sha256: string } }[]>;
  };
  assert.equal(doc.info.name, project.name);
  assert.equal(doc.last_serial, project.lastSerial);
  const files = Object.values(doc.releases).flat();
  assert.deepEqual(files.map((f) => f.filename).sort(), [...project.files.keys()].sort());
  for (const f of files) {
    assert.match(f.url, new RegExp(`^${fake.baseOrigin}/packages/`));
    const bytes = await bytesOf(f.url);
    assert.equal(bytes.length, f.size, f.filename);
    assert.equal(sha256(bytes), f.digests.sha256, f.filename);
  }
  assert.equal((await get(`${fake.baseOrigin}/pypi/no-such-project/json`)).status, 404);
});

test('content negotiation follows the Accept header, ?format= and the formats option', async (t) => {
  const { fake } = await standard(t);
  const typeFor = async (accept: string | undefined, query = ''): Promise<string> => {
    const res = await get(fake.url + query, accept === undefined ? {} : { accept });
    return res.status === 200 ? (res.headers.get('content-type') ?? '') : String(res.status);
  };
  assert.equal(await typeFor(PIP_ACCEPT), JSON_TYPE);
  assert.equal(await typeFor(UV_ACCEPT), JSON_TYPE);
  assert.equal(await typeFor(undefined), 'text/html; charset=utf-8');
  assert.equal(await typeFor('*/*'), 'text/html; charset=utf-8');
  assert.equal(await typeFor('text/html'), 'text/html; charset=utf-8');
  assert.equal(await typeFor('application/vnd.pypi.simple.latest+json'), JSON_TYPE);
  assert.equal(
    await typeFor('application/vnd.pypi.simple.v1+html'),
    'application/vnd.pypi.simple.v1+html; charset=utf-8',
  );
  assert.equal(
    await typeFor('application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5'),
    'text/html; charset=utf-8',
  );
  assert.equal(await typeFor('application/json'), '406');
  assert.equal(await typeFor('text/html', `?format=${encodeURIComponent(JSON_TYPE)}`), JSON_TYPE);

  const jsonOnly = await standard(t, { formats: 'json-only' });
  const res = await get(jsonOnly.fake.url);
  assert.equal(res.headers.get('content-type'), JSON_TYPE);
  assert.equal((await get(jsonOnly.fake.url, { accept: 'text/html' })).status, 406);
});

test('root page: projects with serials, sorted by normalised name, display names kept', async (t) => {
  const { fake } = await standard(t);
  const res = await get(fake.url, { accept: PIP_ACCEPT });
  const root = (await res.json()) as { meta: Record<string, unknown>; projects: Record<string, unknown>[] };
  assert.equal(res.headers.get('x-pypi-last-serial'), String(fake.serial));
  assert.equal(root.meta['_last-serial'], fake.serial);
  assert.deepEqual(
    root.projects.map((p) => [p['name'], p['_last-serial']]),
    ['demo-app', 'demo-lib', 'foo_bar', 'Zope.Interface'].map((n) => [n, fake.project(n)?.lastSerial]),
  );
  const parsed = parseLikePip(await (await get(fake.url)).text());
  assert.deepEqual(
    parsed.anchors.map((a) => [a.attrs['href'], a.text]),
    [
      ['demo-app/', 'demo-app'],
      ['demo-lib/', 'demo-lib'],
      ['foo-bar/', 'foo_bar'],
      ['zope-interface/', 'Zope.Interface'],
    ],
  );
});

test('conditional GETs: ETag and Last-Modified give 304 until the page changes', async (t) => {
  const { fake } = await standard(t);
  const url = fake.projectUrl('foo_bar');
  const first = await get(url, { accept: JSON_TYPE });
  const etag = first.headers.get('etag') ?? '';
  const lastModified = first.headers.get('last-modified') ?? '';
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const html = await get(url, { accept: 'text/html' });
  assert.notEqual(html.headers.get('etag'), etag, 'each representation has its own ETag');

  const again = await get(url, { accept: JSON_TYPE, 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), '');
  assert.equal(again.headers.get('x-pypi-last-serial'), first.headers.get('x-pypi-last-serial'));
  assert.equal((await get(url, { accept: JSON_TYPE, 'if-none-match': `W/${etag}, "x"` })).status, 304);
  assert.equal((await get(url, { accept: JSON_TYPE, 'if-modified-since': lastModified })).status, 304);

  fake.touch('foo_bar'); // serial changes, so the JSON changes, within the same second
  const changed = await get(url, { accept: JSON_TYPE, 'if-none-match': etag });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get('etag'), etag);
  const byDate = await get(url, { accept: JSON_TYPE, 'if-modified-since': lastModified });
  assert.equal(byDate.status, 200, 'a change in the same second still moves Last-Modified');
  assert.ok(Date.parse(byDate.headers.get('last-modified') ?? '') > Date.parse(lastModified));

  const file = fake.fileUrl('foo_bar', 'foo_bar-1.0.tar.gz');
  const fileEtag = (await get(file)).headers.get('etag') ?? '';
  assert.equal(fileEtag, `"${fake.sha256('foo_bar', 'foo_bar-1.0.tar.gz')}"`);
  assert.equal((await get(file, { 'if-none-match': fileEtag })).status, 304);
});

test('redirects and 404s: normalisation, trailing slash, unknown projects and files', async (t) => {
  const { fake } = await standard(t);
  const cases: [string, number, string | null][] = [
    ['/simple/Zope.Interface/', 301, '/simple/zope-interface/'],
    ['/simple/FOO_BAR/', 301, '/simple/foo-bar/'],
    ['/simple/foo-bar', 301, '/simple/foo-bar/'],
    ['/simple', 301, '/simple/'],
    ['/simple/nope/', 404, null],
    ['/simple/nope', 301, '/simple/nope/'],
    ['/files/foo-bar/nope-1.0.tar.gz', 404, null],
    ['/files/foo-bar/foo_bar-1.0.tar.gz.metadata', 404, null],
    ['/packages/00/00/0000/foo_bar-1.0.tar.gz', 404, null],
    ['/elsewhere', 404, null],
  ];
  for (const [path, status, location] of cases) {
    const res = await get(fake.baseOrigin + path);
    assert.equal(res.status, status, path);
    assert.equal(res.headers.get('location'), location, path);
    assert.ok(res.headers.get('content-type'), `${path} has a Content-Type`);
  }
  const post = await fetch(fake.url, { method: 'POST' });
  assert.equal(post.status, 405);
  const head = await fetch(fake.fileUrl('foo_bar', 'foo_bar-1.0.tar.gz'), { method: 'HEAD' });
  assert.equal(Number(head.headers.get('content-length')), fake.file('foo_bar', 'foo_bar-1.0.tar.gz').size);
});

test('repoRoot finds the directory holding package.json, also from compiled files under dist/', async () => {
  const { findRepoRoot, repoRoot } = await import('../helpers/repo-root.js');
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { name: string };
  assert.equal(pkg.name, 'pypimirror');
  assert.equal(findRepoRoot(`${repoRoot}/dist/test/helpers/x.js`), repoRoot);
});
