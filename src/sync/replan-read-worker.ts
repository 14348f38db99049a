// The re-plan's reading thread (started by replan-reads.ts): for each project of a batch, the text of its
// record and the names of the regular files in its directory, read from the local tree with blocking calls,
// which block this thread only. One message per batch, not four thread-pool round trips per record and
// one per listing on the event loop's side.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { projectKey, recordKey } from '../storage/keys.js';

/** From the event loop: the projects of one batch, under the tree's root. */
export interface ReplanReadRequest {
  readonly batch: number;
  readonly root: string;
  readonly names: readonly string[];
}

/** What was read of one project; `error` set when something could not be read (the caller reads it again). */
export interface ReplanRead {
  readonly name: string;
  /** The record's text, or null when it has none. */
  readonly record: string | null;
  /** The regular files in its directory (none when it has no directory). */
  readonly files: readonly string[];
  readonly error?: string;
}

export interface ReplanReadReply {
  readonly batch: number;
  readonly reads: readonly ReplanRead[];
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

/** The project `name` under `root` (see ReplanRead). */
function readProject(root: string, name: string): ReplanRead {
  const at = (key: string): string => join(root, ...key.split('/'));
  let record: string | null = null;
  let files: string[] = [];
  try {
    record = readFileSync(at(recordKey(name)), 'utf8');
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') return { name, record: null, files, error: String(err) };
  }
  try {
    files = readdirSync(at(projectKey(name)), { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') return { name, record: null, files, error: String(err) };
  }
  return { name, record, files };
}

const port = parentPort;
if (port === null) throw new Error('replan-read-worker.ts runs as a worker thread (see replan-reads.ts)');
port.on('message', (request: ReplanReadRequest) => {
  const reply: ReplanReadReply = {
    batch: request.batch,
    reads: request.names.map((name) => readProject(request.root, name)),
  };
  port.postMessage(reply);
});
