// A streaming parser for the PEP 691 root listing (PROTOCOL.md §2-§3): `{"meta": {...}, "projects": [...]}`.
// PyPI's is over 700 000 projects (30-40 MB): it is fed chunk by chunk and calls `onProject` for every entry
// as soon as the entry's closing brace arrives, holding at most one entry (plus one string of at most
// MAX_KEPT_CHARS) at any time, whatever the input size. Unknown keys and values of any shape are skipped
// without being kept. Malformed JSON and structural violations throw UPSTREAM_PAYLOAD naming the offset or
// the JSON path, like decodeListingJson; an invalid project name only skips that entry (a warning). Pure.
import { isValidProjectName } from '../plan/names.js';
import { checkApiVersion, payloadError } from './decode.js';
import type { ListedProject } from './types.js';

/** Longest string kept whole; a longer one is counted through and can only be ignored or rejected. */
export const MAX_KEPT_CHARS = 4096;
/** Deepest nesting accepted (the listing itself needs 3). */
export const MAX_DEPTH = 256;
/** Warnings kept verbatim; later ones are only counted. */
const MAX_WARNINGS = 20;

export interface ListingJsonParser {
  /** Feeds the next decoded chunk. Throws UPSTREAM_PAYLOAD on malformed JSON or a wrong structure. */
  write(chunk: string): void;
  /** The input is complete: throws if the document is unfinished or lacks `projects`. */
  end(): void;
  /** Skipped entries and soft problems (at most 20, then a count). */
  readonly warnings: readonly string[];
  /** `meta._last-serial`, once read (null when absent). */
  readonly serial: number | null;
  /** Projects delivered to `onProject` so far. */
  readonly count: number;
  /**
   * The most characters the parser has held between two `write` calls (partial string or number, and the
   * current entry's name): the measure of "one entry at most", for tests.
   */
  readonly maxHeldChars: number;
}

// Lexer states.
const VALUE = 0; // a value must come (after ':' or ',' in an array, or at the start)
const VALUE_OR_CLOSE = 1; // just after '['
const KEY_OR_CLOSE = 2; // just after '{'
const KEY = 3; // after ',' in an object
const COLON = 4;
const COMMA_OR_CLOSE = 5;
const DONE = 6; // the root value is complete
const STRING = 7;
const ESCAPE = 8;
const UNICODE = 9;
const NUMBER = 10;
const LITERAL = 11;

// What a container is, for the listing.
const ROOT = 0;
const META = 1;
const PROJECTS = 2;
const ENTRY = 3;
const SKIP = 4;

const NUMBER_SYNTAX = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

type Scalar = string | number | boolean | null;

function describeScalar(v: Scalar, isTruncated: boolean): string {
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const shown = v.length > 60 ? `${v.slice(0, 60)}…` : v;
    return isTruncated ? `a string of more than ${MAX_KEPT_CHARS} characters` : JSON.stringify(shown);
  }
  return `${typeof v} ${String(v)}`;
}

/** A copy that does not keep the (large) chunk it was sliced from alive. */
function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

export function createListingJsonParser(
  onProject: (project: ListedProject) => void,
  url: string | URL = '(root listing)',
): ListingJsonParser {
  const warnings: string[] = [];
  let moreWarnings = 0;
  let serial: number | null = null;
  let count = 0;
  let maxHeldChars = 0;
  let hasProjects = false;

  // Lexer.
  let state = VALUE;
  let offset = 0; // characters consumed before the current chunk
  const kinds: number[] = []; // container roles, innermost last
  const isArray: boolean[] = [];
  let str = '';
  let strLength = 0;
  let isKeyString = false;
  let unicode = '';
  let num = '';
  let literal = '';
  let literalAt = 0;
  let lastKey: string | null = null; // key of the value being read, in a ROOT / META / ENTRY object
  const keys: (string | null)[] = []; // saved lastKey of each enclosing object

  // The entry being read.
  let entryIndex = -1;
  let entryName: string | null = null;
  let entrySerial: number | null = null;
  let entryHasName = false;

  const warn = (message: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(message);
    else moreWarnings++;
  };
  const syntax = (at: number, message: string): never => {
    throw payloadError(url, `invalid JSON at character ${at}: ${message}`);
  };
  const structure = (path: string, expected: string, got: string): never => {
    throw payloadError(url, `${path}: expected ${expected}, got ${got}`);
  };
  const entryPath = (): string => `projects[${entryIndex}]`;

  /** The role of a value about to start, given its container and key; throws when the shape is wrong. */
  const roleOf = (kind: 'object' | 'array' | 'scalar', value: Scalar, isTruncated: boolean): number => {
    const got = kind === 'scalar' ? describeScalar(value, isTruncated) : `an ${kind}`;
    const parent = kinds.length === 0 ? -1 : kinds[kinds.length - 1];
    if (parent === -1) return kind === 'object' ? ROOT : structure('(root)', 'an object', got);
    if (parent === ROOT) {
      if (lastKey === 'meta') return kind === 'object' ? META : structure('meta', 'an object', got);
      if (lastKey === 'projects') return kind === 'array' ? PROJECTS : structure('projects', 'an array', got);
      return SKIP;
    }
    if (parent === PROJECTS) {
      entryIndex++;
      return kind === 'object' ? ENTRY : structure(entryPath(), 'an object', got);
    }
    if (parent === ENTRY && (lastKey === 'name' || lastKey === '_last-serial') && kind !== 'scalar') {
      return structure(`${entryPath()}.${lastKey}`, lastKey === 'name' ? 'a string' : 'an integer ≥ 0', got);
    }
    if (parent === META && (lastKey === 'api-version' || lastKey === '_last-serial') && kind !== 'scalar') {
      return structure(`meta.${lastKey}`, lastKey === '_last-serial' ? 'an integer ≥ 0' : 'a string', got);
    }
    return SKIP;
  };

  const readCount = (path: string, value: Scalar, isTruncated: boolean): number | null => {
    if (value === null) return null;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    return structure(path, 'an integer ≥ 0', describeScalar(value, isTruncated));
  };

  const onScalar = (value: Scalar, isTruncated: boolean): void => {
    const parent = kinds.length === 0 ? -1 : kinds[kinds.length - 1];
    if (parent === -1 || parent === ROOT || parent === PROJECTS) {
      roleOf('scalar', value, isTruncated); // throws for the shapes the listing forbids
    } else if (parent === ENTRY) {
      if (lastKey === 'name') {
        if (typeof value !== 'string')
          structure(`${entryPath()}.name`, 'a string', describeScalar(value, false));
        entryName = isTruncated ? null : (value as string);
        if (isTruncated) warn(`${entryPath()}.name: longer than ${MAX_KEPT_CHARS} characters; skipped`);
      } else if (lastKey === '_last-serial') {
        entrySerial = readCount(`${entryPath()}._last-serial`, value, isTruncated);
      }
    } else if (parent === META) {
      if (lastKey === '_last-serial') serial = readCount('meta._last-serial', value, isTruncated);
      else if (lastKey === 'api-version') {
        const warning = checkApiVersion(value, 'meta.api-version', url);
        if (warning !== null) warn(warning);
      }
    }
    afterValue();
  };

  const afterValue = (): void => {
    state = kinds.length === 0 ? DONE : COMMA_OR_CLOSE;
  };

  const open = (array: boolean): void => {
    if (kinds.length >= MAX_DEPTH) syntax(offset, `nested deeper than ${MAX_DEPTH} levels`);
    const role = roleOf(array ? 'array' : 'object', null, false);
    if (role === PROJECTS) hasProjects = true;
    if (role === ENTRY) {
      entryName = null;
      entrySerial = null;
      entryHasName = false;
    }
    kinds.push(role);
    isArray.push(array);
    keys.push(lastKey);
    lastKey = null;
    state = array ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
  };

  const close = (): void => {
    const role = kinds.pop();
    isArray.pop();
    lastKey = keys.pop() ?? null;
    if (role === ENTRY) {
      if (!entryHasName) structure(`${entryPath()}.name`, 'a string', 'nothing (no "name" key)');
      const name = entryName;
      entryName = null;
      if (name === null) {
        // too long: already warned about
      } else if (isValidProjectName(name)) {
        count++;
        onProject({ name: detach(name), serial: entrySerial });
      } else {
        warn(`${entryPath()}.name ${JSON.stringify(name.slice(0, 80))}: not a valid project name; skipped`);
      }
    }
    afterValue();
  };

  const endString = (): void => {
    const value = str;
    const isTruncated = strLength > MAX_KEPT_CHARS;
    str = '';
    strLength = 0;
    if (isKeyString) {
      const parent = kinds[kinds.length - 1];
      lastKey = parent === ROOT || parent === META || parent === ENTRY ? (isTruncated ? null : value) : null;
      if (parent === ENTRY && lastKey === 'name') entryHasName = true;
      state = COLON;
    } else {
      onScalar(value, isTruncated);
    }
  };

  const keep = (piece: string): void => {
    if (strLength <= MAX_KEPT_CHARS) str += piece;
    strLength += piece.length;
    if (strLength > MAX_KEPT_CHARS && str.length > 0) str = '';
  };

  const endNumber = (at: number): void => {
    if (!NUMBER_SYNTAX.test(num)) syntax(at, `malformed number ${JSON.stringify(num.slice(0, 40))}`);
    const value = Number(num);
    num = '';
    onScalar(value, false);
  };

  const startLiteral = (c: string, at: number): void => {
    literal = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : '';
    if (literal === '') syntax(at, `unexpected ${JSON.stringify(c)} where a value should start`);
    literalAt = 1;
    state = LITERAL;
  };

  const write = (chunk: string): void => {
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      switch (state) {
        case STRING: {
          let j = i;
          let c = 0;
          while (j < length) {
            c = chunk.charCodeAt(j);
            if (c === 0x22 || c === 0x5c || c < 0x20) break;
            j++;
          }
          if (j > i) keep(chunk.slice(i, j));
          if (j === length) {
            i = j;
            break;
          }
          if (c < 0x20) syntax(offset + j, 'control character inside a string');
          i = j + 1;
          if (c === 0x5c) state = ESCAPE;
          else endString();
          break;
        }
        case ESCAPE: {
          const c = chunk[i] ?? '';
          if (c === 'u') {
            unicode = '';
            state = UNICODE;
          } else {
            const escaped = ESCAPES[c];
            if (escaped === undefined) syntax(offset + i, `invalid escape \\${c}`);
            keep(escaped as string);
            state = STRING;
          }
          i++;
          break;
        }
        case UNICODE: {
          const c = chunk[i] ?? '';
          if (!/[0-9a-fA-F]/.test(c)) syntax(offset + i, `invalid \\u escape digit ${JSON.stringify(c)}`);
          unicode += c;
          i++;
          if (unicode.length === 4) {
            keep(String.fromCharCode(parseInt(unicode, 16)));
            state = STRING;
          }
          break;
        }
        case NUMBER: {
          let j = i;
          while (j < length) {
            const c = chunk.charCodeAt(j);
            // digits, + - . e E
            if (
              (c >= 0x30 && c <= 0x39) ||
              c === 0x2b ||
              c === 0x2d ||
              c === 0x2e ||
              c === 0x65 ||
              c === 0x45
            )
              j++;
            else break;
          }
          num += chunk.slice(i, j);
          if (num.length > 64) syntax(offset + j, 'number longer than 64 characters');
          i = j;
          if (j < length) endNumber(offset + j);
          break;
        }
        case LITERAL: {
          const c = chunk[i];
          if (c !== literal[literalAt]) syntax(offset + i, `invalid literal (expected ${literal})`);
          literalAt++;
          i++;
          if (literalAt === literal.length) onScalar(literal === 'null' ? null : literal === 'true', false);
          break;
        }
        default: {
          const code = chunk.charCodeAt(i);
          if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) {
            i++;
            break;
          }
          const c = chunk[i] as string;
          const at = offset + i;
          i++;
          switch (state) {
            case VALUE:
            case VALUE_OR_CLOSE:
              if (c === '"') {
                isKeyString = false;
                state = STRING;
              } else if (c === '{') open(false);
              else if (c === '[') open(true);
              else if (c === ']' && state === VALUE_OR_CLOSE) close();
              else if (c === '-' || (c >= '0' && c <= '9')) {
                num = c;
                state = NUMBER;
              } else startLiteral(c, at);
              break;
            case KEY_OR_CLOSE:
            case KEY:
              if (c === '"') {
                isKeyString = true;
                state = STRING;
              } else if (c === '}' && state === KEY_OR_CLOSE) close();
              else
                syntax(
                  at,
                  `expected a string key${state === KEY_OR_CLOSE ? " or '}'" : ''}, got ${JSON.stringify(c)}`,
                );
              break;
            case COLON:
              if (c !== ':') syntax(at, `expected ':' after an object key, got ${JSON.stringify(c)}`);
              state = VALUE;
              break;
            case COMMA_OR_CLOSE: {
              const inArray = isArray[isArray.length - 1] === true;
              if (c === ',') state = inArray ? VALUE : KEY;
              else if (c === (inArray ? ']' : '}')) close();
              else syntax(at, `expected ',' or '${inArray ? ']' : '}'}', got ${JSON.stringify(c)}`);
              break;
            }
            case DONE:
              syntax(at, `unexpected ${JSON.stringify(c)} after the end of the document`);
          }
        }
      }
    }
    offset += length;
    const held = str.length + num.length + unicode.length + (entryName?.length ?? 0);
    if (held > maxHeldChars) maxHeldChars = held;
  };

  return {
    write,
    end() {
      if (state === NUMBER) endNumber(offset);
      if (state !== DONE) {
        syntax(offset, offset === 0 ? 'the document is empty' : 'the document ends before it is complete');
      }
      if (!hasProjects) structure('projects', 'an array', 'nothing (no "projects" key)');
      if (moreWarnings > 0) {
        warnings.push(`… and ${moreWarnings} more problems like these`);
        moreWarnings = 0;
      }
    },
    get warnings() {
      return warnings;
    },
    get serial() {
      return serial;
    },
    get count() {
      return count;
    },
    get maxHeldChars() {
      return maxHeldChars;
    },
  };
}
