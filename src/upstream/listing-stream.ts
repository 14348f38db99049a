// The walker for the PEP 691 root listing's schema (docs/protocol.md §2-§3), `{"meta": {...}, "projects":
// [...]}`, over the generic streaming JSON tokenizer and its caps (json-lexer.ts).
// PyPI's is over 700 000 projects (30-40 MB): it is fed chunk by chunk and calls `onProject` for every entry
// as soon as the entry's closing brace arrives, holding at most one entry (plus one string of at most
// MAX_KEPT_CHARS) at any time, whatever the input size. Unknown keys and values of any shape are skipped
// without being kept. Malformed JSON and structural violations throw UPSTREAM_PAYLOAD naming the offset or
// the JSON path, like decodeListingJson; an invalid project name only skips that entry (a warning). Pure.
import { isValidProjectName } from '../model/names.js';
import { checkApiVersion, payloadError, Warnings } from './decode.js';
import { createJsonLexer, detach, type Scalar } from './json-lexer.js';
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
  const warnings = new Warnings();
  let serial: number | null = null;
  let count = 0;
  let maxHeldChars = 0;
  let hasProjects = false;

  const kinds: number[] = []; // container roles, innermost last
  let lastKey: string | null = null; // key of the value being read, in a ROOT / META / ENTRY object
  const keys: (string | null)[] = []; // saved lastKey of each enclosing object

  // The entry being read.
  let entryIndex = -1;
  let entryName: string | null = null;
  let entrySerial: number | null = null;
  let entryHasName = false;

  const warn = (message: string): void => warnings.push(message);
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

  const lexer = createJsonLexer(
    {
      open(array) {
        const role = roleOf(array ? 'array' : 'object', null, false);
        if (role === PROJECTS) hasProjects = true;
        if (role === ENTRY) {
          entryName = null;
          entrySerial = null;
          entryHasName = false;
        }
        kinds.push(role);
        keys.push(lastKey);
        lastKey = null;
      },
      close() {
        const role = kinds.pop();
        lastKey = keys.pop() ?? null;
        if (role !== ENTRY) return;
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
      },
      key(key) {
        const parent = kinds[kinds.length - 1];
        lastKey = parent === ROOT || parent === META || parent === ENTRY ? key : null;
        if (parent === ENTRY && lastKey === 'name') entryHasName = true;
      },
      scalar(value, isTruncated) {
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
      },
    },
    { url, maxDepth: MAX_DEPTH, maxKeptChars: MAX_KEPT_CHARS },
  );

  let finalWarnings: readonly string[] | null = null;
  return {
    write(chunk) {
      lexer.write(chunk);
      const held = lexer.heldChars + (entryName?.length ?? 0);
      if (held > maxHeldChars) maxHeldChars = held;
    },
    end() {
      lexer.end();
      if (!hasProjects) structure('projects', 'an array', 'nothing (no "projects" key)');
      finalWarnings = warnings.list();
    },
    get warnings() {
      return finalWarnings ?? warnings.list();
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
