// A streaming decoder for PEP 691 project pages (docs/protocol.md §2), fed chunk by chunk: the page is never held
// whole, as a string or as a JSON.parse tree. The JSON lexer (json-lexer.ts) reports tokens; each `files[i]`
// entry (and `meta`, `name`, `project-status`) is built as a small value of bounded size and handed to the
// same ProjectPageAssembler that decodeProjectJson uses, so both decode alike; unknown keys are skipped
// without being kept. Caps, each an UPSTREAM_PAYLOAD error naming it: MAX_PAGE_DEPTH, MAX_TOKEN_CHARS per
// string, MAX_ENTRY_VALUES and MAX_ENTRY_CHARS per entry, MAX_PAGE_FILES entries. Pure.
import {
  MAX_TOKEN_CHARS,
  payloadError,
  ProjectPageAssembler,
  type Decoded,
  type PageBody,
} from './decode.js';
import { createJsonLexer, detach, type Scalar } from './json-lexer.js';

/** Deepest nesting accepted on a project page (a page needs 4). */
export const MAX_PAGE_DEPTH = 64;
/** Values (scalars and containers) in one entry of a page. */
export const MAX_ENTRY_VALUES = 10_000;
/** Characters of strings and keys in one entry of a page. */
const MAX_ENTRY_CHARS = 1024 * 1024;

/** Root keys whose values are built and decoded; other keys are skipped. */
const BUILT = new Set(['meta', 'name', 'project-status', 'files', 'versions']);

export interface PageJsonDecoder {
  write(chunk: string): void;
  /** The input is complete: the page, or UPSTREAM_PAYLOAD when it is unfinished or wrong. */
  end(): Decoded<PageBody>;
  /** Files entries read so far. */
  readonly count: number;
}

type Container = unknown[] | Record<string, unknown>;

/** Builds one JSON value from lexer events, within the entry caps. */
class ValueBuilder {
  private readonly stack: Container[] = [];
  private readonly keys: (string | null)[] = [];
  private values = 0;
  private chars = 0;
  value: unknown = undefined;
  isDone = false;

  constructor(
    private readonly where: string,
    private readonly url: string | URL,
  ) {}

  private count(chars: number): void {
    this.values++;
    this.chars += chars;
    if (this.values > MAX_ENTRY_VALUES) {
      throw payloadError(this.url, `${this.where}: more than ${MAX_ENTRY_VALUES} values in one entry`);
    }
    if (this.chars > MAX_ENTRY_CHARS) {
      throw payloadError(this.url, `${this.where}: more than ${MAX_ENTRY_CHARS} characters in one entry`);
    }
  }

  private add(v: unknown): void {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      this.value = v;
      this.isDone = true;
    } else if (Array.isArray(top)) {
      top.push(v);
    } else {
      const key = this.keys[this.keys.length - 1] ?? '';
      // As JSON.parse: an own property even for "__proto__"; the last of a repeated key wins.
      Object.defineProperty(top, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }

  open(isArray: boolean): void {
    this.count(0);
    this.stack.push(isArray ? [] : {});
    this.keys.push(null);
  }
  close(): void {
    const done = this.stack.pop();
    this.keys.pop();
    this.add(done);
  }
  key(key: string): void {
    this.count(key.length);
    this.keys[this.keys.length - 1] = key;
  }
  scalar(value: Scalar): void {
    this.count(typeof value === 'string' ? value.length : 0);
    this.add(typeof value === 'string' ? detach(value) : value);
  }
}

/** Decodes a PEP 691 page as it streams in. `name` is the normalized name that was requested. */
export function createPageJsonDecoder(pageUrl: string | URL, name: string): PageJsonDecoder {
  const page = new ProjectPageAssembler(pageUrl, name);
  let depth = 0; // containers open outside any built value: 1 = in the root object, 2 = in files/versions
  let rootKey: string | null = null;
  let list: 'files' | 'versions' | null = null; // the root array being streamed
  let skipping = 0; // depth inside a skipped value
  let builder: ValueBuilder | null = null;
  let deliver: (value: unknown) => void = () => {};

  const rootValue = (key: string, value: unknown): void => {
    if (key === 'files') page.allFiles(value);
    else if (key === 'versions') page.allVersions(value);
    else page.field(key, value);
  };
  const element = (value: unknown): void => {
    if (list === 'files') page.file(value);
    else page.version(value);
  };
  const notAnObject = (got: string): never => {
    throw payloadError(pageUrl, `(root): expected an object, got ${got}`);
  };
  const build = (where: string, to: (value: unknown) => void, isArray: boolean): void => {
    builder = new ValueBuilder(where, pageUrl);
    deliver = to;
    builder.open(isArray);
  };

  const lexer = createJsonLexer(
    {
      open(isArray) {
        if (builder !== null) builder.open(isArray);
        else if (skipping > 0) skipping++;
        else if (depth === 0) {
          if (isArray) notAnObject('an array');
          depth = 1;
        } else if (depth === 1) {
          const key = rootKey ?? '';
          if ((key === 'files' || key === 'versions') && isArray) {
            list = key;
            depth = 2;
            if (key === 'files') page.startFiles();
          } else if (BUILT.has(key)) build(key, (v) => rootValue(key, v), isArray);
          else skipping = 1;
        } else {
          build(`${list}[${list === 'files' ? page.count : '…'}]`, element, isArray);
        }
      },
      close() {
        const b = builder;
        if (b !== null) {
          b.close();
          if (b.isDone) {
            builder = null;
            deliver(b.value);
          }
        } else if (skipping > 0) skipping--;
        else if (depth === 2) {
          list = null;
          depth = 1;
        } else depth = 0;
      },
      key(key) {
        if (builder !== null) builder.key(key ?? '');
        else if (skipping === 0 && depth === 1) rootKey = key;
      },
      scalar(value) {
        if (builder !== null) builder.scalar(value);
        else if (skipping > 0) return;
        else if (depth === 0) notAnObject(value === null ? 'null' : `${typeof value}`);
        else if (depth === 1) {
          if (rootKey !== null && BUILT.has(rootKey)) rootValue(rootKey, value);
        } else element(value);
      },
    },
    {
      url: pageUrl,
      maxDepth: MAX_PAGE_DEPTH,
      maxKeptChars: MAX_TOKEN_CHARS,
      maxStringChars: MAX_TOKEN_CHARS,
    },
  );

  return {
    write: (chunk) => lexer.write(chunk),
    end() {
      lexer.end();
      return page.finish();
    },
    get count() {
      return page.count;
    },
  };
}
