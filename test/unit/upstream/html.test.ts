import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../../src/errors.js';
import { createListingHtmlParser, parseListingHtml, parseProjectHtml } from '../../../src/upstream/html.js';
import type { ListedProject } from '../../../src/model/upstream.js';

const PAGE = 'https://index.example/simple/demo/';
const SHA = 'ab'.repeat(32);

function page(body: string, head = '<meta name="pypi:repository-version" content="1.4">'): string {
  return `<!DOCTYPE html><html><head>${head}<title>Links</title></head><body>${body}</body></html>`;
}

test('parses anchors: escaping, hashes, requires-python, metadata', () => {
  const html = page(`
    <h1>Links for demo</h1>
    <a href="../../packages/ab/demo-1.0-py3-none-any.whl#sha256=${SHA.toUpperCase()}"
       data-requires-python="&gt;=3.8,&lt;4" data-core-metadata="sha256=${SHA}"
       data-dist-info-metadata="sha256=${SHA}">ignored text</a><br/>
    <a href="https://files.example/p/demo-0.9.tar.gz?x=1&amp;y=2#md5=${'cd'.repeat(16)}&amp;egg=demo"
       data-dist-info-metadata="true">demo-0.9.tar.gz</a>
    <a href="/abs/demo-0.8.zip" data-core-metadata="false">demo-0.8.zip</a>
    <a href="demo-1.0%2Blocal-py3-none-any.whl#sha256=${SHA}">x</a>
    <!--SERIAL 42-->`);
  const { value, warnings } = parseProjectHtml(html, PAGE, 'Demo');
  assert.deepEqual(warnings, []);
  assert.equal(value.name, 'demo');
  assert.deepEqual(value.versions, []);
  assert.deepEqual(value.files[0], {
    filename: 'demo-1.0-py3-none-any.whl',
    url: 'https://index.example/packages/ab/demo-1.0-py3-none-any.whl',
    hashes: { sha256: SHA },
    size: null,
    requiresPython: '>=3.8,<4',
    yanked: null,
    coreMetadata: { sha256: SHA },
    uploadTime: null,
  });
  assert.equal(value.files[1]?.filename, 'demo-0.9.tar.gz');
  assert.equal(value.files[1]?.url, 'https://files.example/p/demo-0.9.tar.gz?x=1&y=2');
  assert.deepEqual(value.files[1]?.hashes, { md5: 'cd'.repeat(16) });
  assert.deepEqual(value.files[1]?.coreMetadata, {});
  assert.equal(value.files[2]?.url, 'https://index.example/abs/demo-0.8.zip');
  assert.equal(value.files[2]?.coreMetadata, null);
  assert.deepEqual(value.files[2]?.hashes, {});
  assert.equal(value.files[3]?.filename, 'demo-1.0+local-py3-none-any.whl');
  assert.equal(value.files[3]?.url, 'https://index.example/simple/demo/demo-1.0%2Blocal-py3-none-any.whl');
});

test('data-yanked: bare and valued both mean yanked; the value is the reason', () => {
  const html = page(`
    <a href="a-1.tar.gz" data-yanked>a</a>
    <a href="a-2.tar.gz" data-yanked="">a</a>
    <a href="a-3.tar.gz" data-yanked="broken &amp; bad">a</a>
    <a href="a-4.tar.gz">a</a>`);
  const { value } = parseProjectHtml(html, PAGE, 'demo');
  assert.deepEqual(
    value.files.map((f) => f.yanked),
    ['', '', 'broken & bad', null],
  );
});

test('the first <base href> wins for link resolution', () => {
  const html = page(
    '<a href="x-1.tar.gz">x</a>',
    '<base href="https://mirror.example/files/"><base href="/other/">',
  );
  assert.equal(
    parseProjectHtml(html, PAGE, 'demo').value.files[0]?.url,
    'https://mirror.example/files/x-1.tar.gz',
  );
  const rel = page('<a href="x-1.tar.gz">x</a>', '<base href="../../dl/">');
  assert.equal(
    parseProjectHtml(rel, PAGE, 'demo').value.files[0]?.url,
    'https://index.example/dl/x-1.tar.gz',
  );
});

test('malicious or unusable links are skipped with a warning', () => {
  const html = page(`
    <a href="..%2F..%2Fetc%2Fpasswd">1</a>
    <a href="%2E%2E">2</a>
    <a href=".bashrc">3</a>
    <a href="index.html">4</a>
    <a href="demo-1.whl.metadata">5</a>
    <a href="dir/">6</a>
    <a href="javascript:alert(1)">7</a>
    <a>8</a>
    <a href="bad%ZZname.tar.gz">9</a>
    <a href="a%5Cb.tar.gz">10</a>
    <a href="ok-1.tar.gz">ok</a>
    <a href="other/ok-1.tar.gz">dup</a>`);
  const { value, warnings } = parseProjectHtml(html, PAGE, 'demo');
  assert.deepEqual(
    value.files.map((f) => f.filename),
    ['ok-1.tar.gz'],
  );
  assert.equal(warnings.length, 11);
  assert.match(warnings[0] ?? '', /^<a> #1: filename "\.\.\/\.\.\/etc\/passwd"/);
});

test('bad hash digests fail the page', () => {
  const html = page('<a href="x-1.tar.gz#sha256=abc">x</a>');
  assert.throws(
    () => parseProjectHtml(html, PAGE, 'demo'),
    (err: unknown) =>
      err instanceof UpstreamError &&
      err.code === 'UPSTREAM_PAYLOAD' &&
      /#sha256: expected 64 hex digits/.test(err.message),
  );
  // unknown fragment keys are ignored
  assert.deepEqual(
    parseProjectHtml(page('<a href="x-1.tar.gz#egg=x&amp;subdirectory=y">x</a>'), PAGE, 'd').warnings,
    [],
  );
});

test('repository-version: 2.0 is rejected, 1.9 warns, absent means 1.0', () => {
  assert.throws(
    () => parseProjectHtml(page('', '<meta name="pypi:repository-version" content="2.0">'), PAGE, 'demo'),
    (err: unknown) =>
      err instanceof UpstreamError && err.code === 'UPSTREAM_PAYLOAD' && /major version/.test(err.message),
  );
  const newer = parseProjectHtml(
    page('', '<meta name="pypi:repository-version" content="1.9">'),
    PAGE,
    'demo',
  );
  assert.equal(newer.warnings.length, 1);
  assert.deepEqual(parseProjectHtml(page('', ''), PAGE, 'demo').warnings, []);
  assert.throws(() =>
    parseListingHtml(
      page('<a href="/x/">x</a>', '<meta name="pypi:repository-version" content="2.1">'),
      PAGE,
    ),
  );
});

test('project-status meta tags', () => {
  const head =
    '<meta name="pypi:project-status" content="quarantined"><meta name="pypi:project-status-reason" content="malware &amp; more">';
  const { value } = parseProjectHtml(page('', head), PAGE, 'demo');
  assert.equal(value.status, 'quarantined');
  assert.equal(value.statusReason, 'malware & more');
});

test('root listing: link text is the name; invalid names are skipped', () => {
  const html = page(
    '<a href="/simple/foo-bar/">Foo_Bar</a>\n<a href="/simple/baz/">\n  baz\n</a><a href="/x/">bad name!</a>',
  );
  const { value, warnings } = parseListingHtml(html, 'https://index.example/simple/');
  assert.deepEqual(value, {
    projects: [
      { name: 'Foo_Bar', serial: null },
      { name: 'baz', serial: null },
    ],
    serial: null,
    format: 'html',
  });
  assert.equal(warnings.length, 1);
});

test('streaming listing parser gives the same result for any chunking', () => {
  const names = Array.from({ length: 50 }, (_, i) => `Project_${i}.x`);
  const html = page(
    names.map((n) => `<a href="/simple/${n}/">${n.replace('_', '&#95;')}</a>`).join('<br/>\n'),
  );
  for (const size of [1, 7, 64, html.length]) {
    const seen: ListedProject[] = [];
    const parser = createListingHtmlParser((p) => seen.push(p));
    for (let i = 0; i < html.length; i += size) parser.write(html.slice(i, i + size));
    parser.end();
    assert.deepEqual(
      seen.map((p) => p.name),
      names,
      `chunk size ${size}`,
    );
    assert.deepEqual(parser.warnings, []);
  }
});
