// nginx in front of a bucket, configured by samples/nginx-s3.conf itself: the sample's gateway, bucket and
// listen line replaced by the test's, nothing else changed.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CephRgw } from './ceph-rgw.js';
import { repoRoot } from './repo-root.js';
import { findExecutable, renderNginxMain, startServer, type WebServer } from './web-servers.js';

const SAMPLE_GATEWAY = 'rgw.example.org:7480';
const SAMPLE_BUCKET = 'pypi-mirror';

/** samples/nginx-s3.conf for `bucket` on `ceph`'s gateway, listening on 127.0.0.1:`port`. */
export function renderNginxS3Site(sample: string, ceph: CephRgw, bucket: string, port: number): string {
  const gateway = new URL(ceph.endpoint).host;
  const text = sample
    .replace(/^(\s*)listen\s+80;$/m, `$1listen 127.0.0.1:${port};`)
    .replaceAll(SAMPLE_GATEWAY, gateway)
    .replaceAll(`/${SAMPLE_BUCKET}/`, `/${bucket}/`);
  if (!text.includes(`listen 127.0.0.1:${port};`))
    throw new Error('samples/nginx-s3.conf: no "listen 80;" line');
  return text;
}

/** nginx serving `bucket` through samples/nginx-s3.conf (`root`: an empty directory); stop() it after the test. */
export async function startNginxForBucket(ceph: CephRgw, bucket: string, root: string): Promise<WebServer> {
  const nginx = findExecutable('nginx');
  if (nginx === undefined) throw new Error('nginx is not installed');
  const sample = await readFile(join(repoRoot, 'samples', 'nginx-s3.conf'), 'utf8');
  return startServer('nginx', { root, prefix: '/simple/' }, async (dir, port, user) => {
    const conf = join(dir, 'nginx.conf');
    await writeFile(join(dir, 'site.conf'), renderNginxS3Site(sample, ceph, bucket, port));
    await writeFile(conf, renderNginxMain(dir, user));
    return {
      command: nginx,
      args: ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'],
    };
  });
}
