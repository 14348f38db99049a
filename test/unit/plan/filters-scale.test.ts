// The project filter at PyPI scale: 700 000 names through 50 globs. No timing here (CI times nothing; the
// bench does): the combined matcher must agree with minimatch glob by glob, and select exactly the expected set.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Minimatch } from 'minimatch';
import { compileFilters } from '../../../src/plan/filters.js';
import { normalizeName } from '../../../src/model/names.js';

const WORDS = ['zope', 'plone', 'django', 'flask', 'aws', 'azure', 'google', 'data', 'test', 'lib'];
const SEPARATORS = ['-', '_', '.', '--', ''];

/** 50 globs: 30 prefix globs, 10 literal names, 5 with ? and [], 5 excludes. */
function makeGlobs(): string[] {
  const globs: string[] = [];
  for (let i = 0; i < 30; i++) globs.push(`${WORDS[i % 10]}.${WORDS[(i * 3 + 1) % 10]}${i}*`);
  for (let i = 0; i < 10; i++) globs.push(`Exact_Name.${i}`);
  for (let i = 0; i < 5; i++) globs.push(`x?y[0-${i}]*`);
  for (let i = 0; i < 5; i++) globs.push(`!*-excluded${i}`);
  return globs;
}

/** Deterministic display names, in PyPI's odd spellings. */
function makeName(i: number): string {
  const a = WORDS[i % 10] as string;
  const b = WORDS[Math.floor(i / 10) % 10] as string;
  const sep = SEPARATORS[i % SEPARATORS.length] as string;
  const tail = i % 97 === 0 ? `-excluded${i % 5}` : '';
  const head = i % 13 === 0 ? a.toUpperCase() : a;
  if (i % 1001 === 0) return `Exact-Name_${i % 10}`;
  if (i % 777 === 0) return `x${String.fromCharCode(97 + (i % 26))}y${i % 10}z`;
  return `${head}${sep}${b}${i % 40}${tail}`;
}

/** The reference: one Minimatch per glob, checked one after the other (the old implementation). */
function referenceMatcher(globs: readonly string[]): (name: string) => boolean {
  const options = { nocase: true, dot: true, nobrace: true, noext: true, nocomment: true };
  const compiled = globs.map((g) => {
    const isExclude = g.startsWith('!');
    return { isExclude, mm: new Minimatch(normalizeName(isExclude ? g.slice(1) : g), options) };
  });
  const includes = compiled.filter((c) => !c.isExclude).map((c) => c.mm);
  const excludes = compiled.filter((c) => c.isExclude).map((c) => c.mm);
  return (name) => {
    const n = normalizeName(name);
    if (excludes.some((m) => m.match(n))) return false;
    return includes.length === 0 || includes.some((m) => m.match(n));
  };
}

test('the combined matcher agrees with minimatch glob by glob', () => {
  const globs = makeGlobs();
  const fast = compileFilters(globs, []);
  const slow = referenceMatcher(globs);
  let matched = 0;
  for (let i = 0; i < 20_000; i += 3) {
    const name = makeName(i);
    assert.equal(fast.matchProject(name), slow(name), name);
    assert.equal(fast.matchNormalizedProject(normalizeName(name)), slow(name), name);
    if (slow(name)) matched++;
  }
  assert.ok(matched > 100, `a meaningful share matched (${matched})`);
});

test('file globs: the combined matcher agrees with minimatch too', () => {
  const globs = ['*.whl', '*.tar.gz', '!*-win32.whl', 'demo-1.0+local*', 'pkg-[0-9].zip', 'a?c.egg'];
  const fast = compileFilters([], globs);
  const options = { nocase: true, dot: true, nobrace: true, noext: true, nocomment: true };
  const inc = globs.filter((g) => !g.startsWith('!')).map((g) => new Minimatch(g, options));
  const exc = globs.filter((g) => g.startsWith('!')).map((g) => new Minimatch(g.slice(1), options));
  const names = [
    'demo-1.0-py3-none-any.whl',
    'DEMO-1.0.TAR.GZ',
    'demo-1.0-cp311-cp311-win32.whl',
    'demo-1.0+local.zip',
    'pkg-7.zip',
    'pkg-x.zip',
    'abc.egg',
    'abbc.egg',
    '.hidden.whl',
    'x.tar.gz.asc',
  ];
  for (const name of names) {
    const expected = !exc.some((m) => m.match(name)) && inc.some((m) => m.match(name));
    assert.equal(fast.matchFile(name), expected, name);
  }
});

test('700 000 names through 50 globs select exactly what the globs one by one select', () => {
  const globs = makeGlobs();
  const fast = compileFilters(globs, []);
  // The reference here: minimatch's RegExp of each glob, tried one after the other (the first test checks
  // these agree with Minimatch.match). The combined matcher must give the very same set.
  const options = { nocase: true, dot: true, nobrace: true, noext: true, nocomment: true };
  const toRe = (g: string): RegExp => {
    const re = new Minimatch(normalizeName(g), options).makeRe();
    assert.ok(re instanceof RegExp, g);
    return re;
  };
  const includes = globs.filter((g) => !g.startsWith('!')).map(toRe);
  const excludes = globs.filter((g) => g.startsWith('!')).map((g) => toRe(g.slice(1)));
  let selected = 0;
  let expected = 0;
  for (let i = 0; i < 700_000; i++) {
    const name = makeName(i);
    if (fast.matchProject(name)) selected++;
    const n = normalizeName(name);
    if (!excludes.some((re) => re.test(n)) && includes.some((re) => re.test(n))) expected++;
  }
  assert.equal(selected, expected);
  assert.ok(selected > 10_000, `selected ${selected}`);
});
