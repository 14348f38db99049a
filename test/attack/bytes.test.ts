// Issue #10, finding 3: "Pages link wrong bytes, and `verify` says all is well." An upstream serves new
// bytes and hashes under file names already mirrored. Each test runs the built CLI against the hostile
// upstream and checks, with its own reading of the tree (not the code under test), that every published
// page's sha256 matches the bytes it links, after every run and after every kill.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  ATTACK_RSS_LIMIT_MIB,
  runCliMeasured,
  writeAttackConfig,
  type MeasuredRun,
} from '../helpers/attack.js';
import { buildWheel } from '../helpers/dist-builder.js';
import {
  dist,
  listingRoute,
  projectRoutes,
  sha256Of,
  startHostileUpstream,
  type FakeDist,
  type HostileUpstream,
  type Reply,
  type Route,
  type Scenario,
} from '../helpers/hostile-upstream.js';
import { describePipResult, pipInstall, requirePip } from '../helpers/pip.js';
import { CLI } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tree.js';

const HELD = 'upstream serves other bytes under a mirrored file name; the mirrored file is kept';
const REPLACED = 'upstream serves other bytes under a mirrored file name; it is replaced';

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch {
    return null;
  }
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * The oracle: every link of every project page (HTML and JSON) names a file that is on disk with the
 * page's sha256, and the root page links only projects with pages. Returns what disagrees.
 */
async function pageDisagreements(root: string): Promise<string[]> {
  const wrong: string[] = [];
  const check = async (dir: string, page: string, href: string, sha: string | undefined): Promise<void> => {
    const bytes = await readOrNull(join(dir, ...href.split('/').map(decodeURIComponent)));
    if (bytes === null) wrong.push(`${page} links ${href}: missing`);
    else if (sha256(bytes) !== sha)
      wrong.push(`${page} links ${href}#sha256=${sha}: the file has ${sha256(bytes)}`);
  };
  const projects = new Set<string>();
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    const html = await readOrNull(join(dir, 'index.html'));
    if (html === null) continue;
    projects.add(entry.name);
    for (const m of html.toString().matchAll(/<a [^>]*href="([^"]*)"/g)) {
      const [href, fragment] = unescapeHtml(m[1] ?? '').split('#');
      await check(
        dir,
        `${entry.name}/index.html`,
        href ?? '',
        /^sha256=([0-9a-f]{64})$/.exec(fragment ?? '')?.[1],
      );
    }
    const json = await readOrNull(join(dir, 'index.v1_json'));
    if (json === null) continue;
    const page = JSON.parse(json.toString()) as { files: { url: string; hashes: { sha256?: string } }[] };
    for (const f of page.files) await check(dir, `${entry.name}/index.v1_json`, f.url, f.hashes.sha256);
  }
  const rootHtml = await readOrNull(join(root, 'index.html'));
  for (const m of rootHtml?.toString().matchAll(/<a href="([^"]*)\/"/g) ?? []) {
    if (!projects.has(m[1] ?? '')) wrong.push(`index.html links ${m[1]}/, which has no page`);
  }
  return wrong;
}

async function assertPagesAgree(root: string, when: string): Promise<void> {
  assert.deepEqual(await pageDisagreements(root), [], `${when}: a page disagrees with the bytes it links`);
}

/** A generation of a project's files: same names, bytes that differ from every other generation. */
function generation(filenames: readonly string[], gen: number, size = 0): FakeDist[] {
  return filenames.map((name) => dist(name, `generation ${gen} of ${name}\n${'x'.repeat(size)}`));
}

function scenario(
  projects: Readonly<Record<string, readonly FakeDist[]>>,
  extra: Record<string, Route> = {},
): Scenario {
  const routes: Record<string, Route> = { ...listingRoute(Object.keys(projects)) };
  for (const [name, files] of Object.entries(projects)) Object.assign(routes, projectRoutes(name, files));
  return { name: 'bytes', routes: { ...routes, ...extra } };
}

/** `files` plus one more file whose page hash never matches what is served: it fails on every run. */
function withFailingFile(
  project: string,
  files: readonly FakeDist[],
  failing: FakeDist,
): Record<string, Route> {
  return projectRoutes(project, [...files, failing], {
    sha256: (f) => (f.filename === failing.filename ? 'f'.repeat(64) : sha256Of(f.bytes)),
  });
}

interface Mirror {
  readonly up: HostileUpstream;
  readonly root: string;
  readonly config: string;
  run(
    args?: readonly string[],
    opts?: { signalAfterMs?: number; signal?: NodeJS.Signals },
  ): Promise<MeasuredRun>;
}

async function startMirror(
  t: TestContext,
  first: Scenario,
  values: Record<string, string> = {},
): Promise<Mirror> {
  const up = await startHostileUpstream(first);
  t.after(() => up.close());
  const dir = await makeTempDir(t);
  const root = join(dir, 'mirror');
  const config = await writeAttackConfig(dir, {
    mirror_file_path: root,
    index_url: up.url,
    timeout: '5s',
    ...values,
  });
  return {
    up,
    root,
    config,
    async run(args = ['sync'], opts = {}) {
      const run = await runCliMeasured(t, [...args, config], { timeoutMs: 60_000, ...opts });
      assert.equal(run.timedOut, false, `${args.join(' ')} did not end on its own:\n${run.output}`);
      assert.ok(run.peakRssMiB < ATTACK_RSS_LIMIT_MIB, `peak RSS ${run.peakRssMiB} MiB`);
      return run;
    },
  };
}

/** Lines of `output` that carry `message` and name `file` of `project`. */
function warningsFor(output: string, message: string, project: string, file: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.includes(message) && l.includes(` project=${project} `) && l.includes(` file=${file} `));
}

test('new bytes under mirrored names while another file keeps failing: pages agree with their bytes after every run; one warning per changed file', async (t) => {
  const names = ['demo-1.0.tar.gz', 'demo-1.0-py3-none-any.whl', 'demo-1.1.tar.gz'];
  const old = generation(names, 0);
  const fresh = generation(names, 1);
  const m = await startMirror(t, scenario({ demo: old }));
  assert.equal((await m.run()).code, 0);
  await assertPagesAgree(m.root, 'first sync');

  const failing = dist('demo-2.0.tar.gz');
  m.up.setScenario({
    name: 'changed',
    routes: { ...listingRoute(['demo']), ...withFailingFile('demo', fresh, failing) },
  });
  let cases = 0;
  for (let run = 1; run <= 3; run++) {
    const sync = await m.run();
    assert.equal(sync.code, 1, `the failing file fails the project:\n${sync.output}`);
    await assertPagesAgree(m.root, `run ${run}`);
    for (const [i, name] of names.entries()) {
      const lines = warningsFor(sync.output, HELD, 'demo', name);
      assert.equal(lines.length, 1, `run ${run}: one warning for ${name}:\n${sync.output}`);
      assert.ok(lines[0]?.includes(sha256Of(old[i]?.bytes as Buffer)), 'names the mirrored sha256');
      assert.ok(lines[0]?.includes(sha256Of(fresh[i]?.bytes as Buffer)), "names the upstream's new sha256");
      assert.ok(lines[0]?.includes('allow_replaced_files'), 'names the key that would allow it');
      assert.deepEqual(await readFile(join(m.root, 'demo', name)), old[i]?.bytes, 'the mirrored bytes stay');
      cases++;
    }
    const verify = await m.run(['verify']);
    assert.equal(verify.code, 0, verify.output);
  }
  // Once the failing file is gone upstream, the project syncs, and the changes are still held and told.
  m.up.setScenario(scenario({ demo: fresh }));
  const sync = await m.run();
  assert.equal(sync.code, 0, sync.output);
  await assertPagesAgree(m.root, 'after the failing file went');
  for (const name of names) assert.equal(warningsFor(sync.output, HELD, 'demo', name).length, 1);
  t.diagnostic(`cases: ${cases + names.length}`);
});

test('300 files with new bytes under their names: 300 warnings, one per file, and nothing is replaced', async (t) => {
  const projects = Array.from({ length: 100 }, (_, i) => `proj${i}`);
  const names = (p: string): string[] => [`${p}-1.0.tar.gz`, `${p}-1.0-py3-none-any.whl`, `${p}-2.0.tar.gz`];
  const at = (gen: number): Record<string, FakeDist[]> =>
    Object.fromEntries(projects.map((p) => [p, generation(names(p), gen)]));
  const m = await startMirror(t, scenario(at(0)), { workers: '16' });
  assert.equal((await m.run()).code, 0);
  m.up.setScenario(scenario(at(1)));
  const sync = await m.run();
  assert.equal(sync.code, 0, sync.output);
  // One warning per file, not one summary: each names its own project, file and both hashes, so each can
  // be looked into (and grepped) on its own; PyPI never does this, so 300 lines mean a broken upstream.
  const lines = sync.output.split('\n').filter((l) => l.includes(HELD));
  assert.equal(lines.length, 300);
  let cases = 0;
  for (const p of projects) {
    for (const [i, name] of names(p).entries()) {
      assert.equal(warningsFor(sync.output, HELD, p, name).length, 1, `${p}/${name}`);
      assert.equal(
        (await readFile(join(m.root, p, name))).toString(),
        generation(names(p), 0)[i]?.bytes.toString(),
      );
      cases++;
    }
  }
  await assertPagesAgree(m.root, 'after 300 held changes');
  t.diagnostic(`cases: ${cases}`);
});

test('allow_replaced_files = true: the files are replaced, pages agree after every run, pip installs the new bytes', async (t) => {
  const wheel = (gen: number): FakeDist =>
    buildWheel({ name: 'demo-pkg', version: '1.0', files: { 'demo_pkg/gen.py': `GEN = ${gen}\n` } });
  const sdist = (gen: number): FakeDist => dist('demo_pkg-1.0.tar.gz', `sdist generation ${gen}\n`);
  const m = await startMirror(t, scenario({ 'demo-pkg': [wheel(0), sdist(0)] }), {
    allow_replaced_files: 'true',
  });
  assert.equal((await m.run()).code, 0);
  await assertPagesAgree(m.root, 'first sync');

  // While another file keeps failing, the replaced bytes wait at their new path; the page keeps the old.
  const failing = dist('demo_pkg-2.0.tar.gz');
  const routes = withFailingFile('demo-pkg', [wheel(1), sdist(1)], failing);
  m.up.setScenario({ name: 'changed', routes: { ...listingRoute(['demo-pkg']), ...routes } });
  const failed = await m.run();
  assert.equal(failed.code, 1, failed.output);
  await assertPagesAgree(m.root, 'a replacement run that failed');

  m.up.setScenario(scenario({ 'demo-pkg': [wheel(1), sdist(1)] }));
  const sync = await m.run();
  assert.equal(sync.code, 0, sync.output);
  await assertPagesAgree(m.root, 'the replacement run');
  assert.equal(warningsFor(sync.output, REPLACED, 'demo-pkg', wheel(1).filename).length, 1, sync.output);
  const page = await readFile(join(m.root, 'demo-pkg', 'index.html'), 'utf8');
  const newSha = sha256Of(wheel(1).bytes);
  assert.ok(page.includes(`${newSha.slice(0, 16)}/${wheel(1).filename}#sha256=${newSha}`), page);
  assert.equal(await readOrNull(join(m.root, 'demo-pkg', wheel(0).filename)), null, 'the old bytes are gone');
  // A run with nothing new leaves it so; the next generation replaces the replacement.
  assert.equal((await m.run()).code, 0);
  await assertPagesAgree(m.root, 'a quiet run');
  m.up.setScenario(scenario({ 'demo-pkg': [wheel(2), sdist(2)] }));
  assert.equal((await m.run()).code, 0);
  await assertPagesAgree(m.root, 'a second replacement');
  const entries = await readdir(join(m.root, 'demo-pkg'));
  assert.equal(
    entries.filter((e) => /^[0-9a-f]{16}$/.test(e)).length,
    2,
    `one directory per replaced file: ${entries}`,
  );

  if (requirePip(t)) {
    const target = join(m.root, '..', 'target');
    const result = await pipInstall({ indexUrl: `file://${m.root}/`, target, packages: ['demo-pkg==1.0'] });
    assert.equal(result.code, 0, describePipResult(result));
    assert.equal(await readFile(join(target, 'demo_pkg', 'gen.py'), 'utf8'), 'GEN = 2\n');
  }
  t.diagnostic('cases: 6');
});

/** mulberry32: a small seeded generator, so the kill instants are the same on every run of the test. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** `s` with a call to `onFile` whenever the upstream is asked for a file. */
function notifyingFiles(s: Scenario, onFile: () => void): Scenario {
  const routes: Record<string, Route> = {};
  for (const [path, route] of Object.entries(s.routes)) {
    routes[path] = path.startsWith('/files/')
      ? () => {
          onFile();
          return route as Reply;
        }
      : route;
  }
  return { name: s.name, routes };
}

/**
 * Runs `sync` and SIGKILLs it `delayMs` after the upstream was asked for its `nth` file of the run: the
 * instants fall inside the download-and-publish part of the run, whatever the machine's speed.
 */
async function syncKilledAfterFile(
  t: TestContext,
  m: Mirror,
  s: Scenario,
  nth: number,
  delayMs: number,
): Promise<void> {
  const child = spawn(process.execPath, ['--single-threaded-gc', CLI, 'sync', m.config], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  let asked = 0;
  m.up.setScenario(
    notifyingFiles(s, () => {
      if (++asked === nth) setTimeout(() => child.kill('SIGKILL'), delayMs);
    }),
  );
  const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await once(child, 'close');
  clearTimeout(bound);
}

test('SIGKILL at seeded random instants of replacement runs: every published page agrees with its bytes after each kill', async (t) => {
  const KILLS = 10;
  const FILES = 12;
  const names = Array.from({ length: FILES }, (_, i) => `demo-1.${i}.tar.gz`);
  const at = (gen: number): Scenario => scenario({ demo: generation(names, gen, 64 * 1024) });
  const m = await startMirror(t, at(0), { allow_replaced_files: 'true', workers: '2' });
  assert.equal((await m.run()).code, 0);
  const random = seeded(10);
  const instants: string[] = [];
  for (let kill = 0; kill < KILLS; kill++) {
    // Each run brings new bytes for every file: every run is a replacement run, cut short somewhere.
    const nth = 1 + Math.floor(random() * FILES);
    const delayMs = Math.floor(random() * 40);
    instants.push(`file ${nth} + ${delayMs} ms`);
    await syncKilledAfterFile(t, m, at(1 + kill), nth, delayMs);
    await assertPagesAgree(m.root, `kill ${kill + 1} (${instants.at(-1)})`);
  }
  m.up.setScenario(at(KILLS + 1));
  const last = await m.run();
  assert.equal(last.code, 0, last.output);
  await assertPagesAgree(m.root, 'the run after the kills');
  const html = await readFile(join(m.root, 'demo', 'index.html'), 'utf8');
  for (const f of generation(names, KILLS + 1, 64 * 1024))
    assert.ok(html.includes(sha256Of(f.bytes)), f.filename);
  const verify = await m.run(['verify']);
  assert.equal(verify.code, 0, verify.output);
  t.diagnostic(`kill instants: ${instants.join(', ')}`);
  t.diagnostic(`cases: ${KILLS}`);
});

test('verify finds a page, a record and a file that disagree (planted by hand); --repair heals it', async (t) => {
  const files = generation(['demo-1.0.tar.gz', 'demo-1.1.tar.gz'], 0);
  const m = await startMirror(t, scenario({ demo: files }));
  assert.equal((await m.run()).code, 0);
  const clean = await m.run(['verify']);
  assert.equal(clean.code, 0, clean.output);

  // demo-1.0.tar.gz: the record says one sha256, the HTML page another, the file has a third.
  const recordPath = join(m.root, '.pypimirror', 'projects', 'demo.json');
  const record = JSON.parse(await readFile(recordPath, 'utf8')) as {
    files: { filename: string; sha256: string }[];
  };
  const real = sha256Of(files[0]?.bytes as Buffer);
  for (const f of record.files) if (f.filename === 'demo-1.0.tar.gz') f.sha256 = 'a'.repeat(64);
  await writeFile(recordPath, JSON.stringify(record));
  const pagePath = join(m.root, 'demo', 'index.html');
  await writeFile(pagePath, (await readFile(pagePath, 'utf8')).replace(real, 'b'.repeat(64)));
  await writeFile(join(m.root, 'demo', 'demo-1.0.tar.gz'), 'a third thing\n');
  // demo-1.1.tar.gz: record and file agree, only the JSON page says otherwise.
  const jsonPath = join(m.root, 'demo', 'index.v1_json');
  const other = sha256Of(files[1]?.bytes as Buffer);
  await writeFile(jsonPath, (await readFile(jsonPath, 'utf8')).replace(other, 'c'.repeat(64)));
  // The root page links a project that has no page.
  const rootPath = join(m.root, 'index.html');
  await writeFile(
    rootPath,
    (await readFile(rootPath, 'utf8')).replace('</body>', '<a href="ghost/">ghost</a><br />\n</body>'),
  );
  assert.equal((await pageDisagreements(m.root)).length, 4, 'the plant: four disagreements');

  const found = await m.run(['verify']);
  assert.equal(found.code, 1, found.output);
  const problems = found.output.split('\n').filter((l) => /verify: (page|sha256|size|missing)/.test(l));
  const expect = [
    /verify: size project=demo file=demo-1\.0\.tar\.gz /, // the record check
    /verify: page project=demo file=demo-1\.0\.tar\.gz .*index\.html: links demo-1\.0\.tar\.gz#sha256=b{64}; the file's sha256 is /,
    /verify: page project=demo file=demo-1\.0\.tar\.gz .*index\.v1_json: links demo-1\.0\.tar\.gz#sha256=[0-9a-f]{64}; the file's sha256 is /,
    /verify: page project=demo file=demo-1\.1\.tar\.gz .*index\.v1_json: links demo-1\.1\.tar\.gz#sha256=c{64}/,
    /verify: page project=ghost file=index\.html .*root index\.html links ghost, which has no page/,
  ];
  for (const re of expect)
    assert.ok(
      problems.some((l) => re.test(l)),
      `${re}:\n${problems.join('\n')}`,
    );
  assert.equal(problems.length, expect.length, problems.join('\n'));

  const repair = await m.run(['verify', '--repair']);
  assert.equal(repair.code, 0, repair.output);
  await assertPagesAgree(m.root, 'after verify --repair');
  assert.deepEqual(await readFile(join(m.root, 'demo', 'demo-1.0.tar.gz')), files[0]?.bytes);
  const again = await m.run(['verify']);
  assert.equal(again.code, 0, again.output);
  t.diagnostic(`cases: ${expect.length}`);
});
