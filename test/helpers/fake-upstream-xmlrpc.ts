// PyPI's XML-RPC mirroring trio (docs/protocol.md §3): changelog_last_serial, changelog_since_serial (capped per
// call, so clients must page), list_packages_with_serial. Anything else answers a Fault, as Warehouse does.
import type { UpstreamModel } from './fake-upstream-model.js';

export type XmlRpcValue = number | string | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };

export interface XmlRpcCall {
  readonly method: string;
  readonly params: XmlRpcValue[];
}

/** Parses a `<methodCall>` with scalar parameters (int/i4/i8/string/boolean/untyped). */
export function parseMethodCall(xml: string): XmlRpcCall {
  const method = /<methodName>\s*([^<]*?)\s*<\/methodName>/.exec(xml)?.[1];
  if (method === undefined) throw new Error('no methodName');
  const params: XmlRpcValue[] = [];
  for (const match of xml.matchAll(/<param>\s*<value>([\s\S]*?)<\/value>\s*<\/param>/g)) {
    params.push(parseScalar(match[1] ?? ''));
  }
  return { method, params };
}

function parseScalar(inner: string): XmlRpcValue {
  const typed = /^\s*<(int|i4|i8|string|boolean|double|nil)\s*(\/>|>([\s\S]*?)<\/\1>)\s*$/.exec(inner);
  if (typed === null) return unescapeXml(inner);
  const [, type, , text = ''] = typed;
  switch (type) {
    case 'int':
    case 'i4':
    case 'i8':
    case 'double':
      return Number(text.trim());
    case 'boolean':
      return text.trim() === '1';
    case 'nil':
      return null;
    default:
      return unescapeXml(text);
  }
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function unescapeXml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&');
}

function renderValue(value: XmlRpcValue): string {
  if (value === null) return '<value><nil/></value>';
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? `<value><int>${value}</int></value>`
      : `<value><double>${value}</double></value>`;
  }
  if (typeof value === 'string') return `<value><string>${escapeXml(value)}</string></value>`;
  if (Array.isArray(value))
    return `<value><array><data>${value.map(renderValue).join('')}</data></array></value>`;
  const members = Object.entries(value).map(
    ([name, v]) => `<member><name>${escapeXml(name)}</name>${renderValue(v)}</member>`,
  );
  return `<value><struct>${members.join('')}</struct></value>`;
}

export function renderResponse(value: XmlRpcValue): string {
  return `<?xml version='1.0'?>\n<methodResponse><params><param>${renderValue(value)}</param></params></methodResponse>\n`;
}

export function renderFault(code: number, message: string): string {
  const fault = renderValue({ faultCode: code, faultString: message });
  return `<?xml version='1.0'?>\n<methodResponse><fault>${fault}</fault></methodResponse>\n`;
}

/** Answers one call against the model; returns the XML body (always HTTP 200, faults included). */
export function answerXmlRpc(model: UpstreamModel, body: string, changelogCap: number): string {
  let call: XmlRpcCall;
  try {
    call = parseMethodCall(body);
  } catch (error) {
    return renderFault(-32700, `parse error: ${(error as Error).message}`);
  }
  switch (call.method) {
    case 'changelog_last_serial':
      return renderResponse(model.serial);
    case 'changelog_since_serial': {
      const since = call.params[0];
      if (typeof since !== 'number' || !Number.isInteger(since)) {
        return renderFault(-32602, 'changelog_since_serial(since: int)');
      }
      const rows: XmlRpcValue[] = [];
      for (const e of model.journal) {
        if (e.serial <= since) continue;
        if (rows.length >= changelogCap) break;
        rows.push([e.name, e.version, e.timestamp, e.action, e.serial]);
      }
      return renderResponse(rows);
    }
    case 'list_packages_with_serial': {
      const result: Record<string, XmlRpcValue> = {};
      for (const p of model.projects.values()) result[p.name] = p.lastSerial;
      return renderResponse(result);
    }
    default:
      return renderFault(-32601, `RuntimeError: PyPI no longer supports '${call.method}'`);
  }
}
