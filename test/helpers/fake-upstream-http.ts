// HTTP plumbing for the fake upstream: reply shapes, conditional GETs, ranges, and sending a reply with
// its faults applied (through the body pump).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { BodySource } from './body-source.js';
import { bufferBody } from './body-source.js';
import type { ActiveFaults } from './fake-upstream-faults.js';
import { pumpBody } from './fake-upstream-faults.js';
import type { FakeFile } from './fake-upstream-model.js';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: BodySource;
  /** [start, end) for 206. */
  readonly range?: readonly [number, number];
  readonly bytesPerSec?: number;
}

export const NO_FAULTS: ActiveFaults = {
  shaping: undefined,
  headerDelayMs: 0,
  bodyDelayMs: 0,
  bytesPerSec: undefined,
};

/** Writes the reply; the body goes through the pump, which applies body faults. Returns when done. */
export async function sendReply(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  faults: ActiveFaults,
  signal: AbortSignal,
  onBytes: (count: number) => void,
): Promise<void> {
  const [start, end] = reply.range ?? [0, reply.body?.size ?? 0];
  const headers = { ...reply.headers };
  if (reply.status !== 304) headers['Content-Length'] = String(end - start);
  res.writeHead(reply.status, headers);
  if (reply.body === undefined || req.method === 'HEAD') {
    res.end();
    return;
  }
  const rates = [faults.bytesPerSec, reply.bytesPerSec].filter((r): r is number => r !== undefined);
  const bytesPerSec = rates.length > 0 ? Math.min(...rates) : undefined;
  await pumpBody(res, { body: reply.body, start, end, faults: { ...faults, bytesPerSec }, signal, onBytes });
}

/** A file or its `.metadata`, at `/files/<project>/<filename>` or `/packages/ab/cd/<rest>/<filename>`. */
export function fileReply(
  req: IncomingMessage,
  path: string,
  filesByName: ReadonlyMap<string, FakeFile>,
  options: { readonly redirectFiles?: boolean; readonly ranges?: boolean },
): Reply {
  const segments = path.split('/').map((s) => safeDecode(s));
  const last = segments.at(-1) ?? '';
  const isMetadata = last.endsWith('.metadata') && !filesByName.has(last);
  const filename = isMetadata ? last.slice(0, -'.metadata'.length) : last;
  const file = filesByName.get(filename);
  if (file === undefined || (isMetadata && file.metadata === undefined)) return text(404, 'Not Found');
  const suffix = isMetadata ? '.metadata' : '';
  if (segments.length === 4 && segments[1] === 'files' && segments[2] === file.project) {
    if (options.redirectFiles === true) return redirect(302, packagesPathOf(file) + suffix);
  } else if (segments.join('/') !== packagesPathOf(file) + suffix) {
    return text(404, 'Not Found');
  }
  const etag = `"${isMetadata ? file.metadataSha256 : file.sha256}"`;
  const headers: Record<string, string> = {
    'Content-Type': isMetadata ? 'text/plain; charset=utf-8' : 'application/octet-stream',
    ETag: etag,
    'Last-Modified': new Date(file.uploadTime).toUTCString(),
  };
  if (isNotModified(req.headers, etag, Date.parse(file.uploadTime))) return { status: 304, headers };
  const body = isMetadata && file.metadata !== undefined ? bufferBody(file.metadata) : file.body;
  const throttle = file.throttleBytesPerSec === undefined ? {} : { bytesPerSec: file.throttleBytesPerSec };
  if (options.ranges === false || isMetadata) return { status: 200, headers, body, ...throttle };
  headers['Accept-Ranges'] = 'bytes';
  const range = parseRange(req.headers.range, body.size);
  if (range === 'unsatisfiable') {
    const reply = text(416, 'Range Not Satisfiable');
    return { ...reply, headers: { ...reply.headers, 'Content-Range': `bytes */${body.size}` } };
  }
  if (range === undefined) return { status: 200, headers, body, ...throttle };
  headers['Content-Range'] = `bytes ${range[0]}-${range[1] - 1}/${body.size}`;
  return { status: 206, headers, body, range, ...throttle };
}

export function text(status: number, message: string): Reply {
  const body = bufferBody(Buffer.from(message + '\n'));
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body };
}

export function redirect(status: 301 | 302, location: string): Reply {
  const reply = text(status, `Redirecting to ${location}`);
  return { ...reply, headers: { ...reply.headers, Location: location } };
}

export function failReply(status: number, retryAfter: number | string | undefined): Reply {
  const reply = text(status, `fault: ${status}`);
  return retryAfter === undefined
    ? reply
    : { ...reply, headers: { ...reply.headers, 'Retry-After': `${retryAfter}` } };
}

export function packagesPathOf(file: FakeFile): string {
  const h = file.sha256;
  return `/packages/${h.slice(0, 2)}/${h.slice(2, 4)}/${h.slice(4)}/${file.filename}`;
}

export function encodedPackagesPath(file: FakeFile): string {
  const h = file.sha256;
  return `/packages/${h.slice(0, 2)}/${h.slice(2, 4)}/${h.slice(4)}/${encodeURIComponent(file.filename)}`;
}

export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** If-None-Match (weak comparison, `*`) wins over If-Modified-Since (RFC 9110 §13.2.2). */
export function isNotModified(headers: IncomingHttpHeaders, etag: string, modifiedMs: number): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    const tags = inm.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(etag);
  }
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(modifiedMs / 1000) * 1000 <= since;
}

/** One `bytes=` range → [start, end), 'unsatisfiable', or undefined (absent/unsupported: send 200). */
export function parseRange(
  header: string | undefined,
  size: number,
): readonly [number, number] | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Math.min(Number(last), size);
    return suffix === 0 ? 'unsatisfiable' : [size - suffix, size];
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(Number(last) + 1, size);
  if (start >= size || end <= start) return 'unsatisfiable';
  return [start, end];
}

export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
