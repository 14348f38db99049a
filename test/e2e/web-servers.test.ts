// samples/nginx.conf and samples/apache.conf, run by real servers over a mirror tree built by hand in the
// layout of README.md ("Layout"), checked against docs/protocol.md §6 items 1-4, 13, 14 and 20, plus
// the rules of the layout (hidden state and temp files are never served), at `/` and under `/simple/`.
// pip then installs from each server and from file://, as in §6 item 24, also a file replaced under its
// name (allow_replaced_files), which lives in `<project>/<16 hex of its sha256>/<filename>`.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildSdist, buildWheel, sha256Hex } from '../helpers/dist-builder.js';
import type { BuiltDist } from '../helpers/dist-builder.js';
import { describePipResult, installedDists, pipInstall, requirePip } from '../helpers/pip.js';
import { requireTool, startApache, startNginx } from '../helpers/web-servers.js';
import type { MountPrefix, StartServerOptions, WebServer } from '../helpers/web-servers.js';

const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';
const PIP_ACCEPT = `${JSON_TYPE}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01`;
const UV_ACCEPT = `${JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01`;
const LATEST_JSON = 'application/vnd.pypi.simple.latest+json';
const REQUEST_TIMEOUT_MS = 5_000;

const PROJECT = 'demo-pkg';
const HTML_ONLY = 'html-only';
/** A project directory whose first file has arrived but whose page has not been written yet. */
const INCOMPLETE = 'incomplete';
const wheel = buildWheel({ name: PROJECT, version: '1.0', requiresPython: '>=3.7' });
const sdist = buildSdist({ name: PROJECT, version: '1.0', requiresPython: '>=3.7' });
const metadata = Buffer.from(wheel.metadata);
/** A project whose wheel was replaced under its name: the new bytes live in a per-hash directory. */
const REPLACED = 'replaced-pkg';
const replacedWheel = buildWheel({
  name: REPLACED,
  version: '1.0',
  files: { 'replaced_pkg/gen.py': 'GEN = 2\n' },
});
const REPLACED_DIR = sha256Hex(replacedWheel.bytes).slice(0, 16);
const REPLACED_FILE = `${REPLACED}/${REPLACED_DIR}/${replacedWheel.filename}`;
const HIDDEN = [
  '.pypimirror',
  '.pypimirror/',
  '.pypimirror/state.json',
  `${PROJECT}/.${wheel.filename}.k3j4x9.tmp`,
  '.index.html.q8w2e1.tmp',
];

/** Every file of the tree by its path under the root. */
const tree = new Map<string, Buffer>();
let root = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pypimirror-served-'));
  const files: Record<string, string | Buffer> = {
    'index.html': renderRootHtml([PROJECT, HTML_ONLY, REPLACED]),
    'index.v1_json': renderRootJson([PROJECT, HTML_ONLY, REPLACED]),
    [`${PROJECT}/index.html`]: renderProjectHtml(PROJECT, [wheel, sdist]),
    [`${PROJECT}/index.v1_json`]: renderProjectJson(PROJECT, [wheel, sdist]),
    [`${PROJECT}/${wheel.filename}`]: wheel.bytes,
    [`${PROJECT}/${wheel.filename}.metadata`]: metadata,
    [`${PROJECT}/${sdist.filename}`]: sdist.bytes,
    [`${PROJECT}/.${wheel.filename}.k3j4x9.tmp`]: wheel.bytes.subarray(0, 100),
    [`${HTML_ONLY}/index.html`]: renderProjectHtml(HTML_ONLY, []),
    [`${REPLACED}/index.html`]: renderProjectHtml(REPLACED, [replacedWheel], REPLACED_DIR),
    [`${REPLACED}/index.v1_json`]: renderProjectJson(REPLACED, [replacedWheel], REPLACED_DIR),
    [REPLACED_FILE]: replacedWheel.bytes,
    [`${REPLACED_FILE}.metadata`]: Buffer.from(replacedWheel.metadata),
    [`${INCOMPLETE}/incomplete-1.0.tar.gz`]: sdist.bytes,
    '.pypimirror/state.json': '{"serial": 42, "secret": "state-must-not-leak"}\n',
    '.index.html.q8w2e1.tmp': '<!DOCTYPE html><title>half written</title>\n',
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
    tree.set(path, Buffer.from(content));
  }
});

after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true });
});

const SERVERS = [
  { name: 'nginx', tool: 'nginx', start: startNginx },
  { name: 'Apache', tool: 'apache2', start: startApache },
] as const;

for (const server of SERVERS) {
  for (const prefix of ['/', '/simple/'] as const) {
    test(`${server.name} serves the mirror tree at ${prefix}`, async (t) => {
      if (!requireTool(t, server.tool)) return;
      const options: StartServerOptions = { root, prefix };
      const web = await server.start(options);
      t.after(() => web.stop());
      await checkServer(t, web, prefix);
    });
  }
}

test('pip installs from file://<root>/ (no server)', async (t) => {
  if (!requirePip(t)) return;
  await checkPipInstall(pathToFileURL(root).href + '/');
});

async function checkServer(t: TestContext, web: WebServer, prefix: MountPrefix): Promise<void> {
  const url = (path: string): string => web.url + path;
  const check = async (name: string, fn: () => Promise<void>): Promise<void> => {
    await t.test(name, async () => {
      try {
        await fn();
      } catch (error) {
        const log = (await web.readErrorLog()).trimEnd().split('\n');
        t.diagnostic(`${web.kind} error log, last lines:`);
        for (const line of log.slice(-20)) t.diagnostic(line);
        throw error;
      }
    });
  };

  assert.equal(web.url, `${web.origin}${prefix}`);

  await check('no Accept header: root and project pages are HTML (§6.1)', async () => {
    for (const path of ['', `${PROJECT}/`]) {
      const res = await get(url(path));
      assert.equal(res.status, 200, path);
      assert.equal(mediaType(res), 'text/html', path);
      assert.deepEqual(res.body, file(`${path}index.html`), path);
      assertPageHeaders(res, path);
    }
  });

  await check('Accept: text/html gets HTML (§6.13)', async () => {
    const res = await get(url(`${PROJECT}/`), { accept: 'text/html' });
    assert.equal(res.status, 200);
    assert.equal(mediaType(res), 'text/html');
    assert.deepEqual(res.body, file(`${PROJECT}/index.html`));
  });

  await check("pip's and uv's Accept get the PEP 691 JSON page (§6.13)", async () => {
    for (const accept of [PIP_ACCEPT, UV_ACCEPT]) {
      for (const path of ['', `${PROJECT}/`]) {
        const res = await get(url(path), { accept });
        assert.equal(res.status, 200, `${path} with ${accept}`);
        assert.equal(mediaType(res), JSON_TYPE, `${path} with ${accept}`);
        assert.deepEqual(res.body, file(`${path}index.v1_json`));
        const page: unknown = JSON.parse(res.body.toString('utf8'));
        assert.ok(typeof page === 'object' && page !== null && !Array.isArray(page));
        assertPageHeaders(res, path);
      }
    }
  });

  await check('pages are compressed when asked, with Vary: Accept-Encoding', async () => {
    for (const [path, accept] of [
      [`${PROJECT}/`, 'text/html'],
      [`${PROJECT}/`, PIP_ACCEPT],
    ] as const) {
      const res = await get(url(path), { accept, 'accept-encoding': 'gzip' });
      assert.equal(res.status, 200, `${path} with ${accept}`);
      assert.equal(header(res, 'content-encoding'), 'gzip', `${path} with ${accept}`);
      const expected = file(`${path}${accept === PIP_ACCEPT ? 'index.v1_json' : 'index.html'}`);
      assert.deepEqual(gunzipSync(res.body), expected);
      assert.match(header(res, 'vary'), /accept-encoding/i);
      assertPageHeaders(res, path);
    }
  });

  await check('a page revalidated with its ETag or Last-Modified answers 304, gzipped or not', async () => {
    for (const encoding of ['gzip', 'identity']) {
      for (const accept of ['text/html', PIP_ACCEPT]) {
        const asked = { accept, 'accept-encoding': encoding };
        const first = await get(url(`${PROJECT}/`), asked);
        const etag = header(first, 'etag');
        const modified = header(first, 'last-modified');
        assert.notEqual(etag, '', `an ETag (${encoding}, ${accept})`);
        const byEtag = await get(url(`${PROJECT}/`), { ...asked, 'if-none-match': etag });
        assert.equal(byEtag.status, 304, `If-None-Match: ${etag} (${encoding}, ${accept})`);
        const byDate = await get(url(`${PROJECT}/`), { ...asked, 'if-modified-since': modified });
        assert.equal(byDate.status, 304, `If-Modified-Since: ${modified} (${encoding}, ${accept})`);
      }
    }
  });

  await check('Accept: ...latest+json gets application/vnd.pypi.simple.v1+json (§6.14)', async () => {
    const res = await get(url(`${PROJECT}/`), { accept: LATEST_JSON });
    assert.equal(res.status, 200);
    assert.equal(mediaType(res), JSON_TYPE);
    assert.deepEqual(res.body, file(`${PROJECT}/index.v1_json`));
  });

  await check('a project without index.v1_json falls back to HTML for JSON clients', async () => {
    const res = await get(url(`${HTML_ONLY}/`), { accept: PIP_ACCEPT });
    assert.equal(res.status, 200);
    assert.equal(mediaType(res), 'text/html');
    assert.deepEqual(res.body, file(`${HTML_ONLY}/index.html`));
  });

  await check('/<project> without the slash redirects to /<project>/ (§6.2)', async () => {
    for (const accept of [undefined, PIP_ACCEPT]) {
      const res = await get(url(PROJECT), accept === undefined ? {} : { accept });
      assert.ok(res.status === 301 || res.status === 308, `status ${res.status}`);
      const location = header(res, 'location');
      assert.notEqual(location, '');
      assert.equal(new URL(location, url(PROJECT)).href, url(`${PROJECT}/`), `Location: ${location}`);
      // samples/nginx.conf promises a relative Location (absolute_redirect off); Apache's is absolute.
      if (web.kind === 'nginx') assert.ok(location.startsWith('/'), `Location: ${location}`);
    }
  });

  await check('an unknown project, or a directory without index.html, is 404, not 403 (§6.4)', async () => {
    for (const path of ['nope/', 'nope', `${INCOMPLETE}/`, INCOMPLETE]) {
      for (const accept of [undefined, PIP_ACCEPT]) {
        // Without the slash, a redirect to the slash form (which then answers 404) is fine too.
        const res = await getFollowingRedirects(url(path), accept === undefined ? {} : { accept });
        assert.equal(res.status, 404, `${path} with Accept ${accept ?? '(none)'}`);
      }
    }
  });

  await check('state, lock and temp files (dot names) are 404, never 403 or 200', async () => {
    for (const path of HIDDEN) {
      const res = await get(url(path));
      assert.equal(res.status, 404, path);
      assert.ok(!res.body.toString('latin1').includes('state-must-not-leak'), path);
    }
  });

  await check(
    'files: exact bytes, no Content-Encoding even when gzip is accepted, long cache (§6.20)',
    async () => {
      const paths = [wheel.filename, `${wheel.filename}.metadata`, sdist.filename].map(
        (f) => `${PROJECT}/${f}`,
      );
      for (const path of [...paths, REPLACED_FILE, `${REPLACED_FILE}.metadata`]) {
        const res = await get(url(path), { 'accept-encoding': 'gzip, deflate, br' });
        assert.equal(res.status, 200, path);
        assert.equal(mediaType(res), 'application/octet-stream', path);
        assert.equal(header(res, 'content-encoding'), '', path);
        assert.equal(header(res, 'content-length'), String(file(path).length), path);
        assert.deepEqual(res.body, file(path), path);
        assert.match(header(res, 'cache-control'), /\bimmutable\b/, path);
        assert.equal(header(res, 'accept-ranges'), 'bytes', path);
      }
    },
  );

  await check('a wheel answers Range: bytes=0-9 with 206 and no Content-Encoding (§6.20)', async () => {
    const path = `${PROJECT}/${wheel.filename}`;
    const res = await get(url(path), { range: 'bytes=0-9', 'accept-encoding': 'gzip' });
    assert.equal(res.status, 206);
    assert.equal(header(res, 'content-range'), `bytes 0-9/${wheel.bytes.length}`);
    assert.equal(header(res, 'content-encoding'), '');
    assert.deepEqual(res.body, wheel.bytes.subarray(0, 10));
  });

  await check(
    'a replaced file is served from its <16 hex>/ directory; the directory itself is 404',
    async () => {
      for (const accept of [undefined, PIP_ACCEPT]) {
        const res = await get(url(`${REPLACED}/`), accept === undefined ? {} : { accept });
        assert.equal(res.status, 200);
        assert.ok(res.body.toString('utf8').includes(`${REPLACED_DIR}/${replacedWheel.filename}`));
      }
      for (const path of [`${REPLACED}/${REPLACED_DIR}/`, `${REPLACED}/${REPLACED_DIR}`]) {
        assert.equal((await getFollowingRedirects(url(path), {})).status, 404, path);
      }
    },
  );

  await t.test('pip installs demo-pkg and the replaced replaced-pkg through it (§6.24)', async (st) => {
    if (!requirePip(st)) return;
    await checkPipInstall(web.url);
  });
}

function assertPageHeaders(res: Response, path: string): void {
  const vary = header(res, 'vary')
    .split(',')
    .map((v) => v.trim().toLowerCase());
  assert.ok(vary.includes('accept'), `${path}: Vary: ${header(res, 'vary')}`);
  const cacheControl = header(res, 'cache-control');
  assert.match(cacheControl, /\bmax-age=\d+\b/, `${path}: Cache-Control: ${cacheControl}`);
  assert.doesNotMatch(cacheControl, /\bimmutable\b/, `${path}: Cache-Control: ${cacheControl}`);
}

async function checkPipInstall(indexUrl: string): Promise<void> {
  const target = await mkdtemp(join(tmpdir(), 'pypimirror-pip-'));
  try {
    const result = await pipInstall({
      indexUrl,
      target,
      packages: [`${PROJECT}==1.0`, `${REPLACED}==1.0`],
      extraArgs: ['--no-deps', '--only-binary=:all:'],
    });
    assert.equal(result.code, 0, describePipResult(result));
    assert.deepEqual(await installedDists(target), { [PROJECT]: '1.0', [REPLACED]: '1.0' });
    const init = await readFile(join(target, 'demo_pkg', '__init__.py'), 'utf8');
    assert.match(init, /__version__ = "1\.0"/);
    assert.equal(await readFile(join(target, 'replaced_pkg', 'gen.py'), 'utf8'), 'GEN = 2\n');
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A GET with exactly these headers (node:http adds no Accept or Accept-Encoding of its own). */
function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET, following up to three redirects to the same origin. */
async function getFollowingRedirects(url: string, headers: Record<string, string>): Promise<Response> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const res = await get(current, headers);
    const location = header(res, 'location');
    if (res.status < 300 || res.status >= 400 || location === '' || hops === 3) return res;
    const next = new URL(location, current);
    assert.equal(next.origin, new URL(url).origin, `${current} redirects off-site: ${location}`);
    current = next.href;
  }
}

function header(res: Response, name: string): string {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function mediaType(res: Response): string {
  return (header(res, 'content-type').split(';')[0] ?? '').trim().toLowerCase();
}

function file(path: string): Buffer {
  const content = tree.get(path);
  assert.ok(content !== undefined, `no ${path} in the tree`);
  return content;
}

// Pages in the shape README.md "Layout" and docs/protocol.md §1-2 describe: relative links "<filename>#sha256=...".

const META = '<meta name="pypi:repository-version" content="1.1">';

function renderRootHtml(projects: readonly string[]): string {
  const links = projects.map((p) => `<a href="${p}/">${p}</a><br/>`).join('\n');
  return `<!DOCTYPE html>\n<html><head>${META}<title>Simple index</title></head>\n<body>\n${links}\n</body></html>\n`;
}

function renderRootJson(projects: readonly string[]): string {
  return (
    JSON.stringify({ meta: { 'api-version': '1.1' }, projects: projects.map((name) => ({ name })) }) + '\n'
  );
}

/** `dir`: the files live in `<project>/<dir>/` (a replaced file's per-hash directory). */
function renderProjectHtml(project: string, files: readonly BuiltDist[], dir?: string): string {
  const links = files.map((f) => {
    const attrs = [`href="${hrefOf(f, dir)}#sha256=${sha256Hex(f.bytes)}"`];
    if (f.requiresPython !== undefined)
      attrs.push(`data-requires-python="${f.requiresPython.replace(/>/g, '&gt;')}"`);
    if (f.metadata !== undefined) {
      const hash = `sha256=${sha256Hex(f.metadata)}`;
      attrs.push(`data-core-metadata="${hash}"`, `data-dist-info-metadata="${hash}"`);
    }
    return `<a ${attrs.join(' ')}>${f.filename}</a><br/>`;
  });
  return (
    `<!DOCTYPE html>\n<html><head>${META}<title>Links for ${project}</title></head>\n` +
    `<body>\n<h1>Links for ${project}</h1>\n${links.join('\n')}\n</body></html>\n`
  );
}

function hrefOf(f: BuiltDist, dir: string | undefined): string {
  return dir === undefined ? f.filename : `${dir}/${f.filename}`;
}

function renderProjectJson(project: string, files: readonly BuiltDist[], dir?: string): string {
  return (
    JSON.stringify({
      meta: { 'api-version': '1.1' },
      name: project,
      versions: [...new Set(files.map((f) => f.version))],
      files: files.map((f) => ({
        filename: f.filename,
        url: hrefOf(f, dir),
        hashes: { sha256: sha256Hex(f.bytes) },
        'requires-python': f.requiresPython ?? null,
        ...(f.metadata === undefined ? {} : { 'core-metadata': { sha256: sha256Hex(f.metadata) } }),
        size: f.bytes.length,
      })),
    }) + '\n'
  );
}
