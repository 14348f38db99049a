// A bounded, stackless HTML scanner over htmlparser2's Tokenizer, fed chunk by chunk. htmlparser2's Parser keeps
// a stack of open elements (unshift/shift/indexOf on every tag: 200 000 nested `<i>` cost quadratic time) and every
// buffer since the start of an unfinished token (one unterminated tag held a whole listing); the pages we read
// need neither. This keeps no stack, only the chunks that an unfinished token still needs, and refuses a token
// (tag, attribute, comment, link text) longer than MAX_TOKEN_CHARS with UPSTREAM_PAYLOAD. Time is linear in the
// input. Tag and attribute names are lower-cased and entities decoded, as the Parser does in HTML mode. Pure.
import { Tokenizer } from 'htmlparser2';
import { MAX_TOKEN_CHARS, payloadError } from './decode.js';

export type Attribs = Record<string, string>;

export interface HtmlEvents {
  /** An opening tag whose name is wanted, with its attributes (the first of a repeated name wins). */
  onOpenTag(name: string, attribs: Attribs): void;
  /** A closing tag (any name). */
  onCloseTag?(name: string): void;
  /** Text (entities decoded), in pieces; only called when given. */
  onText?(text: string): void;
}

export interface HtmlScanner {
  write(chunk: string): void;
  end(): void;
  /** Characters fed so far. */
  readonly length: number;
  /** The most characters held between two writes (chunks an unfinished token still needs): for tests. */
  readonly maxHeldChars: number;
}

/**
 * Scans HTML for the opening tags named in `wanted` (lower case). `url` names the page in errors;
 * `maxTokenChars` is MAX_TOKEN_CHARS unless a test asks for less. (XML-RPC answers: xml-scan.ts.)
 */
export function createHtmlScanner(
  wanted: ReadonlySet<string> | 'all',
  events: HtmlEvents,
  url: string | URL,
  maxTokenChars: number = MAX_TOKEN_CHARS,
): HtmlScanner {
  return new Scanner(wanted, events, url, maxTokenChars);
}

/** The scanner: the Tokenizer's callbacks, and the chunks an unfinished token still needs. */
class Scanner implements HtmlScanner {
  private readonly buffers: string[] = [];
  /** Absolute index of buffers[0][0]. */
  private bufferOffset = 0;
  /** Characters in `buffers`. */
  private buffered = 0;
  /** Absolute index up to which no callback needs the input any more. */
  private consumed = 0;
  private mostHeld = 0;
  private tagName = '';
  private tagStart = 0;
  private attribs: Attribs | null = null;
  private attribName = '';
  private attribValue = '';
  private readonly tokenizer: Tokenizer;

  constructor(
    private readonly wanted: ReadonlySet<string> | 'all',
    private readonly events: HtmlEvents,
    private readonly url: string | URL,
    private readonly maxTokenChars: number,
  ) {
    this.tokenizer = new Tokenizer({ decodeEntities: true, xmlMode: false }, this);
  }

  get length(): number {
    return this.bufferOffset + this.buffered;
  }

  get maxHeldChars(): number {
    return this.mostHeld;
  }

  write(chunk: string): void {
    const { buffers } = this;
    buffers.push(chunk);
    this.buffered += chunk.length;
    this.tokenizer.write(chunk);
    // Forget the chunks no callback needs any more; what is left is one unfinished token.
    while (buffers.length > 0 && this.bufferOffset + (buffers[0] as string).length <= this.consumed) {
      const first = buffers.shift() as string;
      this.bufferOffset += first.length;
      this.buffered -= first.length;
    }
    const held = this.bufferOffset + this.buffered - Math.max(this.consumed, this.bufferOffset);
    if (held > this.mostHeld) this.mostHeld = held;
    if (held > this.maxTokenChars) this.tooLong('an unfinished HTML token (tag, comment or declaration)');
  }

  end(): void {
    this.tokenizer.end();
  }

  // ---- the Tokenizer's callbacks ----

  ontext(start: number, end: number): void {
    if (this.events.onText !== undefined) this.events.onText(this.slice(start, end));
    this.done(end);
  }

  ontextentity(cp: number, end: number): void {
    this.events.onText?.(String.fromCodePoint(cp));
    this.done(end);
  }

  onopentagname(start: number, end: number): void {
    this.tagName = this.name(start, end);
    this.tagStart = start;
    this.attribs = this.wanted === 'all' || this.wanted.has(this.tagName) ? {} : null;
    this.done(end);
  }

  onattribname(start: number, end: number): void {
    this.checkTag(end);
    this.attribName = this.attribs === null ? '' : this.name(start, end);
    this.attribValue = '';
    this.done(end);
  }

  onattribdata(start: number, end: number): void {
    this.checkTag(end);
    this.addAttribValue(this.attribs === null ? '' : this.slice(start, end));
    this.done(end);
  }

  onattribentity(cp: number): void {
    this.addAttribValue(String.fromCodePoint(cp));
  }

  onattribend(_quote: unknown, end: number): void {
    this.checkTag(end);
    const { attribs } = this;
    if (attribs !== null && !Object.prototype.hasOwnProperty.call(attribs, this.attribName)) {
      attribs[this.attribName] = this.attribValue;
    }
    this.attribValue = '';
    this.done(end);
  }

  onopentagend(end: number): void {
    this.checkTag(end);
    const a = this.attribs;
    const opened = this.tagName;
    this.attribs = null;
    this.tagName = '';
    this.done(end + 1);
    if (a !== null) this.events.onOpenTag(opened, a);
  }

  onselfclosingtag(end: number): void {
    // `<a/>` opens like `<a>` in HTML.
    this.onopentagend(end);
  }

  onclosetag(start: number, end: number): void {
    const closed = this.name(start, end);
    this.done(end + 1);
    this.events.onCloseTag?.(closed);
  }

  oncomment(_start: number, end: number): void {
    this.done(end + 1);
  }

  oncdata(_start: number, end: number): void {
    this.done(end + 1);
  }

  ondeclaration(_start: number, end: number): void {
    this.done(end + 1);
  }

  onprocessinginstruction(_start: number, end: number): void {
    this.done(end + 1);
  }

  onend(): void {}

  // ---- helpers ----

  private tooLong(what: string): never {
    throw payloadError(
      this.url,
      `${what} longer than ${this.maxTokenChars} characters (the cap on one token)`,
    );
  }

  private name(start: number, end: number): string {
    if (end - start > this.maxTokenChars) this.tooLong('an HTML tag or attribute name');
    return this.slice(start, end).toLowerCase();
  }

  private slice(start: number, end: number): string {
    let out = '';
    let base = this.bufferOffset;
    for (const b of this.buffers) {
      const from = Math.max(start - base, 0);
      const to = Math.min(end - base, b.length);
      if (from < to) out += b.slice(from, to);
      base += b.length;
      if (base >= end) break;
    }
    return out;
  }

  private done(end: number): void {
    if (end > this.consumed) this.consumed = end;
  }

  private checkTag(end: number): void {
    if (this.tagName !== '' && end - this.tagStart > this.maxTokenChars) {
      this.tooLong(`the tag <${this.tagName.slice(0, 40)}>`);
    }
  }

  private addAttribValue(piece: string): void {
    if (this.attribs === null) return;
    this.attribValue += piece;
    if (this.attribValue.length > this.maxTokenChars)
      this.tooLong(`the attribute ${this.attribName.slice(0, 40)}`);
  }
}
