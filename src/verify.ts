// `pypimirror verify [--repair]`: re-hash every mirrored file against its record, and check every
// published page against the bytes on disk: each link of each project page (HTML and JSON) must name a
// file that is there with the page's sha256, and the root page must link only projects that have pages;
// with find_links_dir, the flat directory must hold exactly the tree's files (mirror/find-links-check.ts).
// With --repair, files that are missing or wrong leave their records and the disk and every page is
// rewritten from the records, all through the publisher (mirror/republish.ts), and a sync fetches the files
// again.
import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import { INDEX_HTML, INDEX_JSON, localRelPath } from './model/layout.js';
import {
  readHtmlLinks,
  readJsonLinks,
  readRootHtmlProjects,
  readRootJsonProjects,
  type PublishedLink,
} from './mirror/published.js';
import type { ProjectRecord } from './model/record.js';
import { listRecords, readRecord, readState } from './mirror/state.js';
import { repairFindLinks, verifyFindLinks } from './mirror/find-links-check.js';
import { foreignOfRoot } from './mirror/ownership.js';
import { createPublisher, type ProjectPublication } from './mirror/publish.js';
import { republishFromRecords } from './mirror/republish.js';
import { isNormalizedName, normalizeName } from './model/names.js';
import { hashLocalFile, hashStored } from './storage/hash.js';
import { fileKey, joinKey, projectKey } from './storage/keys.js';
import type { Storage } from './storage/types.js';

export interface VerifyProblem {
  readonly project: string;
  /** The file (as the record names it, or the path a page links), or the page itself. */
  readonly file: string;
  /**
   * missing/size/sha256: a recorded file; page: a published page disagrees with the bytes on disk;
   * find_links: the flat directory (find_links_dir) disagrees with the tree.
   */
  readonly problem: 'missing' | 'size' | 'sha256' | 'page' | 'find_links';
  readonly detail: string;
}

type Digest = { sha256: string; size: number } | null;

/**
 * Hashes each key once per verify, whether a record or a page asks. Where the storage keeps a file's sha256
 * beside it (an S3 object's metadata) that is taken, downloading nothing, unless `isDeep` (`verify --deep`).
 */
function createHasher(
  storage: Storage,
  signal: AbortSignal,
  isDeep: boolean,
): (key: string) => Promise<Digest> {
  const seen = new Map<string, Promise<Digest>>();
  const digestOf = async (key: string): Promise<Digest> => {
    const kept = isDeep ? null : await storage.stat(key);
    if (kept?.sha256 != null) return { sha256: kept.sha256, size: kept.size };
    return hashStored(storage, key, signal);
  };
  return (key) => {
    let digest = seen.get(key);
    if (digest === undefined) {
      digest = digestOf(key);
      seen.set(key, digest);
    }
    return digest;
  };
}

/** Re-hashes every file of every record and checks every published page; returns the problems found. */
export async function verifyTree(
  cfg: Config,
  storage: Storage,
  log: Logger,
  signal: AbortSignal,
  opts: { readonly isDeep?: boolean } = {},
): Promise<VerifyProblem[]> {
  const hash = createHasher(storage, signal, opts.isDeep === true);
  const problems: VerifyProblem[] = [];
  /** `<project>/<path>` → the sha256 its record names, where the record check already found it wrong. */
  const badRecorded = new Map<string, string>();
  let files = 0;
  for (const name of await listRecords(storage)) {
    const record = await readRecord(storage, name);
    if (record === null) continue;
    for (const file of record.files) {
      signal.throwIfAborted();
      files++;
      if (file.heldUpstreamHashes !== undefined) {
        // Not a problem (page and bytes agree), but every held change is told here too.
        log.warn('verify: upstream serves other bytes under this name; the mirrored file is kept', {
          project: name,
          file: file.filename,
          sha256: file.sha256,
          upstreamHashes: file.heldUpstreamHashes,
        });
      }
      const found = await verifyRecordedFile(storage, name, file, hash);
      for (const p of found)
        if (p.file === file.filename) badRecorded.set(`${name}/${localRelPath(file)}`, file.sha256);
      problems.push(...found);
    }
  }
  const foreign = new Set(await foreignOfRoot(cfg, storage)); // adopted with the root: not ours to judge
  const pages = await verifyPages(storage, hash, signal, badRecorded, foreign);
  problems.push(...pages.problems);
  const hashLocal = (path: string): Promise<Digest> => hashLocalFile(path, signal);
  for (const p of await verifyFindLinks(cfg, storage, hashLocal, signal))
    problems.push({ ...p, problem: 'find_links' });
  for (const p of problems) log.error(`verify: ${p.problem}`, { ...p });
  log.info('verify finished', { files, pages: pages.checked, problems: problems.length });
  return problems;
}

async function verifyRecordedFile(
  storage: Storage,
  name: string,
  file: ProjectRecord['files'][number],
  hash: (key: string) => Promise<Digest>,
): Promise<VerifyProblem[]> {
  let path: string;
  try {
    path = fileKey(name, file);
  } catch (err) {
    return [{ project: name, file: file.filename, problem: 'missing', detail: (err as Error).message }];
  }
  const checks: [string, string, number | null][] = [[path, file.sha256, file.size]];
  if (file.metadataSha256 !== null) checks.push([`${path}.metadata`, file.metadataSha256, null]);
  const problems: VerifyProblem[] = [];
  for (const [p, sha256, size] of checks) {
    const shown = p === path ? file.filename : `${file.filename}.metadata`;
    const got = await hash(p);
    if (got === null)
      problems.push({ project: name, file: shown, problem: 'missing', detail: storage.describe(p) });
    else if (size !== null && got.size !== size) {
      problems.push({
        project: name,
        file: shown,
        problem: 'size',
        detail: `${got.size} bytes, expected ${size}`,
      });
    } else if (got.sha256 !== sha256) {
      problems.push({
        project: name,
        file: shown,
        problem: 'sha256',
        detail: `${got.sha256}, expected ${sha256}`,
      });
    }
  }
  return problems;
}

async function readText(storage: Storage, key: string): Promise<string | null> {
  return (await storage.get(key))?.toString('utf8') ?? null;
}

/** Project directories (visible, normalised names, not symlinks) of the root, less the adopted foreign ones. */
async function listProjectDirs(storage: Storage, foreign: ReadonlySet<string>): Promise<string[]> {
  return (await storage.list('')).dirs.filter((name) => isNormalizedName(name) && !foreign.has(name));
}

/**
 * Every link of every project page against the bytes it names, then the root page's links against the
 * project pages. A link whose file the record check found wrong, with the record's hash, is not reported
 * twice.
 */
async function verifyPages(
  storage: Storage,
  hash: (key: string) => Promise<Digest>,
  signal: AbortSignal,
  badRecorded: ReadonlyMap<string, string>,
  foreign: ReadonlySet<string>,
): Promise<{ problems: VerifyProblem[]; checked: number }> {
  const problems: VerifyProblem[] = [];
  const withPages = new Set<string>();
  let checked = 0;
  for (const name of await listProjectDirs(storage, foreign)) {
    const dir = projectKey(name);
    for (const [page, read] of [
      [INDEX_HTML, readHtmlLinks],
      [INDEX_JSON, readJsonLinks],
    ] as const) {
      signal.throwIfAborted();
      const text = await readText(storage, joinKey(dir, page));
      if (text === null) continue;
      if (page === INDEX_HTML) withPages.add(name);
      checked++;
      const problem = (file: string, detail: string): void => {
        problems.push({ project: name, file, problem: 'page', detail: `${page}: ${detail}` });
      };
      let links: PublishedLink[];
      try {
        links = read(text);
      } catch (err) {
        problem(page, `not a page we write: ${(err as Error).message}`);
        continue;
      }
      for (const link of links) {
        if (link.rel === null) {
          problem(link.href, `links ${JSON.stringify(link.href)}, which is not a file of this project`);
          continue;
        }
        if (link.sha256 === null) {
          problem(link.rel, `links ${link.rel} without a sha256`);
          continue;
        }
        if (badRecorded.get(`${name}/${link.rel}`) === link.sha256) continue; // reported by the record check
        const got = await hash(joinKey(dir, link.rel));
        if (got === null) problem(link.rel, `links ${link.rel}#sha256=${link.sha256}; the file is missing`);
        else if (got.sha256 !== link.sha256) {
          problem(link.rel, `links ${link.rel}#sha256=${link.sha256}; the file's sha256 is ${got.sha256}`);
        }
      }
    }
  }
  for (const [page, read] of [
    [INDEX_HTML, readRootHtmlProjects],
    [INDEX_JSON, readRootJsonProjects],
  ] as const) {
    const text = await readText(storage, page);
    if (text === null) continue;
    checked++;
    let linked: string[];
    try {
      linked = read(text);
    } catch (err) {
      problems.push({
        project: '',
        file: page,
        problem: 'page',
        detail: `root ${page}: not a page we write: ${(err as Error).message}`,
      });
      continue;
    }
    for (const project of linked) {
      if (withPages.has(normalizeName(project))) continue;
      problems.push({
        project: normalizeName(project),
        file: page,
        problem: 'page',
        detail: `root ${page} links ${project}, which has no page`,
      });
    }
  }
  return { problems, checked };
}

/** Per project, the files with a problem: 'file' when the file itself is, 'metadata' when only its `.metadata` is. */
function badFilesByProject(
  problems: readonly VerifyProblem[],
): Map<string, Map<string, 'file' | 'metadata'>> {
  const byProject = new Map<string, Map<string, 'file' | 'metadata'>>();
  for (const p of problems) {
    if (p.problem === 'page' || p.problem === 'find_links') continue;
    const isMetadata = p.file.endsWith('.metadata');
    const file = isMetadata ? p.file.slice(0, -'.metadata'.length) : p.file;
    const bad = byProject.get(p.project) ?? new Map<string, 'file' | 'metadata'>();
    if (!isMetadata || !bad.has(file)) bad.set(file, isMetadata ? 'metadata' : 'file');
    byProject.set(p.project, bad);
  }
  return byProject;
}

/**
 * `verify --repair`: makes the next sync fetch the problem files again, through the publisher and in its
 * order. A project with wrong files gets pages and a record without them, and its wrong bytes leave the tree
 * in between (a file with its `.metadata`, or the `.metadata` alone when only it is wrong), so the new copy
 * lands on a free path; every other page is rewritten from its record; then the root page, the flat
 * directory (find_links_dir), and state, where those projects lose their serials. Returns them.
 */
export async function repairTree(
  cfg: Config,
  storage: Storage,
  problems: readonly VerifyProblem[],
  log: Logger,
): Promise<string[]> {
  const changed = new Map<string, ProjectPublication>();
  for (const [name, bad] of badFilesByProject(problems)) {
    const record = await readRecord(storage, name);
    if (record === null) continue;
    changed.set(name, {
      record: {
        ...record,
        etag: null,
        lastModified: null,
        files: record.files.filter((f) => !bad.has(f.filename)),
      },
      forgotten: record.files
        .filter((f) => bad.has(f.filename))
        .map((f) => (bad.get(f.filename) === 'metadata' ? { ...f, isMetadataOnly: true } : f)),
    });
  }
  const state = await readState(storage);
  const projects = { ...state.projects };
  for (const name of changed.keys()) {
    const entry = projects[name];
    if (entry !== undefined) projects[name] = { ...entry, serial: null };
  }
  const publisher = createPublisher(storage, { createIndexes: cfg.createIndexes, baseUrl: cfg.baseUrl, log });
  const flat = problems.filter((p) => p.problem === 'find_links');
  await republishFromRecords(storage, publisher, log, new Set(await foreignOfRoot(cfg, storage)), {
    changed,
    beforeState: () => repairFindLinks(cfg, storage, flat),
    ...(changed.size === 0 ? {} : { state: () => ({ ...state, projects }) }),
  });
  return [...changed.keys()];
}
