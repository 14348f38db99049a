// The one redaction rule for every URL shown (config problems, log lines, errors, `check`, status.json):
// credentials before a host's `@` become `***@`, every query parameter's value becomes `***`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatConfigIssue, redactSecrets, redactUrl } from '../../../src/errors.js';
import { formatLine } from '../../../src/logger.js';

describe('redactSecrets', () => {
  it('hides user:password@ in URLs and in scheme-less text', () => {
    assert.equal(redactSecrets('https://u:p@ss@host/simple/'), 'https://***@host/simple/');
    assert.equal(redactSecrets('see "u:secret@host/x"'), 'see "***@host/x"');
    assert.equal(redactSecrets('https://token@host/'), 'https://***@host/');
    assert.equal(redactSecrets('proxy //u:p@proxy:3128'), 'proxy //***@proxy:3128');
    assert.equal(redactSecrets('/srv/user@host/mirror'), '/srv/user@host/mirror');
  });

  it('hides every query value, keeping the names, in whole URLs and in relative ones', () => {
    assert.equal(
      redactSecrets('GET https://h/files/a.whl?token=SECRET&X-Amz-Signature=abc%2F&flag#sha256=00'),
      'GET https://h/files/a.whl?token=***&X-Amz-Signature=***&flag#sha256=00',
    );
    assert.equal(redactSecrets('href "../a.whl?sig=SECRET" skipped'), 'href "../a.whl?sig=***" skipped');
    assert.equal(redactSecrets('x?empty=&k=v'), 'x?empty=&k=***');
    // Inside a JSON-quoted log field, the escaped quote ends the URL.
    assert.equal(redactSecrets('w="url \\"../a?t=SECRET\\": skipped"'), 'w="url \\"../a?t=***\\": skipped"');
  });

  it('leaves the punctuation that ends a sentence, and prose questions, alone', () => {
    assert.equal(
      redactSecrets('http://h/f.tgz?token=SECRET&x=1: HTTP 500'),
      'http://h/f.tgz?token=***&x=***: HTTP 500',
    );
    assert.equal(
      redactSecrets('expected a URL without ?query or #fragment'),
      'expected a URL without ?query or #fragment',
    );
    assert.equal(redactSecrets('is there a reference loop?'), 'is there a reference loop?');
    assert.equal(redactSecrets('zope.? matches'), 'zope.? matches');
  });

  it('is idempotent', () => {
    const once = redactSecrets('https://u:p@h/s/?a=1&b=2 and u:p@x');
    assert.equal(redactSecrets(once), once);
  });
});

describe('redactUrl', () => {
  it('hides credentials and query values of URL objects and strings', () => {
    assert.equal(
      redactUrl(new URL('https://bob:hunter2@h/simple/?token=SECRET')),
      'https://***@h/simple/?token=***',
    );
    assert.equal(redactUrl('http://h:8080'), 'http://h:8080/');
    assert.equal(redactUrl('not a url?token=SECRET'), 'not a url?token=***');
  });
});

describe('where URLs are shown', () => {
  it('log lines hide them, in the message and in every field', () => {
    const line = formatLine('GET https://u:pw@h/f?token=SECRET failed', {
      url: 'https://h/f?token=SECRET',
      error: new Error('https://h/f?sig=SECRET: HTTP 500'),
    });
    assert.doesNotMatch(line, /SECRET|pw/);
    assert.match(line, /url="https:\/\/h\/f\?token=\*\*\*"/);
  });

  it('config problems show a long value cut, with its length', () => {
    const value = 'x '.repeat(1000);
    const shown = formatConfigIssue({
      file: 'f',
      line: 3,
      section: 'mirror',
      key: 'k',
      value,
      expected: 'e',
    });
    assert.equal(shown, `f:3: [mirror] k = ${JSON.stringify(value.slice(0, 200))}… (2000 characters): e`);
    assert.ok(
      new ConfigError('CONFIG_INVALID', 'f', [
        { file: 'f', line: 3, section: 'mirror', key: 'k', value, expected: 'e' },
      ]).message.length < 400,
    );
  });
});

describe('config problems and warnings by the thousand', () => {
  it('lists the first 100, then says how many more', () => {
    const issue = (line: number) => ({
      file: 'f',
      line,
      section: 'mirror',
      key: 'k',
      value: 'v',
      expected: 'e',
    });
    const err = new ConfigError(
      'CONFIG_INVALID',
      'f',
      Array.from({ length: 250 }, (_, i) => issue(i + 1)),
    );
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'f: 250 problems');
    assert.equal(lines.length, 1 + 100 + 1);
    assert.equal(lines.at(-2), '  f:100: [mirror] k = "v": e');
    assert.equal(lines.at(-1), '  … and 150 more problems');
    assert.equal(err.issues.length, 250);
  });
});
