// One file of a project into the tree: where it goes (beside the page, or `<16 hex>/<filename>` when other
// bytes hold the name), the verified download (or a verified copy an interrupted run left there), then its
// PEP 658 `.metadata` (from the wheel itself when it has the page's digest, else fetched).
import { StoreError } from '../errors.js';
import { replacedFileRelPath } from '../model/layout.js';
import type { LocalFile } from '../model/record.js';
import { namingDigest } from '../plan/planner.js';
import { hashStored } from '../storage/hash.js';
import { joinKey, parentKey, projectKey } from '../storage/keys.js';
import type { Storage } from '../storage/types.js';
import type { UpstreamFile } from '../model/upstream.js';
import { describeError, type ProjectContext, sizeAt } from './project-context.js';
import { downloadWithRetries } from './retrying-download.js';
import { writeMetadataFromWheel } from './wheel-metadata.js';

/**
 * Where a download goes, relative to the project directory, or the verified file already there (resume:
 * a file renamed into place by an interrupted run was verified before the rename). Beside the page unless
 * the name's published bytes differ (`isReplacement`) or something else is in the way there: then to
 * `<16 hex>/<filename>`. A file in the way is never overwritten (a page may link it) and stays.
 */
async function chooseTarget(
  ctx: ProjectContext,
  project: string,
  up: UpstreamFile,
  isReplacement: boolean,
): Promise<{ rel: string; adopted: { sha256: string; size: number } | null }> {
  const digest = namingDigest(up);
  const moved = digest === null ? null : replacedFileRelPath(up.filename, digest);
  const candidates = isReplacement ? [moved] : [up.filename, moved];
  const sha = up.hashes['sha256'];
  const dir = projectKey(project);
  for (const rel of candidates) {
    if (rel === null) continue;
    const key = joinKey(dir, rel);
    const size = await sizeAt(ctx.storage, key);
    if (size === null) return { rel, adopted: null };
    if (sha !== undefined && (up.size === null || size === up.size)) {
      const there = await hashStored(ctx.storage, key, ctx.signal);
      if (there !== null && there.sha256 === sha) return { rel, adopted: there };
    }
    ctx.log.warn('a file with other bytes is in the way of a download; it stays', { project, path: rel });
  }
  throw new StoreError(
    'STORE_EXISTS',
    `${ctx.storage.describe(joinKey(dir, up.filename))}: no free path for the upstream's bytes (files with other bytes are there)`,
  );
}

/** The `<16 hex>/` directory of replaced files is a directory of ours when it exists, never a symlink or a file. */
async function checkHashDir(storage: Storage, dir: string): Promise<void> {
  const kind = await storage.entryAt(dir);
  if (kind !== null && kind !== 'dir') {
    throw new StoreError(
      'STORE_IO',
      `${storage.describe(dir)}: not a directory of ours (a symlink or a file); nothing written`,
    );
  }
}

/** Downloads one file (or adopts a verified copy already on disk), then its .metadata if offered. */
export async function fetchFile(
  ctx: ProjectContext,
  project: string,
  up: UpstreamFile,
  isReplacement: boolean,
): Promise<{ file: LocalFile; bytes: number }> {
  const { rel, adopted } = await chooseTarget(ctx, project, up, isReplacement);
  const target = joinKey(projectKey(project), rel);
  const base = {
    filename: up.filename,
    ...(rel === up.filename ? {} : { path: rel }),
    url: up.url,
    upstreamHashes: up.hashes,
    requiresPython: up.requiresPython,
    yanked: up.yanked,
    uploadTime: up.uploadTime,
  };
  if (adopted !== null) {
    ctx.log.debug('file adopted from disk', { project, file: rel });
    return {
      file: { ...base, ...adopted, metadataSha256: await fetchMetadata(ctx, project, target, up) },
      bytes: 0,
    };
  }
  if (rel !== up.filename) {
    await checkHashDir(ctx.storage, parentKey(target));
    await ctx.storage.sweep(parentKey(target));
  }
  const stored = await downloadWithRetries(ctx, project, up.url, target, {
    hashes: up.hashes,
    size: up.size,
  });
  if (stored.verifiedWith === null) {
    ctx.log.warn('upstream gave no digest to verify against; size checked only', {
      project,
      file: up.filename,
    });
  }
  ctx.log.info('file fetched', { project, file: rel, bytes: stored.size });
  ctx.onFileFetched(stored.size);
  const metadataSha256 = await fetchMetadata(ctx, project, target, up);
  return { file: { ...base, sha256: stored.sha256, size: stored.size, metadataSha256 }, bytes: stored.size };
}

/**
 * Writes <file>.metadata (PEP 658) when upstream offers it: from the wheel in the tree when its METADATA has the
 * page's digest (no request), else fetched. A failure is not fatal: the page then simply does not advertise
 * metadata, and the next run tries again.
 */
export async function fetchMetadata(
  ctx: ProjectContext,
  project: string,
  key: string,
  up: UpstreamFile,
): Promise<string | null> {
  if (up.coreMetadata === null) return null;
  const fromWheel = await writeMetadataFromWheel(
    ctx.storage,
    key,
    up.filename,
    up.coreMetadata,
    ctx.log,
    project,
  );
  if (fromWheel !== null) return fromWheel;
  const target = `${key}.metadata`;
  try {
    // A page advertises the .metadata only once its record has it, so a leftover may be replaced.
    const stored = await downloadWithRetries(ctx, project, `${up.url}.metadata`, target, {
      hashes: up.coreMetadata,
      size: null,
      mayReplace: true,
    });
    return stored.sha256;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    await ctx.storage.remove(target);
    ctx.log.warn('core metadata not mirrored', { project, file: up.filename, error: describeError(err) });
    return null;
  }
}
