// HTTPS in front of a plain test upstream, with a CA the test creates (the openssl CLI), and a CONNECT proxy
// that wants Proxy-Authorization: what the transport tests need to try ca_file, NODE_EXTRA_CA_CERTS,
// untrusted certificates and a proxy with credentials, all on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export interface TestCertificates {
  /** The test CA's certificate (PEM file): what ca_file or NODE_EXTRA_CA_CERTS name. */
  readonly caFile: string;
  /** For 127.0.0.1, signed by the CA. */
  readonly good: KeyPair;
  /** Signed by the CA, but for `localhost` only (not 127.0.0.1). */
  readonly wrongHost: KeyPair;
  /** For 127.0.0.1, signed by the CA, expired yesterday. */
  readonly expired: KeyPair;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and three server certificates in `dir` (EC P-256 keys, so this takes milliseconds). */
export function makeCertificates(dir: string): TestCertificates {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...key,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=pypimirror test CA',
    '-days',
    '2',
  ]);
  const issue = (name: string, san: string, days: number): KeyPair => {
    openssl(dir, ['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    const serial = String(Math.floor(Math.random() * 1e9));
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial,
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ]);
    return {
      key: readFileSync(join(dir, `${name}.key`), 'utf8'),
      cert: readFileSync(join(dir, `${name}.pem`), 'utf8'),
    };
  };
  return {
    caFile: join(dir, 'ca.pem'),
    good: issue('good', 'IP:127.0.0.1', 2),
    wrongHost: issue('wrong-host', 'DNS:localhost', 2),
    expired: issue('expired', 'IP:127.0.0.1', -1),
  };
}

export interface TlsFront {
  /** https://127.0.0.1:PORT */
  readonly origin: string;
  /** `${origin}/simple/` */
  readonly url: string;
  /** TCP connections accepted so far (a retried handshake shows as more than one). */
  connections(): number;
}

/** An HTTPS server on 127.0.0.1 that forwards every request to the plain-HTTP `target` origin. */
export async function startTlsFront(t: TestContext, target: string, pair: KeyPair): Promise<TlsFront> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createHttpsServer(pair, (req, res) => {
    const forward = httpRequest(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {}); // the refusals under test
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    server.close();
  });
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, url: `${origin}/simple/`, connections: () => connections };
}

export interface AuthProxy {
  /** `http://user:password@127.0.0.1:PORT` with the given credentials. */
  url(user: string, password: string): string;
  /** Every CONNECT, as `CONNECT host:port <status>`. */
  readonly seen: string[];
}

/** A CONNECT-only forward proxy that answers 407 unless Proxy-Authorization is Basic `user:password`. */
export async function startAuthProxy(t: TestContext, user: string, password: string): Promise<AuthProxy> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createHttpServer((_req, res) => {
    res.writeHead(405);
    res.end('CONNECT only');
  });
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (req.headers['proxy-authorization'] !== expected) {
      seen.push(`CONNECT ${req.url} 407`);
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n',
      );
      return;
    }
    seen.push(`CONNECT ${req.url} 200`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host ?? '', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: (u, p) => `http://${encodeURIComponent(u)}:${encodeURIComponent(p)}@127.0.0.1:${port}`,
    seen,
  };
}
