// A throwaway single-node Ceph cluster (one monitor, one memstore OSD, one RADOS Gateway) for tests that
// need a real S3 server. Everything lives in a fresh temp directory: config, monitor and OSD data, sockets,
// logs. The daemons run in the foreground as our children, the monitor on a free loopback port (msgr2), the
// gateway's beast frontend on another; nothing is written to /etc/ceph or /var/lib/ceph.
//
// Start a cluster once per test file (`startCephRgw`, about 3 s) and give each test its own bucket
// (`createBucket`). stop() ends the gateway, then the OSD, then the monitor, one at a time: stopped all at
// once the OSD can hang on. The settings below are the ones that make a single node start in seconds:
// short Paxos intervals, pools of size 1 with few placement groups, auth off but secure monitor connections
// (radosgw insists on them).
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { findExecutable, findFreePort, skipOrFail } from './web-servers.js';

/** The Debian packages that provide the daemons (`.ci/run` installs them). */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw'] as const;
const TOOLS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'] as const;

export interface CephRgw {
  /** `http://127.0.0.1:<port>`: the gateway's S3 endpoint. */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The cluster's directory (config, data, logs). */
  readonly dir: string;
  /** An SDK client for the test's own checks, set as the gateway needs (path style, checksums when required). */
  client(): S3Client;
  /** A new bucket with a unique name (prefix-<random>). */
  createBucket(prefix?: string): Promise<string>;
  /** The last lines of each daemon's log, for assertion messages. */
  logs(): Promise<string>;
  /** Stops rgw, then the OSD, then the monitor (bounded), and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

function missingTools(): string[] {
  return TOOLS.filter((name) => findExecutable(name) === undefined);
}

/** Whether every tool the cluster needs is installed. */
export function cephInstalled(): boolean {
  return missingTools().length === 0;
}

/** Whether the daemons are installed; skips the test locally (fails it under CI) when not. */
export function requireCeph(t: TestContext): boolean {
  const missing = missingTools();
  if (missing.length === 0) return true;
  skipOrFail(t, `${missing.join(', ')} not installed (apt-get install ${CEPH_PACKAGES.join(' ')})`);
  return false;
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
paxos propose interval = 0.05
paxos min wait = 0.01
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
keyring = /dev/null
osd objectstore = memstore
memstore device bytes = 1073741824
osd data = ${dir}/osd/$cluster-$id
mon data = ${dir}/mon/$cluster-$id
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

/** Runs a ceph tool to completion (bounded), returning its stdout; throws with its output on failure. */
function runTool(command: string, args: readonly string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: START_TIMEOUT_MS });
  if (r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status ?? r.signal}`;
    throw new Error(`${command} ${args.join(' ')}: ${why}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** Resolves with the status of a GET to the gateway's root, or null when nothing answers yet. */
function probe(endpoint: string): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), delay(STOP_TIMEOUT_MS).then(() => false)]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Starts the cluster; throws (after stopping what started) when the gateway does not answer in time. */
export async function startCephRgw(): Promise<CephRgw> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (err) {
      // Another process may take a port between our probe and the daemon's bind: try new ports.
      if (attempt >= PORT_ATTEMPTS || !/port|bind|address in use/i.test(String(err))) throw err;
    }
  }
}

async function startOnce(): Promise<CephRgw> {
  const dir = await mkdtemp(join(tmpdir(), 'pypimirror-ceph-'));
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    // rgw, then OSD, then monitor: reverse start order.
    for (const child of children.splice(0).reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const monPort = await findFreePort();
    let rgwPort = await findFreePort();
    while (rgwPort === monPort) rgwPort = await findFreePort();
    const fsid = randomUUID();
    for (const sub of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw'])
      await mkdir(join(dir, sub), { recursive: true });
    const conf = join(dir, 'ceph.conf');
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));
    const daemon = (command: string, args: readonly string[]): void => {
      const child = spawn(command, ['-f', '-c', conf, ...args], { stdio: 'ignore' });
      child.on('error', () => {}); // an exec failure shows as the gateway never answering
      children.push(child);
    };
    runTool('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v2:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      join(dir, 'monmap'),
    ]);
    runTool('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    daemon('ceph-mon', ['-i', 'a']);
    const osdId = runTool('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'create']).trim();
    if (osdId !== '0') throw new Error(`ceph osd create: expected id 0, got ${JSON.stringify(osdId)}`);
    runTool('ceph-osd', ['-c', conf, '-i', '0', '--mkfs']);
    daemon('ceph-osd', ['-i', '0']);
    daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await probe(endpoint)) !== 200) {
      const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (dead !== undefined)
        throw new Error(`${String(dead.spawnfile)} exited while starting (port or bind?)`);
      if (Date.now() > deadline)
        throw new Error(`the gateway did not answer on ${endpoint} in ${START_TIMEOUT_MS} ms`);
      await delay(50);
    }
    const accessKeyId = `AK${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(20).toString('hex');
    runTool('radosgw-admin', [
      '-c',
      conf,
      '-n',
      'client.admin',
      'user',
      'create',
      '--uid=pypimirror-test',
      '--display-name=pypimirror tests',
      `--access-key=${accessKeyId}`,
      `--secret=${secretAccessKey}`,
    ]);
    const region = 'us-east-1';
    const client = (): S3Client =>
      new S3Client({
        endpoint,
        region,
        credentials: { accessKeyId, secretAccessKey },
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    const admin = client();
    return {
      endpoint,
      region,
      accessKeyId,
      secretAccessKey,
      dir,
      client,
      async createBucket(prefix = 'test') {
        const name = `${prefix}-${randomBytes(6).toString('hex')}`;
        await admin.send(new CreateBucketCommand({ Bucket: name }));
        return name;
      },
      async logs() {
        const parts: string[] = [];
        for (const name of ['mon.a', 'osd.0', 'client.rgw']) {
          const text = await readFile(join(dir, 'log', `${name}.log`), 'utf8').catch(() => '');
          parts.push(`--- ${name}\n${text.split('\n').slice(-20).join('\n')}`);
        }
        return parts.join('\n');
      },
      async stop() {
        admin.destroy();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
