// parse-ini must read what Python's configparser.ConfigParser() reads; expected values below were checked
// against CPython 3.11's ConfigParser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigIssue } from '../../../src/errors.js';
import { parseIni } from '../../../src/config/parse-ini.js';

/** A section's values as a plain object, key → value. */
function readValues(text: string, section = 'mirror'): Record<string, string> {
  const { raw, issues } = parseIni(text, 't.cfg');
  assert.deepEqual(issues.map(formatConfigIssue), []);
  const values = raw.sections.get(section)?.values;
  assert.ok(values, `no section [${section}]`);
  return Object.fromEntries([...values].map(([k, v]) => [k, v.value]));
}

function readIssues(text: string): string[] {
  return parseIni(text, 't.cfg').issues.map(formatConfigIssue);
}

describe('parseIni: ConfigParser syntax', () => {
  it('reads sections, `key = value` and `key: value`, splitting at the first = or :', () => {
    const text = '[mirror]\na = 1\nb: 2\nc=d=e\nd: x=y:z\ne = http://h:80/p\n';
    assert.deepEqual(readValues(text), { a: '1', b: '2', c: 'd=e', d: 'x=y:z', e: 'http://h:80/p' });
  });

  it('lower-cases keys but keeps section names and values as written', () => {
    const { raw } = parseIni('[Mirror]\nMirror_File_Path = /Srv/PyPI\n', 't.cfg');
    assert.deepEqual([...raw.sections.keys()], ['Mirror']);
    assert.equal(raw.sections.get('Mirror')?.values.get('mirror_file_path')?.value, '/Srv/PyPI');
  });

  it('continues a value on lines indented deeper than its key; keeps inner blank lines, drops trailing ones', () => {
    const text = '[mirror]\na = x\n\n  # a comment inside\n  y\n\n   z\n\n\nb = 2\n';
    assert.deepEqual(readValues(text), { a: 'x\n\ny\n\nz', b: '2' });
  });

  it('starts a list value on the next lines when the first line is empty (z3c style)', () => {
    assert.deepEqual(readValues('[mirror]\nm =\n    zope.*\n    plone.*\n'), { m: '\nzope.*\nplone.*' });
  });

  it('compares indentation with the key line, not with column 0', () => {
    const text = '[mirror]\n  a = 1\n    more\n b = 2\n';
    assert.deepEqual(readValues(text), { a: '1\nmore', b: '2' });
  });

  it('skips full-line # and ; comments, indented too, and keeps inline ones in the value', () => {
    const text = '# top\n[mirror]\n; note\n   # indented\na = 1 # not a comment\nb = x ; nor this\n';
    assert.deepEqual(readValues(text), { a: '1 # not a comment', b: 'x ; nor this' });
  });

  it('takes the name of a header up to its last ] and ignores what follows', () => {
    assert.deepEqual(readValues('[mirror] ; comment\na = 1\n'), { a: '1' });
  });

  it('keeps the 1-based line of each key and the section it was written in', () => {
    const { raw } = parseIni('\n[DEFAULT]\na = 1\n[mirror]\n\nb =\n  x\n', 't.cfg');
    const mirror = raw.sections.get('mirror');
    assert.deepEqual(mirror?.values.get('a'), { value: '1', line: 3, section: 'DEFAULT' });
    assert.deepEqual(mirror?.values.get('b'), { value: '\nx', line: 6, section: 'mirror' });
    assert.equal(mirror?.line, 4);
    assert.equal(raw.sections.get('DEFAULT')?.line, 2);
  });

  it('reads CRLF and CR line ends and ignores a leading BOM', () => {
    assert.deepEqual(readValues('\uFEFF[mirror]\r\na = 1\r\n  2\rb = 3'), { a: '1\n2', b: '3' });
  });
});

describe('parseIni: [DEFAULT]', () => {
  it('makes [DEFAULT] values visible in [mirror], where a [mirror] value wins', () => {
    const text = '[DEFAULT]\na = d\nb = d\n[mirror]\nb = m\n[other]\nc = o\n';
    assert.deepEqual(readValues(text, 'mirror'), { a: 'd', b: 'm' });
    assert.deepEqual(readValues(text, 'DEFAULT'), { a: 'd', b: 'd' });
    // Sections pypimirror ignores keep their own keys only (ConfigParser would show [DEFAULT]'s there too).
    assert.deepEqual(readValues(text, 'other'), { c: 'o' });
  });

  it('merges a repeated [DEFAULT] header, as ConfigParser does', () => {
    assert.deepEqual(readValues('[DEFAULT]\na = 1\n[DEFAULT]\nb = 2\n', 'DEFAULT'), { a: '1', b: '2' });
  });

  it('treats [default] as an ordinary section (section names are case-sensitive)', () => {
    const { raw } = parseIni('[DEFAULT]\na = 1\n[default]\nb = 2\n', 't.cfg');
    assert.deepEqual([...raw.sections.keys()], ['DEFAULT', 'default']);
    assert.equal(raw.sections.get('default')?.values.get('b')?.value, '2');
    assert.equal(raw.sections.get('DEFAULT')?.values.get('a')?.value, '1');
  });
});

describe('parseIni: %(key)s interpolation', () => {
  it('expands references from the same section, then [DEFAULT]; %% is a literal %', () => {
    const text =
      '[DEFAULT]\nroot = /srv\n[mirror]\nname = pypi\npath = %(root)s/%(name)s\npct = 50%% %(NAME)s\n';
    assert.deepEqual(readValues(text), { root: '/srv', name: 'pypi', path: '/srv/pypi', pct: '50% pypi' });
  });

  it('follows chained references, up to 10 levels', () => {
    const chain = (n: number) =>
      ['[mirror]', 'k0 = %(k1)s', ...Array.from({ length: n - 1 }, (_, i) => `k${i + 1} = %(k${i + 2})s`)]
        .concat(`k${n} = end`)
        .join('\n');
    assert.equal(readValues(chain(10)).k0, 'end');
    assert.deepEqual(readIssues(chain(11)), [
      't.cfg:2: [mirror] k0 = "%(k1)s": %(...)s references nested deeper than 10 levels; is there a reference loop?',
    ]);
  });

  it('expands a [DEFAULT] value in the context of the section that reads it', () => {
    const text = '[DEFAULT]\nlog = %(root)s/log\nroot = /a\n[mirror]\nroot = /b\n';
    assert.equal(readValues(text).log, '/b/log');
    assert.equal(readValues(text, 'DEFAULT').log, '/a/log');
  });

  it('does not report [DEFAULT] values that only [mirror] can complete (pypimirror reads [mirror])', () => {
    const { raw, issues } = parseIni('[DEFAULT]\nlog = %(root)s/log\n[mirror]\nroot = /b\n', 't.cfg');
    assert.deepEqual(issues, []);
    assert.equal(raw.sections.get('mirror')?.values.get('log')?.value, '/b/log');
    assert.equal(raw.sections.get('DEFAULT')?.values.has('log'), false);
  });

  it('reports a missing reference, a bad reference and a lone %, leaving those keys out', () => {
    const text = '[mirror]\na = %(nope)s\nb = %(b\nc = 100%\nd = 5%d\ne = ok\n';
    assert.deepEqual(readIssues(text), [
      't.cfg:2: [mirror] a = "%(nope)s": bad interpolation reference %(nope)s: no key "nope" in [mirror] or [DEFAULT]',
      't.cfg:3: [mirror] b = "%(b": bad interpolation reference at "%(b": expected %(name)s (%% for a literal %)',
      't.cfg:4: [mirror] c = "100%": a lone % at "%": expected %% for a literal %, or %(name)s',
      't.cfg:5: [mirror] d = "5%d": a lone % at "%d": expected %% for a literal %, or %(name)s',
    ]);
    const { raw } = parseIni(text, 't.cfg');
    assert.deepEqual([...(raw.sections.get('mirror')?.values.keys() ?? [])], ['e']);
  });

  it('reports each key of a reference loop', () => {
    assert.deepEqual(readIssues('[DEFAULT]\na = %(b)s\nb = %(a)s\n'), [
      't.cfg:2: [DEFAULT] a = "%(b)s": %(...)s references nested deeper than 10 levels; is there a reference loop?',
      't.cfg:3: [DEFAULT] b = "%(a)s": %(...)s references nested deeper than 10 levels; is there a reference loop?',
    ]);
  });

  it('never quotes a part of a value that may hold a password', () => {
    const [issue] = parseIni('[mirror]\nindex_url = https://u:p%ss@h/simple/\n', 't.cfg').issues;
    assert.equal(issue?.expected, 'a lone %: expected %% for a literal %, or %(name)s');
  });
});

describe('parseIni: errors are collected, with their lines', () => {
  it('reports duplicate keys and sections (ConfigParser strict mode), keeping the first', () => {
    const text = '[mirror]\na = 1\nA = 2\n  more\n[mirror]\nb = 3\n[DEFAULT]\nc = 1\n[DEFAULT]\nc = 2\n';
    assert.deepEqual(readIssues(text), [
      't.cfg:3: [mirror] a = "2": duplicate key, first set at line 2',
      't.cfg:5: [mirror]: duplicate section, first at line 1',
      't.cfg:10: [DEFAULT] c = "2": duplicate key, first set at line 8',
    ]);
    const { raw } = parseIni(text, 't.cfg');
    assert.equal(raw.sections.get('mirror')?.values.get('a')?.value, '1');
    assert.equal(raw.sections.get('mirror')?.values.has('b'), false);
  });

  it('reports the first key before any section header once', () => {
    assert.deepEqual(readIssues('# c\nmirror_file_path = /srv\nverbose = 1\n[mirror]\n'), [
      't.cfg:2: mirror_file_path = "/srv": comes before any [section] header; start the file with [mirror] or [DEFAULT]',
    ]);
  });

  it('reports lines that are neither header, key, comment nor continuation', () => {
    assert.deepEqual(readIssues('[mirror]\njust words\n= value\n[]\n'), [
      't.cfg:2: [mirror]: cannot read line "just words": expected "key = value", "key: value", a [section] header, a # or ; comment, or a continuation line indented deeper than its key',
      't.cfg:3: [mirror]: cannot read line "= value": the key name is empty',
      't.cfg:4: [mirror]: cannot read line "[]": expected "key = value", "key: value", a [section] header, a # or ; comment, or a continuation line indented deeper than its key',
    ]);
  });
});

describe('parseIni: interpolation is bounded', () => {
  it('expands each key once, so wide chains of references cost linear time', { timeout: 20_000 }, () => {
    // Nine levels of 1000 references each, all expanding to nothing: ConfigParser walks 1000^9 references.
    const refs = (key: string) => `%(${key})s`.repeat(1000);
    const levels = Array.from({ length: 8 }, (_, i) => `a${i + 1} = ${refs(`a${i}`)}`);
    const values = readValues(
      ['[mirror]', 'empty =', 'a0 = %(empty)s', ...levels, 'top = <%(a8)s>'].join('\n'),
    );
    assert.equal(values.top, '<>');
  });

  it('caps a value at 64 KiB of expansion, naming the cap, and keeps the key out', () => {
    const text = '[mirror]\nbig = ' + 'x'.repeat(40_000) + '\nok = %(big)s\ntwice = %(big)s%(big)s\n';
    const { raw, issues } = parseIni(text, 't.cfg');
    assert.deepEqual(
      issues.map((i) => `${i.line} ${i.key}: ${i.expected}`),
      ['4 twice: %(...)s references expand this value to more than 65536 characters, the cap for one value'],
    );
    assert.equal(raw.sections.get('mirror')?.values.get('ok')?.value.length, 40_000);
    assert.equal(raw.sections.get('mirror')?.values.has('twice'), false);
  });

  it('caps what a section expands to in all at 4 MiB (a bomb spread over many keys)', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k${i} = %(big)s`);
    const { issues } = parseIni(['[mirror]', `big = ${'x'.repeat(60_000)}`, ...keys].join('\n'), 't.cfg');
    // 4 MiB / 60 000 characters: 69 keys fit, the other 31 are refused.
    assert.equal(issues.length, 31);
    assert.equal(issues[0]?.key, 'k69');
    assert.equal(
      issues[0]?.expected,
      '%(...)s references in [mirror] or [DEFAULT] expand to more than 4194304 characters in all, the cap for one section',
    );
  });

  it('does not expand sections pypimirror ignores', () => {
    const text = '[mirror]\na = 1\n[other]\nb = %(a)s %(nope)s\n';
    const { raw, issues } = parseIni(text, 't.cfg');
    assert.deepEqual(issues, []);
    assert.equal(raw.sections.get('other')?.values.get('b')?.value, '%(a)s %(nope)s');
  });
});

describe('parseIni: many sections', () => {
  it('does not copy [DEFAULT] into each ignored section', { timeout: 20_000 }, () => {
    const defaults = Array.from({ length: 10_000 }, (_, i) => `k${i} = v`).join('\n');
    const sections = Array.from({ length: 100_000 }, (_, i) => `[s${i}]`).join('\n');
    const { raw, issues } = parseIni(`[DEFAULT]\n${defaults}\n${sections}\n`, 't.cfg');
    assert.deepEqual(issues, []);
    assert.equal(raw.sections.size, 100_001);
    assert.equal(raw.sections.get('s5')?.values.size, 0);
  });
});
