// INI text → RawConfig, read the way Python's configparser.ConfigParser() (default settings) reads it, so
// z3c.pypimirror files work unchanged. The rules (CPython's RawConfigParser._read, BasicInterpolation):
// - `[name]` starts a section (case-sensitive name; the line must start with `[`; the first-to-last `]` span
//   is the name). `[DEFAULT]` may appear more than once; any other section given twice is an error (strict).
// - `key = value` or `key: value`, split at the first `=` or `:`; keys are lower-cased, both sides trimmed.
//   A key given twice in one section is an error (strict). A key before any section header is an error.
// - A line indented deeper than its key's line continues the value; blank lines inside a value are kept,
//   trailing ones dropped. A line starting (after indentation) with `#` or `;` is a comment anywhere, also
//   inside a multi-line value. Inline comments are NOT stripped: `a = 1 # one` has the value `1 # one`.
// - `[DEFAULT]` keys are visible in every section; `%(key)s` is replaced by the key's value from the same
//   section, else [DEFAULT] (key name case-insensitive, recursively, at most 10 levels); `%%` is a `%`.
// Where we differ, on purpose: every problem is collected (ConfigParser stops at the first), a leading BOM
// is ignored, and interpolation errors are reported for the values pypimirror reads (those of [mirror],
// or of [DEFAULT] when there is no [mirror]); ConfigParser reports them when a value is read. Expansion is
// bounded where ConfigParser's is not (a chain of `%(a)s%(a)s` doubling at each of its 10 levels needs
// gigabytes): a value may grow to MAX_EXPANDED_VALUE characters, a section's values together by
// MAX_EXPANDED_TOTAL, each a config problem naming the cap; `[upstream:NAME]` sections are read too: each
// keeps only its own keys (a [DEFAULT] key is not an upstream's), expanded against its keys and [DEFAULT]'s,
// all of them within one more MAX_EXPANDED_TOTAL. Other sections, which pypimirror ignores, keep only their
// own keys, not expanded.
//
// What the `ini` package (v6) does and does not do for us: its `decode` gives no line numbers, joins no
// continuation lines, knows no `%(key)s` interpolation and no [DEFAULT] inheritance, strips inline `;`/`#`
// comments, turns `true`/`false` into booleans, and merges duplicate keys and sections silently: each of
// which would change what a z3c file means or hide the line an error must name. Its `encode`/`safe` write
// `key[]=` lists and backslash-escape `;` and `#`, which ConfigParser does not read back. So this reader,
// and the writer in describe.ts, do not use it.
import type { ConfigIssue } from '../errors.js';
import { DEFAULT_SECTION, MIRROR_SECTION, UPSTREAM_SECTION_PREFIX } from './defaults.js';
import type { RawConfig, RawValue } from './types.js';

export interface ParsedIni {
  raw: RawConfig;
  /** Syntax and interpolation problems, in line order. The keys at fault are left out of `raw`. */
  issues: ConfigIssue[];
}

/** configparser.MAX_INTERPOLATION_DEPTH */
const MAX_INTERPOLATION_DEPTH = 10;
/** The longest value `%(key)s` references may build (ConfigParser has no cap: a doubling chain is a bomb). */
const MAX_EXPANDED_VALUE = 64 * 1024;
/** What references may add in one section's view, all values together (a bomb spread over many keys). */
const MAX_EXPANDED_TOTAL = 4 * 1024 * 1024;
const SECTION_HEADER = /^\[([^\n]+)\]/;
const OPTION = /^([^\n]*?)\s*[=:]\s*([^\n]*)$/;
const REFERENCE = /^%\(([^)]+)\)s/;

interface DraftEntry {
  readonly key: string;
  readonly line: number;
  readonly section: string;
  readonly parts: string[];
}

interface DraftSection {
  readonly name: string;
  readonly line: number;
  readonly entries: Map<string, DraftEntry>;
}

/** Reads INI text. `file` is only used in issues (and kept in RawConfig.file); nothing is read from disk. */
export function parseIni(text: string, file: string): ParsedIni {
  const issues: ConfigIssue[] = [];
  const sections = readSections(text, file, issues);
  const raw: RawConfig = { file, sections: interpolateSections(sections, file, issues) };
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { raw, issues };
}

function readSections(text: string, file: string, issues: ConfigIssue[]): Map<string, DraftSection> {
  const sections = new Map<string, DraftSection>();
  const issue = (
    line: number,
    section: string | null,
    key: string | null,
    value: string | null,
    expected: string,
  ) => issues.push({ file, line, section, key, value, expected });
  let current: DraftSection | null = null;
  let entry: DraftEntry | null = null;
  let indentLevel = 0;
  let isHeaderlessReported = false;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (const [index, line] of lines.entries()) {
    const lineNo = index + 1;
    const stripped = line.trim();
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    if (stripped === '') {
      entry?.parts.push('');
      continue;
    }
    const indent = line.search(/\S/);
    if (entry !== null && indent > indentLevel) {
      entry.parts.push(stripped);
      continue;
    }
    indentLevel = indent;
    const header = SECTION_HEADER.exec(stripped);
    if (header !== null) {
      const name = header[1] ?? '';
      const existing = sections.get(name);
      if (existing !== undefined && name !== DEFAULT_SECTION) {
        issue(lineNo, name, null, null, `duplicate section, first at line ${existing.line}`);
        current = { name, line: lineNo, entries: new Map() }; // read on, but keep none of it
      } else {
        current = existing ?? { name, line: lineNo, entries: new Map() };
        sections.set(name, current);
      }
      entry = null;
      continue;
    }
    const option = OPTION.exec(stripped);
    if (current === null) {
      if (!isHeaderlessReported) {
        const what = option === null ? `"${stripped}" ` : '';
        const expected =
          `${what}comes before any [section] header; ` +
          `start the file with [${MIRROR_SECTION}] or [${DEFAULT_SECTION}]`;
        issue(lineNo, null, option?.[1]?.toLowerCase() ?? null, option?.[2] ?? null, expected);
        isHeaderlessReported = true;
      }
      continue;
    }
    if (option === null) {
      const expected =
        `cannot read line ${JSON.stringify(stripped)}: expected "key = value", "key: value", a [section] ` +
        'header, a # or ; comment, or a continuation line indented deeper than its key';
      issue(lineNo, current.name, null, null, expected);
      continue; // like ConfigParser, the previous key may still continue on deeper lines
    }
    const key = (option[1] ?? '').toLowerCase();
    const value = option[2] ?? '';
    if (key === '') {
      issue(
        lineNo,
        current.name,
        null,
        null,
        `cannot read line ${JSON.stringify(stripped)}: the key name is empty`,
      );
      entry = null;
      continue;
    }
    const first = current.entries.get(key);
    entry = { key, line: lineNo, section: current.name, parts: [value] };
    if (first !== undefined) {
      issue(lineNo, current.name, key, value, `duplicate key, first set at line ${first.line}`);
    } else {
      current.entries.set(key, entry);
    }
  }
  return sections;
}

type Expansion =
  | {
      ok: true;
      value: string;
      /** nesting levels the expansion used (1: no nested reference) */ levels: number;
    }
  | {
      ok: false;
      expected: string;
      /** a depth error depends on where the key is read from: not memoized */ isDepth: boolean;
    };

const DEPTH_EXPECTED = `%(...)s references nested deeper than ${MAX_INTERPOLATION_DEPTH} levels; is there a reference loop?`;
const depthError = (): Expansion => ({ ok: false, expected: DEPTH_EXPECTED, isDepth: true });
const fail = (expected: string): Expansion => ({ ok: false, expected, isDepth: false });

/**
 * Builds the views pypimirror reads ([mirror]: its own keys over [DEFAULT]'s; [DEFAULT]: its own; each
 * [upstream:NAME]: its own) and expands `%(key)s` in them. Problems are reported for the views pypimirror
 * reads and left out of every view. Other sections are ignored (validate.ts warns about them): they keep
 * their own keys only, as written.
 */
function interpolateSections(
  drafts: Map<string, DraftSection>,
  file: string,
  issues: ConfigIssue[],
): Map<string, { line: number; values: Map<string, RawValue> }> {
  const defaults = drafts.get(DEFAULT_SECTION)?.entries ?? new Map<string, DraftEntry>();
  const readView = drafts.has(MIRROR_SECTION) ? MIRROR_SECTION : DEFAULT_SECTION;
  const out = new Map<string, { line: number; values: Map<string, RawValue> }>();
  // Every [upstream:NAME] section expands within one shared budget: 100 000 of them are not 100 000 budgets.
  const upstreamBudget = { left: MAX_EXPANDED_TOTAL };
  for (const draft of drafts.values()) {
    const isUpstream = draft.name.startsWith(UPSTREAM_SECTION_PREFIX);
    const isRead = draft.name === DEFAULT_SECTION || draft.name === MIRROR_SECTION || isUpstream;
    // An ignored section keeps only its own keys: a copy of [DEFAULT] in each of 100 000 sections is a bomb.
    const own = draft.name === DEFAULT_SECTION ? defaults : draft.entries;
    const view = new Map(draft.name === MIRROR_SECTION ? [...defaults, ...draft.entries] : own);
    // An upstream section may refer to [DEFAULT]'s keys, without inheriting them.
    const lookup = isUpstream ? new Map([...defaults, ...draft.entries]) : view;
    const rawValues = new Map([...lookup].map(([key, e]) => [key, joinParts(e.parts)]));
    const where =
      draft.name === DEFAULT_SECTION ? `[${DEFAULT_SECTION}]` : `[${draft.name}] or [${DEFAULT_SECTION}]`;
    const expander = new Interpolation(
      rawValues,
      where,
      isUpstream ? upstreamBudget : { left: MAX_EXPANDED_TOTAL },
    );
    const values = new Map<string, RawValue>();
    for (const [key, e] of view) {
      const value = rawValues.get(key) ?? '';
      const result: Expansion = isRead ? expander.expandValue(value) : { ok: true, value, levels: 1 };
      if (result.ok) {
        values.set(key, { value: result.value, line: e.line, section: e.section });
      } else if (draft.name === readView || isUpstream) {
        issues.push({ file, line: e.line, section: e.section, key, value, expected: result.expected });
      }
    }
    out.set(draft.name, { line: draft.line, values });
  }
  return out;
}

/** ConfigParser joins a value's lines with '\n' and drops trailing blank lines (rstrip). */
function joinParts(parts: readonly string[]): string {
  return parts.join('\n').trimEnd();
}

/**
 * BasicInterpolation._interpolate_some over one section's view, with bounds ConfigParser lacks: a key's
 * expansion is computed once (so `%(a)s%(a)s` chains cost linear time, not exponential), no value may grow
 * past MAX_EXPANDED_VALUE characters, and all the expansions of the view together past MAX_EXPANDED_TOTAL.
 * The results are ConfigParser's wherever it would not run out of memory.
 */
class Interpolation {
  private readonly memo = new Map<string, Expansion>();
  private readonly active = new Set<string>();
  constructor(
    private readonly view: ReadonlyMap<string, string>,
    private readonly where: string,
    /** Characters references may still add in this view (shared by the views that share its cap). */
    private readonly budget: { left: number },
  ) {}

  /** A value as read: its own text may be quoted in a problem, unless it may hold a password. */
  expandValue(text: string): Expansion {
    return this.expandText(text, 1);
  }

  /** The value of the key `name` referenced at `depth` (2 and deeper). Never quotes: it may be a password. */
  private expandKey(name: string, depth: number): Expansion {
    if (depth > MAX_INTERPOLATION_DEPTH) return depthError();
    const known = this.memo.get(name);
    if (known !== undefined) {
      return known.ok && depth + known.levels - 1 > MAX_INTERPOLATION_DEPTH ? depthError() : known;
    }
    // A key met again inside its own expansion: a loop, which ConfigParser reports as too deep.
    if (this.active.has(name)) return fail(DEPTH_EXPECTED);
    this.active.add(name);
    const result = this.expandText(this.view.get(name) ?? '', depth);
    this.active.delete(name);
    if (result.ok || !result.isDepth) this.memo.set(name, result);
    return result;
  }

  private expandText(text: string, depth: number): Expansion {
    const isQuotable = depth === 1 && !/[@?]/.test(text);
    let levels = 1;
    let out = '';
    let rest = text;
    while (rest !== '') {
      const at = rest.indexOf('%');
      if (at < 0) return { ok: true, value: out + rest, levels };
      out += rest.slice(0, at);
      rest = rest.slice(at);
      const next = rest.charAt(1);
      if (next === '%') {
        out += '%';
        rest = rest.slice(2);
        continue;
      }
      if (next !== '(') {
        return fail(`a lone %${quoteAt(isQuotable, rest)}: expected %% for a literal %, or %(name)s`);
      }
      const ref = REFERENCE.exec(rest);
      if (ref === null) {
        const at = quoteAt(isQuotable, rest);
        return fail(`bad interpolation reference${at}: expected %(name)s (%% for a literal %)`);
      }
      const name = (ref[1] ?? '').toLowerCase();
      rest = rest.slice(ref[0].length);
      const referenced = this.view.get(name);
      if (referenced === undefined) {
        return fail(`bad interpolation reference %(${ref[1]})s: no key "${name}" in ${this.where}`);
      }
      let piece = referenced;
      if (referenced.includes('%')) {
        const inner = this.expandKey(name, depth + 1);
        if (!inner.ok) return inner;
        piece = inner.value;
        levels = Math.max(levels, inner.levels + 1);
      }
      if (out.length + piece.length > MAX_EXPANDED_VALUE) {
        return fail(
          `%(...)s references expand this value to more than ${MAX_EXPANDED_VALUE} characters, ` +
            'the cap for one value',
        );
      }
      this.budget.left -= piece.length;
      if (this.budget.left < 0) {
        return fail(
          `%(...)s references in ${this.where} expand to more than ${MAX_EXPANDED_TOTAL} characters ` +
            'in all, the cap for one section',
        );
      }
      out += piece;
    }
    return { ok: true, value: out, levels };
  }
}

/** ` at "<rest of the line>"`, or '' when the value may hold credentials: never echo part of a password. */
function quoteAt(isQuotable: boolean, rest: string): string {
  return isQuotable ? ` at ${JSON.stringify(rest.split('\n')[0])}` : '';
}
