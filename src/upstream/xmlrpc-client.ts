// PyPI's XML-RPC client (docs/protocol.md): `changelog_since_serial`, paged, and `changelog_last_serial`,
// POSTed to `<origin>/pypi` through the Sender (send.ts). An index without the endpoint or the method
// answers "unsupported" (null), not an error. The XML itself is read by xmlrpc.ts.
import { redactUrl } from '../errors.js';
import { payloadError } from './decode.js';
import { ensureOk, isAbsent, streamBody, UpstreamStatusError, type Sender } from './send.js';
import type { ChangelogResult, Upstream } from '../model/upstream.js';
import {
  createMethodResponseParser,
  encodeMethodCall,
  isMethodNotFound,
  pageChangelog,
  XmlRpcFormatError,
  type XmlRpcValue,
} from './xmlrpc.js';

/** The largest XML-RPC answer read, decoded (a changelog page of 50 000 rows is about 10 MB). */
const MAX_XMLRPC_BYTES = 32 * 1024 * 1024;

export interface ChangelogPaging {
  /** PyPI returns at most 50 000 changelog rows per call; a shorter page ends the paging. */
  readonly pageSize: number;
  /** Paging stops after this many calls; the caller resumes from the last row's serial. */
  readonly maxPages: number;
}

/** The Upstream's XML-RPC methods over `sender`. */
export function createXmlRpcClient(
  sender: Sender,
  paging: ChangelogPaging,
): Pick<Upstream, 'fetchChangelogSince' | 'fetchLastSerial'> {
  const url = new URL('/pypi', sender.base.origin);
  return {
    async fetchChangelogSince(serial, signal, options = {}): Promise<ChangelogResult> {
      const pages = options.maxPages ?? paging.maxPages;
      let requests = 0;
      let lastBatch = 0;
      const call = async (since: number): Promise<{ value: XmlRpcValue } | null> => {
        requests++;
        const result = await callXmlRpc(sender, url, 'changelog_since_serial', [since], signal);
        lastBatch = result !== null && Array.isArray(result.value) ? result.value.length : 0;
        return result;
      };
      const log = await pageChangelog(call, serial, { pageSize: paging.pageSize, maxPages: pages, url });
      if (!log.supported) return log;
      return { ...log, requests, isTruncated: requests >= pages && lastBatch >= paging.pageSize };
    },
    async fetchLastSerial(signal) {
      const result = await callXmlRpc(sender, url, 'changelog_last_serial', [], signal);
      if (result === null) return null;
      if (!Number.isSafeInteger(result.value) || (result.value as number) < 0) {
        const got = JSON.stringify(result.value);
        throw payloadError(url, `changelog_last_serial: expected an integer ≥ 0, got ${got}`);
      }
      return result.value as number;
    },
  };
}

/** One XML-RPC call to `url`; null when the endpoint or method does not exist. */
async function callXmlRpc(
  sender: Sender,
  url: URL,
  method: string,
  params: number[],
  signal: AbortSignal,
): Promise<{ value: XmlRpcValue } | null> {
  const spec = {
    headers: { 'content-type': 'text/xml', accept: 'text/xml' },
    body: encodeMethodCall(method, params),
  };
  return sender.call(url, spec, signal, async (res) => {
    if (await isAbsent(res, [404, 405, 501])) return null;
    await ensureOk(res, url);
    const parser = createMethodResponseParser(url);
    let parsed;
    try {
      await streamBody(res, url, MAX_XMLRPC_BYTES, (text) => parser.write(text)); // a network error is retried
      parsed = parser.end();
    } catch (err) {
      if (!(err instanceof XmlRpcFormatError)) throw err; // payload, network, abort
      throw payloadError(url, `XML-RPC ${method}: ${err.message}`, err);
    }
    if (!('fault' in parsed)) return parsed;
    if (isMethodNotFound(parsed.fault)) return null;
    if (/too ?many ?requests|\b429\b/i.test(parsed.fault.message))
      throw new UpstreamStatusError(redactUrl(url), 429, null);
    throw payloadError(url, `XML-RPC ${method} fault ${parsed.fault.code}: ${parsed.fault.message}`);
  });
}
