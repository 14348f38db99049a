// Just enough XML-RPC for PyPI's `changelog_since_serial` (docs/protocol.md §3): encode a call with scalar params,
// parse a methodResponse as it streams in (xml-scan.ts; values are built as their elements close,
// no element tree is kept) into plain values or a fault, decode changelog rows. Nesting deeper than
// MAX_XMLRPC_DEPTH and more than MAX_XMLRPC_ELEMENTS elements are refused. Pure.
import { MAX_TOKEN_CHARS, payloadError } from './decode.js';
import { createXmlScanner } from './xml-scan.js';
import type { Changelog, ChangelogRow } from '../model/upstream.js';

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };
export type XmlRpcResponse =
  { readonly fault: { readonly code: number; readonly message: string } } | { readonly value: XmlRpcValue };

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function encodeParam(p: string | number | boolean): string {
  if (typeof p === 'boolean') return `<boolean>${p ? 1 : 0}</boolean>`;
  if (typeof p === 'string') return `<string>${escapeXml(p)}</string>`;
  if (!Number.isSafeInteger(p)) return `<double>${p}</double>`;
  return Math.abs(p) < 2 ** 31 ? `<int>${p}</int>` : `<i8>${p}</i8>`;
}

export function encodeMethodCall(method: string, params: readonly (string | number | boolean)[]): string {
  const ps = params.map((p) => `<param><value>${encodeParam(p)}</value></param>`).join('');
  return `<?xml version="1.0"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${ps}</params></methodCall>`;
}

/** Deepest element nesting accepted in an answer (a changelog needs 11). */
export const MAX_XMLRPC_DEPTH = 64;
/** Elements accepted in one answer (a 50 000-row changelog page has about 650 000). */
export const MAX_XMLRPC_ELEMENTS = 2_000_000;

/** An answer that is not a well-formed methodResponse (the caller makes it UPSTREAM_PAYLOAD). */
export class XmlRpcFormatError extends Error {}

/** One open element and what its children gave it. */
interface Frame {
  readonly name: string;
  text: string;
  /** The typed value of a <value>, or of a <param> / <fault>. */
  value?: XmlRpcValue;
  /** <data> (and its <array>): the values; <struct>: the members. */
  items?: XmlRpcValue[];
  members?: { [key: string]: XmlRpcValue };
  /** <member>: its <name>. */
  key?: string;
}

const TEXT_TYPES = new Set([
  'int',
  'i4',
  'i8',
  'boolean',
  'double',
  'nil',
  'string',
  'dateTime.iso8601',
  'base64',
]);

function scalarOf(name: string, raw: string): XmlRpcValue {
  const text = raw.trim();
  switch (name) {
    case 'int':
    case 'i4':
    case 'i8':
      if (!/^[+-]?\d+$/.test(text))
        throw new XmlRpcFormatError(`bad <${name}> ${JSON.stringify(text.slice(0, 40))}`);
      return Number(text);
    case 'boolean':
      return text === '1';
    case 'double':
      return Number(text);
    case 'nil':
      return null;
    case 'string':
      return raw;
    default: // dateTime.iso8601, base64
      return text;
  }
}

export interface MethodResponseParser {
  /** Feeds the next decoded chunk; throws a plain Error (or UPSTREAM_PAYLOAD for a cap) describing what is wrong. */
  write(chunk: string): void;
  end(): XmlRpcResponse;
  /** Elements read so far. */
  readonly elements: number;
}

/** A streaming methodResponse parser; `url` names the answer in cap errors. */
export function createMethodResponseParser(url: string | URL = '(XML-RPC)'): MethodResponseParser {
  const stack: Frame[] = [];
  let elements = 0;
  let sawResponse = false;
  let result: XmlRpcValue | undefined;
  let fault: XmlRpcValue | undefined;

  const give = (parent: Frame | undefined, value: XmlRpcValue): void => {
    if (parent === undefined) return;
    if (parent.name === 'data') (parent.items ??= []).push(value);
    else if (parent.name === 'value' || parent.name === 'param' || parent.name === 'fault') {
      if (parent.value === undefined) parent.value = value;
    } else if (parent.name === 'member') parent.value = value;
  };
  const scanner = createXmlScanner(
    {
      onOpenTag(name) {
        elements++;
        if (elements > MAX_XMLRPC_ELEMENTS) {
          throw payloadError(
            url,
            `more than ${MAX_XMLRPC_ELEMENTS} XML-RPC elements (the cap on one answer)`,
          );
        }
        if (stack.length >= MAX_XMLRPC_DEPTH) {
          throw payloadError(url, `XML-RPC elements nested deeper than ${MAX_XMLRPC_DEPTH} levels`);
        }
        if (name === 'methodResponse' && stack.length === 0) sawResponse = true;
        stack.push({ name, text: '' });
      },
      onText(text) {
        const top = stack[stack.length - 1];
        if (top === undefined || !(TEXT_TYPES.has(top.name) || top.name === 'value' || top.name === 'name'))
          return;
        if (top.text.length + text.length > MAX_TOKEN_CHARS) {
          throw payloadError(
            url,
            `<${top.name}> text longer than ${MAX_TOKEN_CHARS} characters (the cap on one token)`,
          );
        }
        top.text += text;
      },
      onCloseTag(name) {
        const top = stack[stack.length - 1];
        if (top === undefined || top.name !== name) return; // a stray closing tag: ignored
        stack.pop();
        const parent = stack[stack.length - 1];
        if (TEXT_TYPES.has(name)) give(parent, scalarOf(name, top.text));
        else if (name === 'array') give(parent, top.value ?? []);
        else if (name === 'data') {
          if (parent?.name === 'array') parent.value = top.items ?? [];
        } else if (name === 'struct') give(parent, top.members ?? {});
        else if (name === 'name') {
          if (parent?.name === 'member') parent.key = top.text;
        } else if (name === 'member') {
          if (parent?.name === 'struct') (parent.members ??= {})[top.key ?? ''] = top.value ?? null;
        } else if (name === 'value') {
          give(parent, top.value !== undefined ? top.value : top.text); // untyped = string
        } else if (name === 'param') {
          if (parent?.name === 'params' && result === undefined && top.value !== undefined)
            result = top.value;
        } else if (name === 'fault') {
          if (top.value !== undefined) fault = top.value;
        } else if (parent?.name === 'value') {
          throw new XmlRpcFormatError(`unknown type <${name}>`);
        }
      },
    },
    url,
  );
  return {
    write: (chunk) => scanner.write(chunk),
    end() {
      scanner.end();
      if (!sawResponse) throw new XmlRpcFormatError('not an XML-RPC methodResponse');
      if (fault !== undefined) {
        const s = typeof fault === 'object' && fault !== null && !Array.isArray(fault) ? fault : {};
        return {
          fault: {
            code: typeof s.faultCode === 'number' ? s.faultCode : 0,
            message: typeof s.faultString === 'string' ? s.faultString : String(s.faultString ?? ''),
          },
        };
      }
      if (result === undefined) throw new XmlRpcFormatError('methodResponse without params/param/value');
      return { value: result };
    },
    get elements() {
      return elements;
    },
  };
}

/** Parses a whole methodResponse; throws a plain Error describing what is wrong. */
export function parseMethodResponse(xml: string): XmlRpcResponse {
  const parser = createMethodResponseParser();
  parser.write(xml);
  return parser.end();
}

/** A fault saying the method does not exist (-32601 per the XML-RPC fault-code convention, or its text). */
export function isMethodNotFound(fault: { code: number; message: string }): boolean {
  return (
    fault.code === -32601 ||
    /method not found|not supported|no such method|unknown method/i.test(fault.message)
  );
}

/** Decodes the changelog_since_serial result (array of [name, version, timestamp, action, serial]). */
function decodeChangelogRows(value: XmlRpcValue, url: string | URL): ChangelogRow[] {
  const fail = (path: string, expected: string): never => {
    throw payloadError(url, `changelog_since_serial result${path}: expected ${expected}`);
  };
  if (!Array.isArray(value)) return fail('', 'an array');
  return value.map((row, i) => {
    if (!Array.isArray(row) || row.length < 5) return fail(`[${i}]`, 'an array of 5 values');
    const [name, version, timestamp, action, serial] = row;
    if (typeof name !== 'string') return fail(`[${i}][0]`, 'a project name string');
    if (version !== null && typeof version !== 'string') return fail(`[${i}][1]`, 'a version string or nil');
    if (!Number.isSafeInteger(timestamp)) return fail(`[${i}][2]`, 'an integer timestamp');
    if (typeof action !== 'string') return fail(`[${i}][3]`, 'an action string');
    if (!Number.isSafeInteger(serial)) return fail(`[${i}][4]`, 'an integer serial');
    return { name, version, timestamp: timestamp as number, action, serial: serial as number };
  });
}

/**
 * Pages through `changelog_since_serial`: calls `call(since)` until a page is shorter than `pageSize` or
 * `maxPages` calls were made (the caller resumes from the last row's serial). `call` answers null when the
 * upstream has no such endpoint or method.
 */
export async function pageChangelog(
  call: (since: number) => Promise<{ value: XmlRpcValue } | null>,
  serial: number,
  opts: { pageSize: number; maxPages: number; url: string | URL },
): Promise<Changelog> {
  const rows: ChangelogRow[] = [];
  let since = serial;
  for (let page = 0; page < opts.maxPages; page++) {
    const result = await call(since);
    if (result === null) return { rows: [], supported: false };
    const batch = decodeChangelogRows(result.value, opts.url);
    for (const row of batch) rows.push(row);
    if (batch.length < opts.pageSize) break;
    const last = batch.at(-1)?.serial ?? since;
    if (last <= since)
      throw payloadError(opts.url, `changelog_since_serial: serials stopped advancing at ${since}`);
    since = last;
  }
  return { rows, supported: true };
}
