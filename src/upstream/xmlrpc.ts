// Just enough XML-RPC for PyPI's `changelog_since_serial` (PROTOCOL.md §3): encode a call with scalar params,
// parse a methodResponse (htmlparser2 in xmlMode) into plain values or a fault, decode changelog rows. Pure.
import { Parser } from 'htmlparser2';
import { payloadError } from './decode.js';

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };
export type XmlRpcResponse =
  { readonly fault: { readonly code: number; readonly message: string } } | { readonly value: XmlRpcValue };

/** One journal entry: `[name, version, timestamp, action, serial]`. */
export interface ChangelogRow {
  readonly name: string;
  /** null for project-level events. */
  readonly version: string | null;
  /** Unix seconds, UTC. */
  readonly timestamp: number;
  /** `new release`, `add py3 file x.whl`, `remove project`, … */
  readonly action: string;
  readonly serial: number;
}

export interface Changelog {
  /** Ordered by serial; empty when unsupported. */
  readonly rows: readonly ChangelogRow[];
  /** false when the upstream has no XML-RPC endpoint or no such method. */
  readonly supported: boolean;
}

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

interface Node {
  readonly name: string;
  readonly children: Node[];
  text: string;
}

function parseTree(xml: string): Node {
  const root: Node = { name: '#root', children: [], text: '' };
  const stack: Node[] = [root];
  const parser = new Parser(
    {
      onopentag(name) {
        const node: Node = { name, children: [], text: '' };
        stack.at(-1)?.children.push(node);
        stack.push(node);
      },
      ontext(data) {
        const top = stack.at(-1);
        if (top !== undefined) top.text += data;
      },
      onclosetag() {
        if (stack.length > 1) stack.pop();
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.end(xml);
  return root;
}

function child(node: Node | undefined, name: string): Node | undefined {
  return node?.children.find((c) => c.name === name);
}

function toValue(value: Node, path: string): XmlRpcValue {
  const typed = value.children[0];
  if (typed === undefined) return value.text; // untyped = string
  const text = typed.text.trim();
  switch (typed.name) {
    case 'int':
    case 'i4':
    case 'i8':
      if (!/^[+-]?\d+$/.test(text)) throw new Error(`${path}: bad <${typed.name}> ${JSON.stringify(text)}`);
      return Number(text);
    case 'boolean':
      return text === '1';
    case 'double':
      return Number(text);
    case 'nil':
      return null;
    case 'string':
      return typed.text;
    case 'dateTime.iso8601':
    case 'base64':
      return text;
    case 'array':
      return (child(typed, 'data')?.children ?? [])
        .filter((c) => c.name === 'value')
        .map((c, i) => toValue(c, `${path}[${i}]`));
    case 'struct': {
      const out: { [key: string]: XmlRpcValue } = {};
      for (const m of typed.children.filter((c) => c.name === 'member')) {
        const key = child(m, 'name')?.text ?? '';
        const v = child(m, 'value');
        out[key] = v === undefined ? null : toValue(v, `${path}.${key}`);
      }
      return out;
    }
    default:
      throw new Error(`${path}: unknown type <${typed.name}>`);
  }
}

/** Parses a methodResponse; throws a plain Error describing what is wrong. */
export function parseMethodResponse(xml: string): XmlRpcResponse {
  const response = child(parseTree(xml), 'methodResponse');
  if (response === undefined) throw new Error('not an XML-RPC methodResponse');
  const fault = child(child(response, 'fault'), 'value');
  if (fault !== undefined) {
    const v = toValue(fault, 'fault');
    const s = typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
    return {
      fault: {
        code: typeof s.faultCode === 'number' ? s.faultCode : 0,
        message: typeof s.faultString === 'string' ? s.faultString : String(s.faultString ?? ''),
      },
    };
  }
  const value = child(child(child(response, 'params'), 'param'), 'value');
  if (value === undefined) throw new Error('methodResponse without params/param/value');
  return { value: toValue(value, 'result') };
}

/** A fault saying the method does not exist (-32601 per the XML-RPC fault-code convention, or its text). */
export function isMethodNotFound(fault: { code: number; message: string }): boolean {
  return (
    fault.code === -32601 ||
    /method not found|not supported|no such method|unknown method/i.test(fault.message)
  );
}

/** Decodes the changelog_since_serial result (array of [name, version, timestamp, action, serial]). */
export function decodeChangelogRows(value: XmlRpcValue, url: string | URL): ChangelogRow[] {
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
