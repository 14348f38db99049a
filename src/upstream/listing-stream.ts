// The walker for the PEP 691 root listing's schema (docs/protocol.md §2-§3), `{"meta": {...}, "projects":
// [...]}`, over the generic streaming JSON tokenizer and its caps (json-lexer.ts).
// PyPI's is over 700 000 projects (30-40 MB): it is fed chunk by chunk and calls `onProject` for every entry
// as soon as the entry's closing brace arrives, holding at most one entry (plus one string of at most
// MAX_KEPT_CHARS) at any time, whatever the input size. Unknown keys and values of any shape are skipped
// without being kept. Malformed JSON and structural violations throw UPSTREAM_PAYLOAD naming the offset or
// the JSON path, like decodeListingJson; an invalid project name only skips that entry (a warning). Pure.
import { isValidProjectName } from '../model/names.js';
import { checkApiVersion, payloadError, Warnings } from './decode.js';
import { createJsonLexer, detach, type JsonEvents, type JsonLexer, type Scalar } from './json-lexer.js';
import type { ListedProject } from '../model/upstream.js';

/** Longest string kept whole; a longer one is counted through and can only be ignored or rejected. */
export const MAX_KEPT_CHARS = 4096;
/** Deepest nesting accepted (the listing itself needs 3). */
const MAX_DEPTH = 256;

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

// What a container is, for the listing.
const ROOT = 0;
const META = 1;
const PROJECTS = 2;
const ENTRY = 3;
const SKIP = 4;

function describeScalar(v: Scalar, isTruncated: boolean): string {
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const shown = v.length > 60 ? `${v.slice(0, 60)}…` : v;
    return isTruncated ? `a string of more than ${MAX_KEPT_CHARS} characters` : JSON.stringify(shown);
  }
  return `${typeof v} ${String(v)}`;
}

export function createListingJsonParser(
  onProject: (project: ListedProject) => void,
  url: string | URL = '(root listing)',
): ListingJsonParser {
  return new ListingWalker(onProject, url);
}

/** Follows the listing's containers through the lexer's events, keeping only the entry being read. */
class ListingWalker implements ListingJsonParser, JsonEvents {
  private readonly found = new Warnings();
  private lastSerial: number | null = null;
  private delivered = 0;
  private mostHeld = 0;
  private hasProjects = false;
  private finalWarnings: readonly string[] | null = null;
  /** Container roles, innermost last. */
  private readonly kinds: number[] = [];
  /** Key of the value being read, in a ROOT / META / ENTRY object. */
  private lastKey: string | null = null;
  /** Saved lastKey of each enclosing object. */
  private readonly keys: (string | null)[] = [];
  // The entry being read.
  private entryIndex = -1;
  private entryName: string | null = null;
  private entrySerial: number | null = null;
  private entryHasName = false;
  private readonly lexer: JsonLexer;

  constructor(
    private readonly onProject: (project: ListedProject) => void,
    private readonly url: string | URL,
  ) {
    this.lexer = createJsonLexer(this, { url, maxDepth: MAX_DEPTH, maxKeptChars: MAX_KEPT_CHARS });
  }

  get warnings(): readonly string[] {
    return this.finalWarnings ?? this.found.list();
  }

  get serial(): number | null {
    return this.lastSerial;
  }

  get count(): number {
    return this.delivered;
  }

  get maxHeldChars(): number {
    return this.mostHeld;
  }

  write(chunk: string): void {
    this.lexer.write(chunk);
    const held = this.lexer.heldChars + (this.entryName?.length ?? 0);
    if (held > this.mostHeld) this.mostHeld = held;
  }

  end(): void {
    this.lexer.end();
    if (!this.hasProjects) this.structure('projects', 'an array', 'nothing (no "projects" key)');
    this.finalWarnings = this.found.list();
  }

  open(array: boolean): void {
    const role = this.roleOf(array ? 'array' : 'object', null, false);
    if (role === PROJECTS) this.hasProjects = true;
    if (role === ENTRY) {
      this.entryName = null;
      this.entrySerial = null;
      this.entryHasName = false;
    }
    this.kinds.push(role);
    this.keys.push(this.lastKey);
    this.lastKey = null;
  }

  close(): void {
    const role = this.kinds.pop();
    this.lastKey = this.keys.pop() ?? null;
    if (role !== ENTRY) return;
    if (!this.entryHasName) this.structure(`${this.entryPath()}.name`, 'a string', 'nothing (no "name" key)');
    const name = this.entryName;
    this.entryName = null;
    if (name === null) {
      // too long: already warned about
    } else if (isValidProjectName(name)) {
      this.delivered++;
      this.onProject({ name: detach(name), serial: this.entrySerial });
    } else {
      this.found.push(
        `${this.entryPath()}.name ${JSON.stringify(name.slice(0, 80))}: not a valid project name; skipped`,
      );
    }
  }

  key(key: string | null): void {
    const parent = this.kinds[this.kinds.length - 1];
    this.lastKey = parent === ROOT || parent === META || parent === ENTRY ? key : null;
    if (parent === ENTRY && this.lastKey === 'name') this.entryHasName = true;
  }

  scalar(value: Scalar, isTruncated: boolean): void {
    const { kinds, lastKey } = this;
    const parent = kinds.length === 0 ? -1 : kinds[kinds.length - 1];
    if (parent === -1 || parent === ROOT || parent === PROJECTS) {
      this.roleOf('scalar', value, isTruncated); // throws for the shapes the listing forbids
    } else if (parent === ENTRY) {
      if (lastKey === 'name') {
        if (typeof value !== 'string') {
          this.structure(`${this.entryPath()}.name`, 'a string', describeScalar(value, false));
        }
        this.entryName = isTruncated ? null : (value as string);
        if (isTruncated)
          this.found.push(`${this.entryPath()}.name: longer than ${MAX_KEPT_CHARS} characters; skipped`);
      } else if (lastKey === '_last-serial') {
        this.entrySerial = this.readCount(`${this.entryPath()}._last-serial`, value, isTruncated);
      }
    } else if (parent === META) {
      if (lastKey === '_last-serial')
        this.lastSerial = this.readCount('meta._last-serial', value, isTruncated);
      else if (lastKey === 'api-version') {
        const warning = checkApiVersion(value, 'meta.api-version', this.url);
        if (warning !== null) this.found.push(warning);
      }
    }
  }

  private structure(path: string, expected: string, got: string): never {
    throw payloadError(this.url, `${path}: expected ${expected}, got ${got}`);
  }

  private entryPath(): string {
    return `projects[${this.entryIndex}]`;
  }

  /** The role of a value about to start, given its container and key; throws when the shape is wrong. */
  private roleOf(kind: 'object' | 'array' | 'scalar', value: Scalar, isTruncated: boolean): number {
    const { kinds, lastKey } = this;
    const got = kind === 'scalar' ? describeScalar(value, isTruncated) : `an ${kind}`;
    const parent = kinds.length === 0 ? -1 : kinds[kinds.length - 1];
    if (parent === -1) return kind === 'object' ? ROOT : this.structure('(root)', 'an object', got);
    if (parent === ROOT) {
      if (lastKey === 'meta') return kind === 'object' ? META : this.structure('meta', 'an object', got);
      if (lastKey === 'projects')
        return kind === 'array' ? PROJECTS : this.structure('projects', 'an array', got);
      return SKIP;
    }
    if (parent === PROJECTS) {
      this.entryIndex++;
      return kind === 'object' ? ENTRY : this.structure(this.entryPath(), 'an object', got);
    }
    if (parent === ENTRY && (lastKey === 'name' || lastKey === '_last-serial') && kind !== 'scalar') {
      const expected = lastKey === 'name' ? 'a string' : 'an integer ≥ 0';
      return this.structure(`${this.entryPath()}.${lastKey}`, expected, got);
    }
    if (parent === META && (lastKey === 'api-version' || lastKey === '_last-serial') && kind !== 'scalar') {
      return this.structure(
        `meta.${lastKey}`,
        lastKey === '_last-serial' ? 'an integer ≥ 0' : 'a string',
        got,
      );
    }
    return SKIP;
  }

  private readCount(path: string, value: Scalar, isTruncated: boolean): number | null {
    if (value === null) return null;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    return this.structure(path, 'an integer ≥ 0', describeScalar(value, isTruncated));
  }
}
