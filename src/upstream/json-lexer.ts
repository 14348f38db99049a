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
  return new Lexer(events, opts);
}

/** The lexer's state machine: `state` says what the next character may be; one method per state. */
class Lexer implements JsonLexer {
  private state = VALUE;
  /** Characters consumed before the current chunk. */
  private consumed = 0;
  private readonly isArray: boolean[] = [];
  private str = '';
  private strLength = 0;
  private isKeyString = false;
  private unicode = '';
  private num = '';
  private literal = '';
  private literalAt = 0;
  private readonly maxStringChars: number;

  constructor(
    private readonly events: JsonEvents,
    private readonly opts: JsonLexerOptions,
  ) {
    this.maxStringChars = opts.maxStringChars ?? Infinity;
  }

  get offset(): number {
    return this.consumed;
  }

  get depth(): number {
    return this.isArray.length;
  }

  get heldChars(): number {
    return this.str.length + this.num.length + this.unicode.length;
  }

  write(chunk: string): void {
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      switch (this.state) {
        case STRING:
          i = this.inString(chunk, i);
          break;
        case ESCAPE:
          i = this.inEscape(chunk, i);
          break;
        case UNICODE:
          i = this.inUnicode(chunk, i);
          break;
        case NUMBER:
          i = this.inNumber(chunk, i);
          break;
        case LITERAL:
          i = this.inLiteral(chunk, i);
          break;
        default: {
          const code = chunk.charCodeAt(i);
          if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) {
            this.structural(chunk[i] as string, this.consumed + i);
          }
          i++;
        }
      }
    }
    this.consumed += length;
  }

  end(): void {
    if (this.state === NUMBER) this.endNumber(this.consumed);
    if (this.state !== DONE) {
      const at = this.consumed;
      this.syntax(at, at === 0 ? 'the document is empty' : 'the document ends before it is complete');
    }
  }

  private syntax(at: number, message: string): never {
    throw payloadError(this.opts.url, `invalid JSON at character ${at}: ${message}`);
  }

  /** Up to the string's closing quote, an escape or the chunk's end. */
  private inString(chunk: string, i: number): number {
    const length = chunk.length;
    let j = i;
    let c = 0;
    while (j < length) {
      c = chunk.charCodeAt(j);
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
      j++;
    }
    if (j > i) this.keep(chunk.slice(i, j), this.consumed + j);
    if (j === length) return j;
    if (c < 0x20) this.syntax(this.consumed + j, 'control character inside a string');
    if (c === 0x5c) this.state = ESCAPE;
    else this.endString();
    return j + 1;
  }

  private inEscape(chunk: string, i: number): number {
    const c = chunk[i] ?? '';
    if (c === 'u') {
      this.unicode = '';
      this.state = UNICODE;
    } else {
      const escaped = ESCAPES[c];
      if (escaped === undefined) this.syntax(this.consumed + i, `invalid escape \\${c}`);
      this.keep(escaped as string, this.consumed + i);
      this.state = STRING;
    }
    return i + 1;
  }

  private inUnicode(chunk: string, i: number): number {
    const c = chunk[i] ?? '';
    if (!/[0-9a-fA-F]/.test(c))
      this.syntax(this.consumed + i, `invalid \\u escape digit ${JSON.stringify(c)}`);
    this.unicode += c;
    if (this.unicode.length === 4) {
      this.keep(String.fromCharCode(parseInt(this.unicode, 16)), this.consumed + i + 1);
      this.state = STRING;
    }
    return i + 1;
  }

  private inNumber(chunk: string, i: number): number {
    const length = chunk.length;
    let j = i;
    while (j < length) {
      const c = chunk.charCodeAt(j);
      // digits, + - . e E
      if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x65 || c === 0x45) j++;
      else break;
    }
    this.num += chunk.slice(i, j);
    if (this.num.length > 64) this.syntax(this.consumed + j, 'number longer than 64 characters');
    if (j < length) this.endNumber(this.consumed + j);
    return j;
  }

  private inLiteral(chunk: string, i: number): number {
    const { literal } = this;
    if (chunk[i] !== literal[this.literalAt]) {
      this.syntax(this.consumed + i, `invalid literal (expected ${literal})`);
    }
    this.literalAt++;
    if (this.literalAt === literal.length)
      this.onScalar(literal === 'null' ? null : literal === 'true', false);
    return i + 1;
  }

  /** A character between tokens (not whitespace), at offset `at`. */
  private structural(c: string, at: number): void {
    const { state } = this;
    switch (state) {
      case VALUE:
      case VALUE_OR_CLOSE:
        if (c === '"') {
          this.isKeyString = false;
          this.state = STRING;
        } else if (c === '{') this.open(false, at);
        else if (c === '[') this.open(true, at);
        else if (c === ']' && state === VALUE_OR_CLOSE) this.close();
        else if (c === '-' || (c >= '0' && c <= '9')) {
          this.num = c;
          this.state = NUMBER;
        } else this.startLiteral(c, at);
        break;
      case KEY_OR_CLOSE:
      case KEY:
        if (c === '"') {
          this.isKeyString = true;
          this.state = STRING;
        } else if (c === '}' && state === KEY_OR_CLOSE) this.close();
        else {
          const orClose = state === KEY_OR_CLOSE ? " or '}'" : '';
          this.syntax(at, `expected a string key${orClose}, got ${JSON.stringify(c)}`);
        }
        break;
      case COLON:
        if (c !== ':') this.syntax(at, `expected ':' after an object key, got ${JSON.stringify(c)}`);
        this.state = VALUE;
        break;
      case COMMA_OR_CLOSE: {
        const inArray = this.isArray[this.isArray.length - 1] === true;
        if (c === ',') this.state = inArray ? VALUE : KEY;
        else if (c === (inArray ? ']' : '}')) this.close();
        else this.syntax(at, `expected ',' or '${inArray ? ']' : '}'}', got ${JSON.stringify(c)}`);
        break;
      }
      case DONE:
        this.syntax(at, `unexpected ${JSON.stringify(c)} after the end of the document`);
    }
  }

  private afterValue(): void {
    this.state = this.isArray.length === 0 ? DONE : COMMA_OR_CLOSE;
  }

  private open(array: boolean, at: number): void {
    const { maxDepth } = this.opts;
    if (this.isArray.length >= maxDepth) this.syntax(at, `nested deeper than ${maxDepth} levels`);
    this.events.open(array);
    this.isArray.push(array);
    this.state = array ? VALUE_OR_CLOSE : KEY_OR_CLOSE;
  }

  private close(): void {
    this.isArray.pop();
    this.events.close();
    this.afterValue();
  }

  private onScalar(value: Scalar, isTruncated: boolean): void {
    this.events.scalar(value, isTruncated);
    this.afterValue();
  }

  private endString(): void {
    const value = this.str;
    const isTruncated = this.strLength > this.opts.maxKeptChars;
    this.str = '';
    this.strLength = 0;
    if (this.isKeyString) {
      this.events.key(isTruncated ? null : value);
      this.state = COLON;
    } else {
      this.onScalar(value, isTruncated);
    }
  }

  private keep(piece: string, at: number): void {
    const { maxKeptChars } = this.opts;
    if (this.strLength <= maxKeptChars) this.str += piece;
    this.strLength += piece.length;
    if (this.strLength > maxKeptChars && this.str.length > 0) this.str = '';
    if (this.strLength > this.maxStringChars) {
      this.syntax(at, `a string longer than ${this.maxStringChars} characters (the cap on one token)`);
    }
  }

  private endNumber(at: number): void {
    const { num } = this;
    if (!NUMBER_SYNTAX.test(num)) this.syntax(at, `malformed number ${JSON.stringify(num.slice(0, 40))}`);
    this.num = '';
    this.onScalar(Number(num), false);
  }

  private startLiteral(c: string, at: number): void {
    this.literal = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : '';
    if (this.literal === '') this.syntax(at, `unexpected ${JSON.stringify(c)} where a value should start`);
    this.literalAt = 1;
    this.state = LITERAL;
  }
}
