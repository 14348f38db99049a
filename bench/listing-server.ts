// A PyPI-sized root listing for the bench: `count` projects in PyPI's compact PEP 691 JSON with
// `_last-serial`, of which `selected` (spread over `globs` name prefixes) are the ones the bench mirrors.
// Also answers XML-RPC changelog_since_serial (no changes) and changelog_last_serial, on 127.0.0.1.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface BigListing {
  /** `http://127.0.0.1:PORT/simple/`. */
  readonly url: string;
  /** Bytes of one listing response, uncompressed. */
  readonly sizeBytes: number;
  /** The listing body (for in-process parsing measurements). */
  readonly body: Buffer;
  readonly lastSerial: number;
  /** The globs that select exactly the `selected` projects. */
  readonly globs: readonly string[];
  /** Selected projects: normalised name → display name and serial. */
  readonly selected: ReadonlyMap<string, { displayName: string; serial: number }>;
  /** Requests answered and body bytes sent since start. */
  readonly stats: { requests: number; bytes: number };
  close(): Promise<void>;
}

const FIRST_SERIAL = 1_000_000;

/** Builds the listing: every `count / selected`-th project is `Sel_gNN.<i>` (NN < globs), the rest `pkg-…`. */
function buildListing(
  count: number,
  selectedCount: number,
  globCount: number,
): Pick<BigListing, 'body' | 'lastSerial' | 'globs' | 'selected'> {
  const selected = new Map<string, { displayName: string; serial: number }>();
  const stride = Math.max(1, Math.floor(count / selectedCount));
  const parts: string[] = [];
  let lastSerial = FIRST_SERIAL;
  for (let i = 0; i < count; i++) {
    const serial = FIRST_SERIAL + ((i * 7919) % count);
    if (serial > lastSerial) lastSerial = serial;
    let name: string;
    if (i % stride === 0 && selected.size < selectedCount) {
      const group = String(selected.size % globCount).padStart(2, '0');
      name = `Sel_g${group}.${i.toString(36)}`;
      selected.set(`sel-g${group}-${i.toString(36)}`, { displayName: name, serial });
    } else {
      name = `pkg-${i.toString(36)}-${(i % 13).toString(36)}x`;
    }
    parts.push(`{"name":"${name}","_last-serial":${serial}}`);
  }
  const json = `{"meta":{"api-version":"1.1","_last-serial":${lastSerial}},"projects":[${parts.join(',')}]}`;
  const globs = Array.from({ length: globCount }, (_, g) => `sel_g${String(g).padStart(2, '0')}.*`);
  return { body: Buffer.from(json), lastSerial, globs, selected };
}

export async function startBigListing(
  count: number,
  selectedCount: number,
  globCount: number,
  latencyMs: number,
): Promise<BigListing> {
  const listing = buildListing(count, selectedCount, globCount);
  const gzipped = gzipSync(listing.body);
  const stats = { requests: 0, bytes: 0 };
  const server: Server = createServer((req, res) => {
    stats.requests++;
    const reply = (): void => {
      if (req.method === 'GET' && req.url === '/simple/') {
        // Like PyPI: gzipped when the client accepts it.
        const isGzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
        const body = isGzip ? gzipped : listing.body;
        stats.bytes += body.length;
        res.writeHead(200, {
          'content-type': 'application/vnd.pypi.simple.v1+json',
          'content-length': String(body.length),
          'x-pypi-last-serial': String(listing.lastSerial),
          vary: 'Accept-Encoding',
          ...(isGzip ? { 'content-encoding': 'gzip' } : {}),
        });
        res.end(body);
        return;
      }
      if (req.method === 'POST' && req.url === '/pypi') {
        let call = '';
        req.on('data', (d: Buffer) => (call += d.toString()));
        req.on('end', () => {
          const value = call.includes('changelog_last_serial')
            ? `<int>${listing.lastSerial}</int>`
            : '<array><data></data></array>';
          const xml = `<?xml version='1.0'?><methodResponse><params><param><value>${value}</value></param></params></methodResponse>`;
          stats.bytes += xml.length;
          res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(xml.length) }).end(xml);
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    };
    if (latencyMs > 0) setTimeout(reply, latencyMs);
    else reply();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...listing,
    url: `${origin}/simple/`,
    sizeBytes: listing.body.length,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
