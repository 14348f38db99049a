// Builds the undici dispatcher: keep-alive pools (connections per origin = 2 × workers), timeouts, proxies
// from the environment (EnvHttpProxyAgent, fed from the env object we are given, never process.env), the CAs
// trusted (util/ca.ts) and redirects.
// It makes no decisions about statuses or retries (send.ts does).
import { readFileSync } from 'node:fs';
import { TextDecoder } from 'node:util';
import type { Dispatcher } from 'undici';
import api from 'undici/lib/api/index.js';
import DispatcherBase from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import createRedirectInterceptor from 'undici/lib/interceptor/redirect.js';
import { redactUrl } from '../errors.js';
import type { Logger } from '../log.js';
import type { Env } from '../util/env.js';
import { trustedCertificates } from '../util/ca.js';
import { compileAhead } from '../util/wasm-tier.js';
import llhttpSimd from './llhttp-simd.cjs';

// undici's pieces by path, not its index (which also loads fetch, WebSocket, the caches and the mock agents,
// none of which pypimirror uses): first what the index does before anything else, making request, connect
// (a proxy's CONNECT tunnel) and the rest methods of every dispatcher.
Object.assign(DispatcherBase.prototype, api);

const MAX_REDIRECTIONS = 5;
const PROJECT_URL = 'https://github.com/pypimirror/pypimirror';

/** Keep-alive connections per origin for each worker (see `connections` below). */
const CONNECTIONS_PER_WORKER = 2;
export interface HttpOptions {
  /** Connect, headers and body (between chunks) timeout. */
  readonly timeoutMs: number;
  /** Parallel connections per origin. */
  readonly workers: number;
  readonly log: Logger;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and lower-case forms; lower-case wins, as in curl and undici). */
  readonly env: Env;
  /** Default: userAgent(packageVersion()). */
  readonly userAgent?: string;
  /** Idle keep-alive socket lifetime; undici's 4 s by default, tests pass ~10 ms. */
  readonly keepAliveTimeoutMs?: number;
  /**
   * `ca_file`: a PEM file of CA certificates trusted besides Node's roots and NODE_EXTRA_CA_CERTS (checked by
   * the config loader; read here again, so throws CaFileError if it went bad since).
   */
  readonly caFile?: string | null;
}

export interface Http {
  /** Send requests with `request(url, { dispatcher, ... })`; redirects (max 5) are followed. */
  readonly dispatcher: Dispatcher;
  readonly userAgent: string;
  /** Closes every pool (in-flight requests finish first). */
  close(): Promise<void>;
}

/**
 * Starts compiling undici's HTTP parser (util/wasm-tier.ts), the one it will pick: the SIMD build unless
 * UNDICI_NO_WASM_SIMD=1 or on ppc64, where undici (7) takes the plain one and this leaves it to undici.
 */
export function compileHttpParserAhead(env: Env): void {
  if (env['UNDICI_NO_WASM_SIMD'] === '1' || process.arch === 'ppc64') return;
  const bytes = llhttpSimd.load();
  if (bytes instanceof Uint8Array) compileAhead(bytes);
}

let version: string | null = null;

/** This package's version, read from package.json once (`0.0.0` if it cannot be read). */
function packageVersion(): string {
  if (version === null) {
    try {
      // The compiled file, dist/src/upstream/http.js, is three levels below the package root.
      const pkg: unknown = JSON.parse(
        readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
      );
      const v = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
      version = typeof v === 'string' ? v : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}

/** `pypimirror/<version> (+https://github.com/pypimirror/pypimirror) node/<version>`. */
export function userAgent(pkgVersion: string = packageVersion()): string {
  return `pypimirror/${pkgVersion} (+${PROJECT_URL}) node/${process.versions.node}`;
}

function pick(env: Env, name: string): string {
  return env[name.toLowerCase()] ?? env[name] ?? '';
}

/** The proxy settings taken from `env`; empty strings mean "none" (and stop undici reading process.env). */
function proxySettings(env: Env): { httpProxy: string; httpsProxy: string; noProxy: string } {
  // Like undici, an https request uses HTTP_PROXY when HTTPS_PROXY is unset.
  return {
    httpProxy: pick(env, 'HTTP_PROXY'),
    httpsProxy: pick(env, 'HTTPS_PROXY'),
    noProxy: pick(env, 'NO_PROXY'),
  };
}

export function createHttp(opts: HttpOptions): Http {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) {
    throw new TypeError(`Expected workers to be an integer ≥ 1, got ${opts.workers}`);
  }
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) {
    throw new TypeError(`Expected timeoutMs to be a number > 0, got ${opts.timeoutMs}`);
  }
  const proxies = proxySettings(opts.env);
  const ca = trustedCertificates(opts.caFile ?? null, opts.env, (path, problem) =>
    opts.log.warn('NODE_EXTRA_CA_CERTS not used', { file: path, problem }),
  );
  const tls = { timeout: opts.timeoutMs, ...(ca === null ? {} : { ca }) };
  const agent = new EnvHttpProxyAgent({
    ...proxies,
    // Requests in flight are bounded by the sync's pool (util/pool.ts) at `workers`. undici reuses a
    // connection only one event-loop cycle after its response ends (setImmediate, against servers that close
    // a connection they said they would keep), and a request sent meanwhile waits for it when every other
    // connection is busy: on a busy event loop, milliseconds per request. A spare connection per worker
    // takes it at once (a first sync of 2 000 new projects at 20 ms per request, 8 workers: 6.6-6.9 → 6.9-7.1
    // requests in flight, 12.3-12.9 → 11.9-12.3 s, 6 pairs).
    connections: opts.workers * CONNECTIONS_PER_WORKER,
    connect: tls,
    // Through a proxy the tunnel replaces `connect`; these carry the timeout and the CAs to the proxy and the
    // TLS inside it.
    proxyTls: tls,
    requestTls: tls,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    ...(opts.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: opts.keepAliveTimeoutMs }),
  });
  // The redirect handler drops Authorization, Cookie and Proxy-Authorization when the origin changes.
  const dispatcher = agent.compose(createRedirectInterceptor({ maxRedirections: MAX_REDIRECTIONS }));
  opts.log.debug('http client ready', {
    workers: opts.workers,
    timeoutMs: opts.timeoutMs,
    httpProxy: proxies.httpProxy === '' ? null : redactUrl(proxies.httpProxy),
    httpsProxy: proxies.httpsProxy === '' ? null : redactUrl(proxies.httpsProxy),
    noProxy: proxies.noProxy === '' ? null : proxies.noProxy,
    caFile: opts.caFile ?? null,
  });
  return {
    dispatcher,
    userAgent: opts.userAgent ?? userAgent(),
    close: () => agent.close(),
  };
}

// Response helpers shared by the Simple API and XML-RPC code.
export type Response = Dispatcher.ResponseData;

export function header(res: Response, name: string): string | null {
  const v = res.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/**
 * Last-Modified when it can serve for If-Modified-Since, else null. It has one-second resolution, so a
 * page changed again within the second it was served would look unmodified: it is used only when the
 * response's Date is at least one second later (RFC 9110 §8.8.2.2, a "strong" Last-Modified). Python's
 * http.server, for one, has no ETag and stamps Last-Modified from the file's mtime in whole seconds.
 */
export function strongLastModified(res: Response): string | null {
  const value = header(res, 'last-modified');
  if (value === null) return null;
  const modified = Date.parse(value);
  const date = Date.parse(header(res, 'date') ?? '');
  if (Number.isNaN(modified) || Number.isNaN(date)) return null;
  return date - modified >= 1000 ? value : null;
}

/** Content-Length as a number, or null when absent or not a plain decimal. */
export function contentLength(res: Response): number | null {
  const v = header(res, 'content-length')?.trim() ?? '';
  return /^\d{1,15}$/.test(v) ? Number(v) : null;
}

export function readSerial(res: Response): number | null {
  const v = header(res, 'x-pypi-last-serial')?.trim() ?? '';
  return /^\d{1,15}$/.test(v) ? Number(v) : null;
}

/** The URL that answered, after redirects (relative links resolve against it). */
export function finalUrl(res: Response, url: URL): URL {
  const history = (res.context as { history?: unknown } | undefined)?.history;
  const last: unknown = Array.isArray(history) ? history.at(-1) : undefined;
  return last instanceof URL ? last : url;
}

export function decoderFor(contentType: string | null): TextDecoder {
  const charset = /;\s*charset="?([^";\s]+)/i.exec(contentType ?? '')?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset);
  } catch {
    return new TextDecoder('utf-8');
  }
}

/** Splits `user:pass@` off a URL into a Basic Authorization value. */
export function splitCredentials(input: URL): { url: URL; auth: string | null } {
  const url = new URL(input.href);
  if (url.username === '' && url.password === '') return { url, auth: null };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url, auth: `Basic ${Buffer.from(pair).toString('base64')}` };
}
