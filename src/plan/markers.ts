// PEP 508 environment markers (issue #11, part 3): parsed once, evaluated three-valued against the
// target environments of a mirror (`python_versions` × `platforms`). A dimension left open (an empty key)
// and a variable no target fixes (`platform_release`) make a comparison "maybe"; the closure follows a
// requirement whose marker is true or maybe in some environment. Pure.
import { normalizeName } from '../model/names.js';
import type { PlatformMarkers, PythonVersion } from './tags.js';
import { isValidSpecifier, isValidVersion, patchCandidates, satisfiesSpecifier } from './versions.js';

type Operand = { readonly variable: string } | { readonly literal: string };

/** A parsed marker expression. */
export type Marker =
  | { readonly kind: 'and' | 'or'; readonly left: Marker; readonly right: Marker }
  | { readonly kind: 'compare'; readonly left: Operand; readonly op: string; readonly right: Operand };

/** Three-valued truth: `maybe` when the answer depends on something the targets leave open. */
export type Truth = true | false | 'maybe';

/** One machine the mirror serves, as markers see it. null = that dimension is open. */
export interface TargetEnvironment {
  readonly python: PythonVersion | null;
  readonly platform: PlatformMarkers | null;
}

export class MarkerSyntaxError extends Error {
  constructor(
    readonly marker: string,
    readonly position: number,
    readonly expected: string,
  ) {
    const shown = marker.length > 200 ? `${marker.slice(0, 200)}...` : marker;
    super(`invalid marker "${shown}" at character ${position + 1}: expected ${expected}`);
    this.name = 'MarkerSyntaxError';
  }
}

const VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
]);

/** Legacy spellings packaging still accepts. */
const ALIASES: Readonly<Record<string, string>> = {
  'os.name': 'os_name',
  'sys.platform': 'sys_platform',
  'platform.version': 'platform_version',
  'platform.machine': 'platform_machine',
  'platform.python_implementation': 'platform_python_implementation',
  python_implementation: 'platform_python_implementation',
};

const OPERATORS = ['===', '==', '!=', '<=', '>=', '~=', '<', '>'];
const VERSION_OPERATORS = new Set(['===', '==', '!=', '<=', '>=', '~=', '<', '>']);

interface Token {
  readonly type: 'lparen' | 'rparen' | 'string' | 'op' | 'and' | 'or' | 'variable';
  readonly text: string;
  readonly position: number;
}

const WORD = /[A-Za-z_][A-Za-z0-9_.]*/y;
const NOT_IN = /not\s+in\b/y;

/** Bounds for markers from untrusted metadata: far above any real marker, far below a deep recursion. */
const MAX_MARKER_LENGTH = 4096;
const MAX_NESTING = 32;

function tokenize(source: string): Token[] {
  if (source.length > MAX_MARKER_LENGTH) {
    throw new MarkerSyntaxError(
      source,
      MAX_MARKER_LENGTH,
      `a marker of at most ${MAX_MARKER_LENGTH} characters`,
    );
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '(' || c === ')') {
      tokens.push({ type: c === '(' ? 'lparen' : 'rparen', text: c, position: i });
      i += 1;
    } else if (c === '"' || c === "'") {
      const end = source.indexOf(c, i + 1);
      if (end === -1) throw new MarkerSyntaxError(source, i, 'a closing quote');
      tokens.push({ type: 'string', text: source.slice(i + 1, end), position: i });
      i = end + 1;
    } else {
      const op = OPERATORS.find((o) => source.startsWith(o, i));
      if (op !== undefined) {
        tokens.push({ type: 'op', text: op, position: i });
        i += op.length;
        continue;
      }
      WORD.lastIndex = i;
      const word = WORD.exec(source);
      if (word === null) throw new MarkerSyntaxError(source, i, 'a variable, a quoted string or an operator');
      const text = word[0];
      NOT_IN.lastIndex = i;
      const notIn = NOT_IN.exec(source);
      if (notIn !== null) {
        tokens.push({ type: 'op', text: 'not in', position: i });
        i += notIn[0].length;
        continue;
      }
      if (text === 'and' || text === 'or') tokens.push({ type: text, text, position: i });
      else if (text === 'in') tokens.push({ type: 'op', text, position: i });
      else tokens.push({ type: 'variable', text, position: i });
      i += text.length;
    }
  }
  return tokens;
}

/** Parses a PEP 508 marker (the part after `;`). Throws MarkerSyntaxError. */
export function parseMarker(source: string): Marker {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const fail = (expected: string): never => {
    throw new MarkerSyntaxError(source, peek()?.position ?? source.length, expected);
  };
  const operand = (): Operand => {
    const t = peek();
    if (t?.type === 'string') {
      pos += 1;
      return { literal: t.text };
    }
    if (t?.type === 'variable') {
      const name = ALIASES[t.text] ?? t.text;
      if (!VARIABLES.has(name)) fail(`a marker variable (${[...VARIABLES].join(', ')})`);
      pos += 1;
      return { variable: name };
    }
    return fail('a marker variable or a quoted string');
  };
  let depth = 0;
  const atom = (): Marker => {
    if (peek()?.type === 'lparen') {
      if (depth >= MAX_NESTING) fail(`at most ${MAX_NESTING} nested parentheses`);
      pos += 1;
      depth += 1;
      const inner = orExpr();
      depth -= 1;
      if (peek()?.type !== 'rparen') fail('")"');
      pos += 1;
      return inner;
    }
    const left = operand();
    const op = peek();
    if (op?.type !== 'op') return fail('a comparison operator');
    pos += 1;
    const right = operand();
    if ('literal' in left && 'literal' in right) fail('a marker variable on one side');
    return { kind: 'compare', left, op: op.text, right };
  };
  /** `next (kind next)*`, left-associative: `and` binds tighter than `or`. */
  const chain = (kind: 'and' | 'or', next: () => Marker): Marker => {
    let left = next();
    while (peek()?.type === kind) {
      pos += 1;
      left = { kind, left, right: next() };
    }
    return left;
  };
  const andExpr = (): Marker => chain('and', atom);
  const orExpr = (): Marker => chain('or', andExpr);
  const marker = orExpr();
  if (pos !== tokens.length) fail('"and", "or" or the end of the marker');
  return marker;
}

/** Kleene's and/or. */
function and3(a: Truth, b: Truth): Truth {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : 'maybe';
}
function or3(a: Truth, b: Truth): Truth {
  if (a === true || b === true) return true;
  return a === false && b === false ? false : 'maybe';
}

/** The values a variable can take in `env`: one known value, several (patch levels), or null = open. */
function valuesOf(variable: string, env: TargetEnvironment, extra: string, other: string): string[] | null {
  switch (variable) {
    case 'python_version':
      return env.python === null ? null : [`${env.python.major}.${env.python.minor}`];
    case 'python_full_version':
    case 'implementation_version':
      return env.python === null ? null : patchCandidates(env.python, other);
    case 'implementation_name':
      return ['cpython'];
    case 'platform_python_implementation':
      return ['CPython'];
    case 'os_name':
    case 'sys_platform':
    case 'platform_system':
      return env.platform === null ? null : [env.platform[variable]];
    case 'platform_machine':
      return env.platform?.platform_machine == null ? null : [env.platform.platform_machine];
    case 'extra':
      return [extra];
    default:
      return null; // platform_release, platform_version: no target fixes them
  }
}

/** packaging's _eval_op: a version comparison when the right side is a valid specifier, else strings. */
function compareValues(lhs: string, op: string, rhs: string): Truth {
  if (VERSION_OPERATORS.has(op) && isValidSpecifier(`${op}${rhs}`) && isValidVersion(lhs)) {
    return satisfiesSpecifier(lhs, `${op}${rhs}`);
  }
  switch (op) {
    case '==':
    case '===':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case 'in':
      return rhs.includes(lhs);
    case 'not in':
      return !rhs.includes(lhs);
    default:
      return 'maybe'; // packaging raises UndefinedComparison; we follow the requirement rather than drop it
  }
}

function evaluateCompare(
  marker: Extract<Marker, { kind: 'compare' }>,
  env: TargetEnvironment,
  extra: string,
): Truth {
  const { left, right, op } = marker;
  const isExtra =
    ('variable' in left && left.variable === 'extra') || ('variable' in right && right.variable === 'extra');
  const literalOf = (o: Operand): string =>
    'literal' in o ? (isExtra ? normalizeName(o.literal) : o.literal) : '';
  const lhsValues =
    'literal' in left ? [literalOf(left)] : valuesOf(left.variable, env, extra, literalOf(right));
  const rhsValues =
    'literal' in right ? [literalOf(right)] : valuesOf(right.variable, env, extra, literalOf(left));
  if (lhsValues === null || rhsValues === null) return 'maybe';
  let result: Truth | null = null;
  for (const l of lhsValues)
    for (const r of rhsValues) {
      const t = compareValues(l, op, r);
      result = result === null ? t : result === t ? t : 'maybe';
    }
  return result ?? 'maybe';
}

/**
 * Evaluates `marker` for one target environment. `extra` is the extra being requested ('' for none):
 * `extra == "test"` is true only while evaluating for the requested extra `test`.
 */
export function evaluateMarker(marker: Marker, env: TargetEnvironment, extra = ''): Truth {
  switch (marker.kind) {
    case 'and':
      return and3(evaluateMarker(marker.left, env, extra), evaluateMarker(marker.right, env, extra));
    case 'or':
      return or3(evaluateMarker(marker.left, env, extra), evaluateMarker(marker.right, env, extra));
    default:
      return evaluateCompare(marker, env, normalizeName(extra));
  }
}

/**
 * Is a requirement with this marker needed by some target, for the extras requested of its owner?
 * True when the marker is true or maybe in one environment with no extra or one of `extras`.
 */
export function isMarkerPossible(
  marker: Marker | null,
  environments: readonly TargetEnvironment[],
  extras: Iterable<string> = [],
): boolean {
  if (marker === null) return true;
  const candidates = ['', ...extras];
  return environments.some((env) => candidates.some((extra) => evaluateMarker(marker, env, extra) !== false));
}

/**
 * The target environments: every listed CPython version × every listed platform that adds one (`any`
 * adds none). An empty dimension is one open entry, so there is always at least one environment.
 */
export function targetEnvironments(
  pythons: readonly PythonVersion[],
  platforms: readonly (PlatformMarkers | null)[],
): TargetEnvironment[] {
  const pys: (PythonVersion | null)[] = pythons.length === 0 ? [null] : [...pythons];
  const named = platforms.filter((p): p is PlatformMarkers => p !== null);
  const plats: (PlatformMarkers | null)[] = named.length === 0 ? [null] : named;
  return pys.flatMap((python) => plats.map((platform) => ({ python, platform })));
}
