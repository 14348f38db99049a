// The XML-RPC answer's scanner (src/upstream/xml-scan.ts): the same events however the answer is cut into
// chunks (one character at a time included), entities and character references decoded in text and attribute
// values, CDATA as text, comments, processing instructions and declarations skipped, names in their case, and
// an unfinished token past the cap refused with UPSTREAM_PAYLOAD.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../../../src/errors.js';
import { createXmlScanner } from '../../../src/upstream/xml-scan.js';

/** The events of scanning `chunks`, one string each, adjacent text joined. */
function scan(chunks: readonly string[], maxTokenChars?: number): string[] {
  const events: string[] = [];
  const scanner = createXmlScanner(
    {
      onOpenTag: (name, attribs) => events.push(`<${name}${JSON.stringify(attribs)}>`),
      onCloseTag: (name) => events.push(`</${name}>`),
      onText: (text) => {
        const last = events.length - 1;
        if (events[last]?.startsWith('"') === true)
          events[last] = JSON.stringify(JSON.parse(events[last] as string) + text);
        else events.push(JSON.stringify(text));
      },
    },
    'https://index.example/pypi',
    maxTokenChars,
  );
  for (const chunk of chunks) scanner.write(chunk);
  scanner.end();
  return events;
}

const ANSWER =
  "<?xml version='1.0'?>\n<!DOCTYPE methodResponse><!-- a <comment> -->" +
  '<methodResponse><params><param><value><array><data>' +
  '<value><string>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#233;&#x4E2D; &bogus; &</string></value>' +
  '<value><string><![CDATA[<not a tag> &amp;]]></string></value>' +
  '<value><dateTime.iso8601 kind="x>y" q=\'&amp;\'>20261203T00:00:00</dateTime.iso8601></value>' +
  '<value><nil/></value>' +
  '</data></array></value></param></params></methodResponse>\n';

test('XML: the same events whole, in two pieces anywhere, and one character at a time', () => {
  const whole = scan([ANSWER]);
  assert.deepEqual(whole.slice(0, 8), [
    '"\\n"',
    '<methodResponse{}>',
    '<params{}>',
    '<param{}>',
    '<value{}>',
    '<array{}>',
    '<data{}>',
    '<value{}>',
  ]);
  assert.ok(whole.includes('"a <b> & \\"c\\" \'d\' é中 &bogus; &"'), whole.join(' '));
  assert.ok(whole.includes('"<not a tag> &amp;"'), 'CDATA is text, as written');
  assert.ok(whole.includes('<dateTime.iso8601{"kind":"x>y","q":"&"}>'), 'names keep their case');
  assert.ok(whole.includes('<nil{}>') && whole.includes('</nil>'), 'a self-closing tag opens and closes');
  for (let cut = 1; cut < ANSWER.length; cut++) {
    assert.deepEqual(scan([ANSWER.slice(0, cut), ANSWER.slice(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(scan([...ANSWER]), whole);
});

test('XML: an unfinished tag, comment or CDATA section past the cap is UPSTREAM_PAYLOAD', () => {
  for (const opening of ['<value a="', '<!-- ', '<![CDATA[', '<?xml ']) {
    assert.throws(
      () => scan([opening, 'x'.repeat(60), 'x'.repeat(60)], 100),
      (err: unknown) =>
        err instanceof UpstreamError &&
        err.code === 'UPSTREAM_PAYLOAD' &&
        /an unfinished XML token .* longer than 100 characters \(the cap on one token\)/.test(err.message),
      opening,
    );
  }
  // Text is passed on as it comes: a long text is no token.
  assert.deepEqual(scan(['<s>', 'x'.repeat(80), 'x'.repeat(80), '</s>'], 100), [
    '<s{}>',
    JSON.stringify('x'.repeat(160)),
    '</s>',
  ]);
});
