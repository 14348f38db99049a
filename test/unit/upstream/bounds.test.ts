// The caps of the streaming parsers (issue #10, "What broke" 4): each refused input is UPSTREAM_PAYLOAD naming
// the cap, each accepted one streams through holding one token at most, and the work is linear (counted, never
// timed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Parser } from 'htmlparser2';
import { UpstreamError } from '../../../src/errors.js';
import { decodeProjectJson, MAX_PAGE_FILES, MAX_TOKEN_CHARS } from '../../../src/upstream/decode.js';
import { createHtmlScanner } from '../../../src/upstream/html-scan.js';
import { createListingHtmlParser, createProjectHtmlParser } from '../../../src/upstream/html.js';
import {
  createPageJsonDecoder,
  MAX_ENTRY_VALUES,
  MAX_PAGE_DEPTH,
} from '../../../src/upstream/page-stream.js';
import {
  createMethodResponseParser,
  MAX_XMLRPC_DEPTH,
  MAX_XMLRPC_ELEMENTS,
} from '../../../src/upstream/xmlrpc.js';

const PAGE = 'https://index.example/simple/demo/';
const SHA = 'ab'.repeat(32);

function payloadMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    assert.equal(err.code, 'UPSTREAM_PAYLOAD');
    assert.ok(err.message.startsWith('https://index.example/'), `names the URL: ${err.message}`);
    return err.message;
  }
  assert.fail('expected an UPSTREAM_PAYLOAD error');
}

/** Feeds `pieces` (strings, or [piece, times]) in chunks of about 16 KiB, as the body stream does. */
function feed(write: (chunk: string) => void, pieces: readonly (string | readonly [string, number])[]): void {
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      write(piece);
      continue;
    }
    const [unit, times] = piece;
    const per = Math.max(1, Math.floor(16_384 / unit.length));
    const block = unit.repeat(per);
    for (let left = times; left > 0; left -= per) write(left >= per ? block : unit.repeat(left));
  }
}

function file(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { filename: `demo-${i}.tar.gz`, url: `../../f/demo-${i}.tar.gz`, hashes: { sha256: SHA }, ...extra };
}

test('the streaming JSON page decoder gives what decodeProjectJson gives, however the input is cut', () => {
  const docs: unknown[] = [
    {
      meta: { 'api-version': '1.4' },
      name: 'Demo',
      files: [
        file(1),
        file(2, { yanked: 'bad', 'core-metadata': { sha256: SHA } }),
        file(1),
        { ...file(3), filename: '../x' },
      ],
      versions: ['1', '2'],
      'project-status': { status: 'archived', reason: 'old' },
      unknown: { deep: [[[{ x: 'y'.repeat(100) }]]] },
    },
    { files: [], meta: { 'api-version': '1.9' } },
  ];
  for (const doc of docs) {
    const text = JSON.stringify(doc);
    const expected = decodeProjectJson(doc, PAGE, 'demo');
    for (const size of [1, 3, 64, text.length]) {
      const decoder = createPageJsonDecoder(PAGE, 'demo');
      for (let i = 0; i < text.length; i += size) decoder.write(text.slice(i, i + size));
      assert.deepEqual(decoder.end(), expected, `chunk size ${size}`);
    }
  }
});

test('JSON page caps: depth, token length, values per entry, entries per page', () => {
  const decode = (pieces: readonly (string | readonly [string, number])[]): unknown =>
    payloadMessage(() => {
      const decoder = createPageJsonDecoder(PAGE, 'demo');
      feed((c) => decoder.write(c), pieces);
      return decoder.end();
    });
  // 31 M levels in the finding; the cap stops it at the 65th.
  assert.match(String(decode(['{"files":[],"x":', ['[', 1_000_000]])), /nested deeper than 64 levels/);
  assert.equal(MAX_PAGE_DEPTH, 64);
  assert.match(
    String(decode(['{"files":[{"filename":"', ['x', MAX_TOKEN_CHARS + 1]])),
    /a string longer than 65536 characters \(the cap on one token\)/,
  );
  assert.match(
    String(decode(['{"files":[{"filename":"a","x":[', ['1,', MAX_ENTRY_VALUES + 1], '1]}]}'])),
    /files\[0\]: more than 10000 values in one entry/,
  );
  const entry = JSON.stringify(file(1));
  assert.match(
    String(decode(['{"files":[', [`${entry},`, MAX_PAGE_FILES], `${entry}]}`])),
    /more than 500000 files on one page \(the cap on entries per page\)/,
  );
});

test('a JSON page of 200 000 files streams through with bounded warnings', () => {
  const decoder = createPageJsonDecoder(PAGE, 'demo');
  const entries = Array.from({ length: 200_000 }, (_, i) => JSON.stringify(file(i % 100_000)));
  feed((c) => decoder.write(c), ['{"files":[', entries.join(','), ']}']);
  const page = decoder.end();
  assert.equal(page.value.files.length, 100_000);
  assert.equal(page.warnings.length, 21, 'twenty warnings, then a count');
  assert.match(page.warnings.at(-1) ?? '', /and 99980 more problems like these/);
});

test('HTML: an unterminated tag is refused at the token cap, holding no more than the cap', () => {
  const parser = createListingHtmlParser(() => {}, 'https://index.example/simple/');
  const message = payloadMessage(() =>
    feed((c) => parser.write(c), ['<html><body><a href="', ['x', 10 * MAX_TOKEN_CHARS]]),
  );
  assert.match(message, /longer than 65536 characters \(the cap on one token\)/);
  const page = createProjectHtmlParser(PAGE, 'demo');
  assert.match(
    payloadMessage(() => feed((c) => page.write(c), ['<html><body><a', [' x=1', MAX_TOKEN_CHARS]])),
    /the tag <a> longer than 65536 characters/,
  );
  const comment = createProjectHtmlParser(PAGE, 'demo');
  assert.match(
    payloadMessage(() => feed((c) => comment.write(c), ['<html><!--', ['x', 2 * MAX_TOKEN_CHARS]])),
    /an unfinished HTML token .* longer than 65536 characters/,
  );
});

test('HTML: millions of invalid names keep 20 warnings and a count', () => {
  const seen: string[] = [];
  const parser = createListingHtmlParser((p) => seen.push(p.name), 'https://index.example/simple/');
  feed((c) => parser.write(c), ['<html><body>', ['<a href="/x/">-bad-</a>\n', 1_000_000], '<a>ok</a>']);
  parser.end();
  assert.deepEqual(seen, ['ok']);
  assert.equal(parser.warnings.length, 21);
  assert.match(parser.warnings.at(-1) ?? '', /and 999980 more problems like these/);
});

test('HTML: entries per page are capped', () => {
  const parser = createProjectHtmlParser(PAGE, 'demo');
  assert.match(
    payloadMessage(() => feed((c) => parser.write(c), [['<a href="x-1.tar.gz">', MAX_PAGE_FILES + 1]])),
    /more than 500000 files on one page/,
  );
});

test('HTML: nesting costs nothing: 200 000 open <i> keep no stack, unlike htmlparser2 Parser', () => {
  let opened = 0;
  const scanner = createHtmlScanner(new Set(['i']), { onOpenTag: () => void opened++ }, PAGE);
  feed((c) => scanner.write(c), ['<html><body>', ['<i>', 200_000], '<a href="x">x</a></body></html>']);
  scanner.end();
  assert.equal(opened, 200_000);
  assert.ok(scanner.maxHeldChars < 8, `held ${scanner.maxHeldChars} characters between chunks`);
  // The Parser it replaces keeps every open element on a stack it unshifts: O(depth) per tag, quadratic in all.
  const parser = new Parser({}, { decodeEntities: true });
  parser.write('<i>'.repeat(20_000));
  assert.equal((parser as unknown as { stack: string[] }).stack.length, 20_000);
});

test('HTML: isClosed says whether </html> was read', () => {
  const closed = createProjectHtmlParser(PAGE, 'demo');
  closed.write('<html><body><a href="x-1.tar.gz">x</a></body></html>');
  closed.end();
  assert.equal(closed.isClosed, true);
  const cut = createProjectHtmlParser(PAGE, 'demo');
  cut.write('<html><body><a href="x-1.tar.gz">x</a>');
  cut.end();
  assert.equal(cut.isClosed, false);
});

test('XML-RPC caps: nesting depth, element count, text length', () => {
  const parse = (pieces: readonly (string | readonly [string, number])[]): string =>
    payloadMessage(() => {
      const parser = createMethodResponseParser('https://index.example/pypi');
      feed((c) => parser.write(c), pieces);
      return parser.end();
    });
  const head = '<?xml version="1.0"?><methodResponse><params><param>';
  assert.match(parse([head, ['<value><array><data>', 1_000_000]]), /nested deeper than 64 levels/);
  assert.equal(MAX_XMLRPC_DEPTH, 64);
  assert.match(
    parse([`${head}<value><array><data>`, ['<value><i4>1</i4></value>', MAX_XMLRPC_ELEMENTS / 2]]),
    /more than 2000000 XML-RPC elements/,
  );
  assert.match(
    parse([`${head}<value><string>`, ['x', MAX_TOKEN_CHARS + 1]]),
    /text longer than 65536 characters/,
  );
});

test('XML-RPC: a changelog page of 50 000 rows streams into values', () => {
  const parser = createMethodResponseParser();
  const row =
    '<value><array><data><value><string>demo</string></value><value><string>1.0</string></value>' +
    '<value><int>1700000000</int></value><value><string>new release</string></value><value><int>7</int></value></data></array></value>\n';
  feed(
    (c) => parser.write(c),
    [
      '<methodResponse><params><param><value><array><data>',
      [row, 50_000],
      '</data></array></value></param></params></methodResponse>',
    ],
  );
  const result = parser.end();
  assert.ok('value' in result && Array.isArray(result.value));
  assert.equal(result.value.length, 50_000);
  assert.deepEqual(result.value[0], ['demo', '1.0', 1_700_000_000, 'new release', 7]);
  assert.equal(parser.elements, 6 + 50_000 * 13);
});
