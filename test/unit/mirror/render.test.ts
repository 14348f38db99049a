import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replacedFileRelPath } from '../../../src/model/layout.js';
import { fileKey } from '../../../src/storage/keys.js';
import {
  linkedRelPath,
  readHtmlLinks,
  readJsonLinks,
  readRootHtmlProjects,
  readRootJsonProjects,
} from '../../../src/mirror/published.js';
import type { LocalFile, ProjectRecord } from '../../../src/model/record.js';
import {
  escapeHtml,
  renderProjectHtml,
  renderProjectJson,
  renderRootHtml,
  renderRootJson,
} from '../../../src/mirror/render.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const M1 = 'c'.repeat(64);

function file(over: Partial<LocalFile> & { filename: string }): LocalFile {
  return {
    sha256: H1,
    size: 10,
    url: `https://up.example/${over.filename}`,
    upstreamHashes: {},
    requiresPython: null,
    yanked: null,
    uploadTime: null,
    metadataSha256: null,
    ...over,
  };
}

const record: ProjectRecord = {
  formatVersion: 1,
  name: 'demo-pkg',
  displayName: 'Demo_Pkg',
  serial: 42,
  etag: null,
  lastModified: null,
  status: null,
  statusReason: null,
  versions: ['0.9', '1.0'],
  upstreamFiles: [],
  files: [
    file({
      filename: 'demo_pkg-1.0-py3-none-any.whl',
      requiresPython: '>=3.8, <4',
      metadataSha256: M1,
      uploadTime: '2024-01-02T03:04:05.123456Z',
    }),
    file({ filename: 'demo_pkg-1.0+local.tar.gz', sha256: H2, size: 20, yanked: 'broken "build" <x>' }),
    file({ filename: 'demo_pkg-0.9.tar.gz', yanked: '' }),
  ],
};

test('project page HTML is exactly as docs/protocol.md says', () => {
  assert.equal(
    renderProjectHtml(record),
    `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for demo-pkg</title>
  </head>
  <body>
    <h1>Links for demo-pkg</h1>
    <a href="demo_pkg-1.0-py3-none-any.whl#sha256=${H1}" data-requires-python="&gt;=3.8, &lt;4" data-core-metadata="sha256=${M1}" data-dist-info-metadata="sha256=${M1}">demo_pkg-1.0-py3-none-any.whl</a><br />
    <a href="demo_pkg-1.0%2Blocal.tar.gz#sha256=${H2}" data-yanked="broken &quot;build&quot; &lt;x&gt;">demo_pkg-1.0+local.tar.gz</a><br />
    <a href="demo_pkg-0.9.tar.gz#sha256=${H1}" data-yanked="">demo_pkg-0.9.tar.gz</a><br />
  </body>
</html>
<!--SERIAL 42-->
`,
  );
});

test('no bare data-yanked, no data-core-metadata without a .metadata file', () => {
  const html = renderProjectHtml(record);
  assert.doesNotMatch(html, /data-yanked(?!=")/);
  assert.equal(html.match(/data-core-metadata/g)?.length, 1);
  assert.doesNotMatch(html, /data-core-metadata="false"/);
});

test('project page JSON (PEP 691, API 1.1)', () => {
  const json = JSON.parse(renderProjectJson(record)) as Record<string, unknown>;
  assert.deepEqual(json, {
    meta: { 'api-version': '1.1', '_last-serial': 42 },
    name: 'demo-pkg',
    versions: ['0.9', '1.0', '1.0+local'],
    files: [
      {
        filename: 'demo_pkg-1.0-py3-none-any.whl',
        url: 'demo_pkg-1.0-py3-none-any.whl',
        hashes: { sha256: H1 },
        'requires-python': '>=3.8, <4',
        size: 10,
        'upload-time': '2024-01-02T03:04:05.123456Z',
        'core-metadata': { sha256: M1 },
      },
      {
        filename: 'demo_pkg-1.0+local.tar.gz',
        url: 'demo_pkg-1.0%2Blocal.tar.gz',
        hashes: { sha256: H2 },
        'requires-python': null,
        size: 20,
        yanked: 'broken "build" <x>',
      },
      {
        filename: 'demo_pkg-0.9.tar.gz',
        url: 'demo_pkg-0.9.tar.gz',
        hashes: { sha256: H1 },
        'requires-python': null,
        size: 10,
        yanked: true,
      },
    ],
  });
});

test('root page: one link per project, relative, with the display name; base_url shown', () => {
  const projects = [
    { name: 'demo-pkg', displayName: 'Demo_Pkg' },
    { name: 'zope-interface', displayName: 'zope.interface' },
  ];
  assert.equal(
    renderRootHtml(projects, new URL('http://mirror.example/simple/')),
    `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Simple index</title>
  </head>
  <body>
    <p>pip install --index-url http://mirror.example/simple/ PROJECT</p>
    <a href="demo-pkg/">Demo_Pkg</a><br />
    <a href="zope-interface/">zope.interface</a><br />
  </body>
</html>
`,
  );
  assert.deepEqual(JSON.parse(renderRootJson(projects)), {
    meta: { 'api-version': '1.1' },
    projects: [{ name: 'Demo_Pkg' }, { name: 'zope.interface' }],
  });
});

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  assert.equal(escapeHtml('zope-interface'), 'zope-interface');
  for (const special of ['&', '<', '>', '"', "'"])
    assert.notEqual(escapeHtml(`a${special}b`), `a${special}b`);
});

test('a replaced file is linked at its <16 hex>/ path, in HTML and JSON; the page reader reads both back', () => {
  const moved = file({
    filename: 'demo_pkg-1.0+local.tar.gz',
    path: `${'d'.repeat(16)}/demo_pkg-1.0+local.tar.gz`,
    sha256: H2,
    heldUpstreamHashes: { sha256: H1 },
  });
  const withMoved: ProjectRecord = { ...record, files: [moved] };
  const html = renderProjectHtml(withMoved);
  assert.ok(html.includes(`<a href="${'d'.repeat(16)}/demo_pkg-1.0%2Blocal.tar.gz#sha256=${H2}">`), html);
  assert.doesNotMatch(html, new RegExp(H1), 'a held upstream digest is never published');
  const json = JSON.parse(renderProjectJson(withMoved)) as { files: { url: string }[] };
  assert.equal(json.files[0]?.url, `${'d'.repeat(16)}/demo_pkg-1.0%2Blocal.tar.gz`);
  const expected = [{ href: `${'d'.repeat(16)}/demo_pkg-1.0%2Blocal.tar.gz`, rel: moved.path, sha256: H2 }];
  assert.deepEqual(readHtmlLinks(html), expected);
  assert.deepEqual(readJsonLinks(renderProjectJson(withMoved)), expected);
  assert.deepEqual(
    readHtmlLinks(renderProjectHtml(record)).map((l) => [l.rel, l.sha256]),
    [
      ['demo_pkg-1.0-py3-none-any.whl', H1],
      ['demo_pkg-1.0+local.tar.gz', H2],
      ['demo_pkg-0.9.tar.gz', H1],
    ],
  );
  const root = renderRootHtml([{ name: 'demo-pkg', displayName: 'Demo_Pkg' }], null);
  assert.deepEqual(readRootHtmlProjects(root), ['demo-pkg']);
  assert.deepEqual(readRootJsonProjects(renderRootJson([{ name: 'demo-pkg', displayName: 'Demo_Pkg' }])), [
    'Demo_Pkg',
  ]);
});

test('the page reader names no path outside the project directory, nor one we never write', () => {
  for (const href of [
    '../other/x.whl',
    '/abs/x.whl',
    'https://evil.example/x.whl',
    'a/b/x.whl',
    'notahexdir/x.whl',
    `${'d'.repeat(16)}/../x.whl`,
    '%2e%2e/x.whl',
    'index.html',
    '.hidden.tmp',
    '%E0%A4%A',
    '',
  ]) {
    assert.equal(linkedRelPath(href), null, href);
  }
  assert.equal(linkedRelPath('x-1.0.whl'), 'x-1.0.whl');
  assert.equal(linkedRelPath(`${'0'.repeat(16)}/x-1.0.whl`), `${'0'.repeat(16)}/x-1.0.whl`);
  assert.deepEqual(readHtmlLinks('<a href="x-1.0.whl">x</a>'), [
    { href: 'x-1.0.whl', rel: 'x-1.0.whl', sha256: null },
  ]);
  assert.throws(() => readJsonLinks('{"files": 3}'), /no "files" list/);
});

test('layout: a replaced file goes to <first 16 hex of its digest>/<filename>; records may hold only such paths', () => {
  assert.equal(replacedFileRelPath('x-1.0.whl', 'ABCDEF0123456789ffff'), 'abcdef0123456789/x-1.0.whl');
  assert.throws(() => replacedFileRelPath('x-1.0.whl', 'not hex at all!!'), /not a hex digest/);
  assert.throws(() => replacedFileRelPath('../x.whl', 'a'.repeat(64)), /unsafe file name/);
  assert.equal(fileKey('demo', { filename: 'x-1.0.whl' }), 'demo/x-1.0.whl');
  assert.equal(
    fileKey('demo', { filename: 'x-1.0.whl', path: `${'a'.repeat(16)}/x-1.0.whl` }),
    `demo/${'a'.repeat(16)}/x-1.0.whl`,
  );
  for (const path of [
    '../../etc/passwd',
    `${'a'.repeat(16)}/y-1.0.whl`,
    `${'a'.repeat(15)}/x-1.0.whl`,
    '/x-1.0.whl',
  ]) {
    assert.throws(() => fileKey('demo', { filename: 'x-1.0.whl', path }), /unsafe path/, path);
  }
});
