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
 * Scans HTML (or XML) for the opening tags named in `wanted` (lower case in HTML). `url` names the page in errors;
 * `maxTokenChars` is MAX_TOKEN_CHARS unless a test asks for less.
 */
export function createHtmlScanner(
  wanted: ReadonlySet<string> | 'all',
  events: HtmlEvents,
  url: string | URL,
  maxTokenChars: number = MAX_TOKEN_CHARS,
  /** XML (XML-RPC): names keep their case, CDATA is text, no HTML special elements. */
  xmlMode = false,
): HtmlScanner {
  const buffers: string[] = [];
  let bufferOffset = 0; // absolute index of buffers[0][0]
  let buffered = 0; // characters in `buffers`
  let consumed = 0; // absolute index up to which no callback needs the input any more
  let maxHeldChars = 0;

  let tagName = '';
  let tagStart = 0;
  let attribs: Attribs | null = null;
  let attribName = '';
  let attribValue = '';

  const tooLong = (what: string): never => {
    throw payloadError(url, `${what} longer than ${maxTokenChars} characters (the cap on one token)`);
  };
  const name = (start: number, end: number): string => {
    if (end - start > maxTokenChars) tooLong('an HTML tag or attribute name');
    const raw = slice(start, end);
    return xmlMode ? raw : raw.toLowerCase();
  };
  const slice = (start: number, end: number): string => {
    let out = '';
    let base = bufferOffset;
    for (const b of buffers) {
      const from = Math.max(start - base, 0);
      const to = Math.min(end - base, b.length);
      if (from < to) out += b.slice(from, to);
      base += b.length;
      if (base >= end) break;
    }
    return out;
  };
  const done = (end: number): void => {
    if (end > consumed) consumed = end;
  };
  const checkTag = (end: number): void => {
    if (tagName !== '' && end - tagStart > maxTokenChars) tooLong(`the tag <${tagName.slice(0, 40)}>`);
  };
  const addAttribValue = (piece: string): void => {
    if (attribs === null) return;
    attribValue += piece;
    if (attribValue.length > maxTokenChars) tooLong(`the attribute ${attribName.slice(0, 40)}`);
  };
  const openTagEnd = (end: number): void => {
    checkTag(end);
    const a = attribs;
    const opened = tagName;
    attribs = null;
    tagName = '';
    done(end + 1);
    if (a !== null) events.onOpenTag(opened, a);
  };

  const tokenizer = new Tokenizer(
    { decodeEntities: true, xmlMode },
    {
      ontext(start, end) {
        if (events.onText !== undefined) events.onText(slice(start, end));
        done(end);
      },
      ontextentity(cp, end) {
        events.onText?.(String.fromCodePoint(cp));
        done(end);
      },
      onopentagname(start, end) {
        tagName = name(start, end);
        tagStart = start;
        attribs = wanted === 'all' || wanted.has(tagName) ? {} : null;
        done(end);
      },
      onattribname(start, end) {
        checkTag(end);
        attribName = attribs === null ? '' : name(start, end);
        attribValue = '';
        done(end);
      },
      onattribdata(start, end) {
        checkTag(end);
        addAttribValue(attribs === null ? '' : slice(start, end));
        done(end);
      },
      onattribentity(cp) {
        addAttribValue(String.fromCodePoint(cp));
      },
      onattribend(_quote, end) {
        checkTag(end);
        if (attribs !== null && !Object.prototype.hasOwnProperty.call(attribs, attribName)) {
          attribs[attribName] = attribValue;
        }
        attribValue = '';
        done(end);
      },
      onopentagend: openTagEnd,
      onselfclosingtag(end) {
        // HTML: `<a/>` opens like `<a>`; XML: `<nil/>` opens and closes.
        const opened = tagName;
        openTagEnd(end);
        if (xmlMode) events.onCloseTag?.(opened);
      },
      onclosetag(start, end) {
        const closed = name(start, end);
        done(end + 1);
        events.onCloseTag?.(closed);
      },
      oncomment(_start, end) {
        done(end + 1);
      },
      oncdata(start, end, endOffset) {
        if (xmlMode) events.onText?.(slice(start, end - endOffset));
        done(end + 1);
      },
      ondeclaration(_start, end) {
        done(end + 1);
      },
      onprocessinginstruction(_start, end) {
        done(end + 1);
      },
      onend() {},
    },
  );

  return {
    write(chunk: string): void {
      buffers.push(chunk);
      buffered += chunk.length;
      tokenizer.write(chunk);
      // Forget the chunks no callback needs any more; what is left is one unfinished token.
      while (buffers.length > 0 && bufferOffset + (buffers[0] as string).length <= consumed) {
        const first = buffers.shift() as string;
        bufferOffset += first.length;
        buffered -= first.length;
      }
      const held = bufferOffset + buffered - Math.max(consumed, bufferOffset);
      if (held > maxHeldChars) maxHeldChars = held;
      if (held > maxTokenChars) tooLong('an unfinished HTML token (tag, comment or declaration)');
    },
    end(): void {
      tokenizer.end();
    },
    get length() {
      return bufferOffset + buffered;
    },
    get maxHeldChars() {
      return maxHeldChars;
    },
  };
}
