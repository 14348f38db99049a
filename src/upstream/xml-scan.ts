// A bounded, streaming XML scanner for XML-RPC answers (xmlrpc.ts), fed chunk by chunk: opening tags with their
// attributes, closing tags and text (the five XML entities and character references decoded, CDATA as text);
// comments, processing instructions and declarations are skipped. It holds only the token not yet finished,
// and refuses one longer than MAX_TOKEN_CHARS with UPSTREAM_PAYLOAD; text is passed on as it comes. Names keep
// their case. It replaces htmlparser2 in XML mode there, so that reading the changelog (the one request of a
// no-op) does not load htmlparser2 (README "Benchmark"). Pure.
import { MAX_TOKEN_CHARS, payloadError } from './decode.js';
import type { Attribs, HtmlEvents } from './html-scan.js';

export interface XmlScanner {
  write(chunk: string): void;
  end(): void;
}

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** The longest entity reference kept whole across two chunks (`&#x10FFFF;` is 10). */
const MAX_ENTITY_CHARS = 12;
const CDATA_OPEN = '<![CDATA[';
const COMMENT_OPEN = '<!--';

/** `text` with its entity and character references decoded; an unknown or malformed one is kept as written. */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref[0] !== '#') return NAMED[ref] ?? whole;
    const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The index of the `>` that ends the tag opened at `from`, outside quoted attribute values; -1: not yet. */
function tagEnd(text: string, from: number): number {
  let quote = '';
  for (let i = from + 1; i < text.length; i++) {
    const c = text[i];
    if (quote !== '') {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
  }
  return -1;
}

/** The name and attributes of a tag's inside (`name a="1" b='2'`); the first of a repeated name wins. */
function parseTag(inside: string): { name: string; attribs: Attribs } {
  const name = /^[^\s/>]*/.exec(inside)?.[0] ?? '';
  const attribs: Attribs = {};
  for (const m of inside.slice(name.length).matchAll(/([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const key = m[1] as string;
    if (!Object.prototype.hasOwnProperty.call(attribs, key))
      attribs[key] = decodeEntities(m[2] ?? m[3] ?? '');
  }
  return { name, attribs };
}

/**
 * Scans XML, calling `events` for every opening tag (`wanted` is all of them), closing tag and piece of text.
 * `url` names the answer in errors; `maxTokenChars` is MAX_TOKEN_CHARS unless a test asks for less.
 */
export function createXmlScanner(
  events: HtmlEvents,
  url: string | URL,
  maxTokenChars: number = MAX_TOKEN_CHARS,
): XmlScanner {
  let pending = '';

  const text = (raw: string): void => {
    if (raw !== '') events.onText?.(decodeEntities(raw));
  };
  /** The markup at `at` (a `<`): the index after it, or -1 when it is not finished yet. */
  const markup = (at: number): number => {
    const rest = pending.length - at;
    if (pending.startsWith(COMMENT_OPEN, at)) {
      const end = pending.indexOf('-->', at + COMMENT_OPEN.length);
      return end < 0 ? -1 : end + 3;
    }
    if (pending.startsWith(CDATA_OPEN, at)) {
      const end = pending.indexOf(']]>', at + CDATA_OPEN.length);
      if (end >= 0) events.onText?.(pending.slice(at + CDATA_OPEN.length, end));
      return end < 0 ? -1 : end + 3;
    }
    const opening = pending.slice(at, at + CDATA_OPEN.length);
    if (rest < CDATA_OPEN.length && (CDATA_OPEN.startsWith(opening) || COMMENT_OPEN.startsWith(opening)))
      return -1; // `<!` or `<![CD` so far: which one it is comes with the next chunk
    if (pending.startsWith('<?', at)) {
      const end = pending.indexOf('?>', at + 2);
      return end < 0 ? -1 : end + 2;
    }
    if (pending.startsWith('<!', at) || pending.startsWith('</', at)) {
      const end = pending.indexOf('>', at);
      if (end >= 0 && pending[at + 1] === '/') events.onCloseTag?.(pending.slice(at + 2, end).trim());
      return end < 0 ? -1 : end + 1;
    }
    const end = tagEnd(pending, at);
    if (end < 0) return -1;
    const isSelfClosing = pending[end - 1] === '/';
    const { name, attribs } = parseTag(pending.slice(at + 1, isSelfClosing ? end - 1 : end));
    events.onOpenTag(name, attribs);
    if (isSelfClosing) events.onCloseTag?.(name);
    return end + 1;
  };

  return {
    write(chunk) {
      pending += chunk;
      let at = 0;
      while (at < pending.length) {
        const lt = pending.indexOf('<', at);
        if (lt !== at) {
          // Text up to the next tag; without one, all but an entity reference the next chunk may finish.
          const amp = lt < 0 ? pending.lastIndexOf('&') : -1;
          const isEntityOpen =
            amp >= at && pending.length - amp < MAX_ENTITY_CHARS && !pending.includes(';', amp);
          const stop = lt >= 0 ? lt : isEntityOpen ? amp : pending.length;
          text(pending.slice(at, stop));
          at = stop;
          if (lt < 0) break;
        }
        const next = markup(at);
        if (next < 0) break;
        at = next;
      }
      pending = pending.slice(at);
      if (pending.length > maxTokenChars) {
        throw payloadError(
          url,
          `an unfinished XML token (tag, comment or declaration) longer than ${maxTokenChars} characters (the cap on one token)`,
        );
      }
    },
    end() {
      // What is left is text, or a tag the answer never finished (ignored, as the XML-RPC reader then finds
      // its elements unclosed).
      if (!pending.startsWith('<')) text(pending);
      pending = '';
    },
  };
}
