// A streaming JSON lexer (RFC 8259), fed chunk by chunk: it reports containers opening and closing, keys and
// scalars as they complete, and holds no more than one partial token (a string of at most `maxKeptChars`, a
// number) plus a bit per open container, whatever the input size. Nesting deeper than `maxDepth` and, when
// `maxStringChars` is set, a longer string are UPSTREAM_PAYLOAD errors; malformed JSON is one naming the
// character offset. Time is linear in the input. The root listing (listing-stream.ts) and project pages
// (page-stream.ts) give it their own events. Pure.
import { payloadError } from './decode.js';

export type Scalar = string | number | boolean | null;

/**
 * A copy that does not keep the chunk it was sliced from alive (V8 slices strings of 13 characters or more
 * as views of their parent): a walker that keeps a string the lexer handed it (a name, a filename, a digest)
 * keeps this instead, or it would keep the whole chunk.
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

export interface JsonEvents {
  /** A container starts (`depth` is the lexer's depth before it). */
  open(isArray: boolean): void;
  close(): void;
  /** An object key; null when longer than `maxKeptChars` (then it was counted through, not kept). */
  key(key: string | null): void;
  /** A scalar; a string longer than `maxKeptChars` arrives empty with `isTruncated`. */
  scalar(value: Scalar, isTruncated: boolean): void;
}

export interface JsonLexerOptions {
  readonly url: string | URL;
  readonly maxDepth: number;
  /** Longest string kept whole; a longer one is counted through and reported truncated. */
  readonly maxKeptChars: number;
  /** When set, a longer string is an error (the cap on one token). */
  readonly maxStringChars?: number;
}

export interface JsonLexer {
  write(chunk: string): void;
  /** Throws unless exactly one complete document was read. */
  end(): void;
  /** Characters consumed so far. */
  readonly offset: number;
  /** Open containers. */
  readonly depth: number;
  /** Characters of the partial token held now. */
  readonly heldChars: number;
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

export function createJsonLexer(events: JsonEvents, opts: JsonLexerOptions): JsonLexer {
  const { url, maxDepth, maxKeptChars } = opts;
  const maxStringChars = opts.maxStringChars ?? Infinity;
  let state = VALUE;
  let offset = 0; // characters consumed before the current chunk
  const isArray: boolean[] = [];
  let str = '';
  let strLength = 0;
  let isKeyString = false;
  let unicode = '';
  let num = '';
  let literal = '';
  let literalAt = 0;

  const syntax = (at: number, message: string): never => {
    throw payloadError(url, `invalid JSON at character ${at}: ${message}`);
  };
  const afterValue = (): void => {
    state = isArray.length === 0 ? DONE : COMMA_OR_CLOSE;
  };
  const open = (array: boolean, at: number): void => {
    if (isArray.length >= maxDepth) syntax(at, `nested deeper than ${maxDepth} levels`);
    events.open(array);
    isArray.push(array);
    state = array ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
  };
  const close = (): void => {
    isArray.pop();
    events.close();
    afterValue();
  };
  const onScalar = (value: Scalar, isTruncated: boolean): void => {
    events.scalar(value, isTruncated);
    afterValue();
  };
  const endString = (): void => {
    const value = str;
    const isTruncated = strLength > maxKeptChars;
    str = '';
    strLength = 0;
    if (isKeyString) {
      events.key(isTruncated ? null : value);
      state = COLON;
    } else {
      onScalar(value, isTruncated);
    }
  };
  const keep = (piece: string, at: number): void => {
    if (strLength <= maxKeptChars) str += piece;
    strLength += piece.length;
    if (strLength > maxKeptChars && str.length > 0) str = '';
    if (strLength > maxStringChars) {
      syntax(at, `a string longer than ${maxStringChars} characters (the cap on one token)`);
    }
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
          if (j > i) keep(chunk.slice(i, j), offset + j);
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
            keep(escaped as string, offset + i);
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
            keep(String.fromCharCode(parseInt(unicode, 16)), offset + i);
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
              } else if (c === '{') open(false, at);
              else if (c === '[') open(true, at);
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
  };

  return {
    write,
    end() {
      if (state === NUMBER) endNumber(offset);
      if (state !== DONE) {
        syntax(offset, offset === 0 ? 'the document is empty' : 'the document ends before it is complete');
      }
    },
    get offset() {
      return offset;
    },
    get depth() {
      return isArray.length;
    },
    get heldChars() {
      return str.length + num.length + unicode.length;
    },
  };
}
