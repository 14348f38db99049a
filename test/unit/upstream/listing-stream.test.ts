import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../../src/errors.js';
import { decodeListingJson } from '../../../src/upstream/decode.js';
import { createListingJsonParser, MAX_KEPT_CHARS } from '../../../src/upstream/listing-stream.js';
import type { ListedProject } from '../../../src/model/upstream.js';

const URL_ = 'https://index.example/simple/';

interface Parsed {
  readonly projects: ListedProject[];
  readonly serial: number | null;
  readonly warnings: readonly string[];
  readonly maxHeldChars: number;
}

/** Feeds `text` in pieces cut at `cuts` (sorted offsets). */
function parse(text: string, cuts: readonly number[] = []): Parsed {
  const projects: ListedProject[] = [];
  const parser = createListingJsonParser((p) => projects.push(p), URL_);
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    parser.write(text.slice(at, cut));
    at = cut;
  }
  parser.end();
  assert.equal(parser.count, projects.length);
  return { projects, serial: parser.serial, warnings: parser.warnings, maxHeldChars: parser.maxHeldChars };
}

function payloadMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UpstreamError, `expected UpstreamError, got ${String(err)}`);
    assert.equal(err.code, 'UPSTREAM_PAYLOAD');
    return err.message;
  }
  assert.fail('expected an UPSTREAM_PAYLOAD error');
}

const DOCUMENTS: readonly unknown[] = [
  { meta: { 'api-version': '1.4', '_last-serial': 99 }, projects: [{ name: 'Foo_Bar', '_last-serial': 12 }] },
  { projects: [], meta: { '_last-serial': 0 } },
  {
    projects: [
      { name: 'a', '_last-serial': null },
      {
        '_last-serial': 7,
        extra: { name: 'not-me', list: [1, [2, { x: 'y' }], true, false, null, -0.5e-3] },
        name: 'b',
      },
      { name: '-bad-' },
      { name: 'Zope.Interface', '_last-serial': 123456789 },
    ],
    meta: { 'api-version': '1.1', '_last-serial': 5, _other: { deep: [[[]]] } },
    unknown: 'x'.repeat(MAX_KEPT_CHARS * 3),
    more: [{ projects: 'not the listing' }],
  },
  { meta: {}, projects: [{ name: 'esc\u0041pe\u00e9' }, { name: 'q\\"uote' }, { name: 'last-wins', x: 1 }] },
];

test('gives what decodeListingJson gives, however the input is cut', () => {
  for (const doc of DOCUMENTS) {
    const text = JSON.stringify(doc, null, doc === DOCUMENTS[1] ? 2 : undefined);
    const expected = decodeListingJson(JSON.parse(text), URL_);
    const whole = parse(text);
    assert.deepEqual(whole.projects, expected.value.projects);
    assert.equal(whole.serial, expected.value.serial);
    assert.deepEqual(whole.warnings, expected.warnings);
    // Every single cut position, then many small random pieces.
    const step = Math.max(1, Math.floor(text.length / 400));
    for (let cut = 0; cut <= text.length; cut += step) {
      assert.deepEqual(parse(text, [cut]).projects, expected.value.projects, `cut at ${cut}`);
    }
    let seed = 7;
    const cuts: number[] = [];
    for (let at = 0; at < text.length; at += 1 + ((seed = (seed * 48271) % 2147483647) % 7)) cuts.push(at);
    assert.deepEqual(parse(text, cuts).projects, expected.value.projects);
  }
});

test('escapes and non-ASCII names are decoded like JSON.parse does', () => {
  const text =
    '{"projects":[{"name":"a\\u0062c","_last-serial":1},{"name":"d\\/e"},{"name":"\\u00e9t\\u00e9"},' +
    '{"n\\u0061me":"x","name":"y-z"}]}';
  assert.equal((JSON.parse(text) as { projects: { name: string }[] }).projects[3]?.name, 'y-z');
  const { projects, warnings } = parse(text, [12, 13, 14, 15, 16, 17, 18, 19, 20]);
  assert.deepEqual(projects, [
    { name: 'abc', serial: 1 },
    { name: 'y-z', serial: null },
  ]);
  assert.equal(warnings.length, 2, 'd/e and été are not valid project names');
});

test('malformed JSON is rejected with the character offset', () => {
  const cases: readonly [string, RegExp][] = [
    ['', /character 0: the document is empty/],
    ['{"projects":[', /character 13: the document ends before it is complete/],
    ['{"projects":[]} x', /character 16: unexpected "x" after the end of the document/],
    ['{"projects":[],}', /character 15: expected a string key, got "}"/],
    ['{"projects" []}', /character 12: expected ':' after an object key, got "\["/],
    ['{"projects":[{"name":"a"} {"name":"b"}]}', /character 26: expected ',' or '\]', got "{"/],
    ['{"projects":[{"name":"a"]}', /expected ',' or '}', got "\]"/],
    ['{"projects":[], "x": tru}', /invalid literal \(expected true\)/],
    ['{"projects":[], "x": 01}', /malformed number "01"/],
    ['{"projects":[], "x": -}', /malformed number "-"/],
    ['{"projects":[], "x": "\\q"}', /invalid escape \\q/],
    ['{"projects":[], "x": "\\u12g4"}', /invalid \\u escape digit "g"/],
    ['{"projects":[], "x": "a\nb"}', /control character inside a string/],
    ["{'projects':[]}", /expected a string key or '}', got "'"/],
    [`{"x":${'['.repeat(300)}`, /nested deeper than 256 levels/],
  ];
  for (const [text, pattern] of cases) {
    const message = payloadMessage(() => parse(text));
    assert.match(message, pattern, text.slice(0, 40));
    assert.match(message, /^https:\/\/index\.example\/simple\/: invalid JSON/);
  }
});

test('a wrong structure is rejected with the JSON path, as decodeListingJson does', () => {
  const cases: readonly [unknown, RegExp][] = [
    [[], /\(root\): expected an object, got an array/],
    [5, /\(root\): expected an object, got number 5/],
    [{ meta: {} }, /projects: expected an array, got nothing/],
    [{ projects: {} }, /projects: expected an array, got an object/],
    [{ projects: null }, /projects: expected an array, got null/],
    [{ meta: null, projects: [] }, /meta: expected an object, got null/],
    [{ projects: [{ name: 'a' }, 'b'] }, /projects\[1\]: expected an object, got "b"/],
    [{ projects: [{ name: 1 }] }, /projects\[0\]\.name: expected a string, got number 1/],
    [{ projects: [{ name: ['a'] }] }, /projects\[0\]\.name: expected a string, got an array/],
    [{ projects: [{ '_last-serial': 1 }] }, /projects\[0\]\.name: expected a string, got nothing/],
    [
      { projects: [{ name: 'a', '_last-serial': -1 }] },
      /projects\[0\]\._last-serial: expected an integer ≥ 0/,
    ],
    [
      { projects: [{ name: 'a', '_last-serial': 1.5 }] },
      /projects\[0\]\._last-serial: expected an integer ≥ 0/,
    ],
    [{ meta: { '_last-serial': '9' }, projects: [] }, /meta\._last-serial: expected an integer ≥ 0, got "9"/],
    [{ meta: { 'api-version': '2.0' }, projects: [] }, /meta\.api-version: unsupported major version/],
    [{ meta: { 'api-version': 1 }, projects: [] }, /meta\.api-version: expected "Major\.Minor"/],
  ];
  for (const [doc, pattern] of cases) {
    const text = JSON.stringify(doc);
    assert.match(
      payloadMessage(() => parse(text)),
      pattern,
      text,
    );
  }
});

test('a newer minor api-version and invalid names are warnings; warnings are capped', () => {
  const bad = Array.from({ length: 50 }, (_, i) => ({ name: `-bad${i}-` }));
  const text = JSON.stringify({ meta: { 'api-version': '1.9' }, projects: [...bad, { name: 'ok' }] });
  const { projects, warnings } = parse(text);
  assert.deepEqual(projects, [{ name: 'ok', serial: null }]);
  assert.match(warnings[0] ?? '', /meta\.api-version: "1\.9" is newer/);
  assert.equal(warnings.length, 21);
  assert.match(warnings.at(-1) ?? '', /and 31 more problems like these/);
  const long = parse(JSON.stringify({ projects: [{ name: 'a'.repeat(MAX_KEPT_CHARS + 1) }, { name: 'b' }] }));
  assert.deepEqual(long.projects, [{ name: 'b', serial: null }]);
  assert.match(long.warnings[0] ?? '', /projects\[0\]\.name: longer than 4096 characters; skipped/);
});

/** A PyPI-shaped listing of `count` projects, produced lazily in ~64 KiB pieces. */
function* generateListing(count: number): Generator<string> {
  yield '{"meta":{"api-version":"1.4","_last-serial":31000000},"projects":[';
  let piece = '';
  for (let i = 0; i < count; i++) {
    piece += `${i === 0 ? '' : ','}{"name":"Project_${i.toString(36)}.Name","_last-serial":${30000000 + i}}`;
    if (piece.length >= 65_536) {
      // Cut mid-entry, so every entry boundary case is exercised.
      const cut = piece.length - 17;
      yield piece.slice(0, cut);
      piece = piece.slice(cut);
    }
  }
  yield `${piece}]}`;
}

test('a listing of 700 000 projects streams through while holding one entry at most', () => {
  const count = 700_000;
  let delivered = 0;
  let deliveredBeforeEnd = 0;
  let last: ListedProject | null = null;
  let chunks = 0;
  let totalChars = 0;
  const parser = createListingJsonParser((p) => {
    delivered++;
    last = p;
  });
  for (const chunk of generateListing(count)) {
    const before = delivered;
    parser.write(chunk);
    chunks++;
    totalChars += chunk.length;
    // Entries come out as their closing brace goes in, not at the end.
    if (chunks > 2 && chunk.length > 1000) assert.ok(delivered > before, `chunk ${chunks} delivered nothing`);
  }
  deliveredBeforeEnd = delivered;
  parser.end();
  assert.ok(totalChars > 30_000_000, `a PyPI-sized input (${totalChars} characters)`);
  assert.equal(delivered, count);
  assert.equal(deliveredBeforeEnd, count, 'all delivered before end()');
  assert.equal(parser.count, count);
  assert.equal(parser.serial, 31_000_000);
  assert.deepEqual(last, {
    name: `Project_${(count - 1).toString(36)}.Name`,
    serial: 30_000_000 + count - 1,
  });
  // Between two writes the parser holds a partial token and the current entry's name, never more.
  const entryLength = '{"name":"Project_zzzz.Name","_last-serial":30700000}'.length;
  assert.ok(parser.maxHeldChars <= entryLength, `held ${parser.maxHeldChars} characters`);
  assert.deepEqual(parser.warnings, []);
});
