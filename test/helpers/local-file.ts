// A record's entry for a mirrored file (mirror/record.ts LocalFile), for tests that build records by hand.
import type { LocalFile } from '../../src/model/record.js';

/** `filename` with `sha256` (also its upstream digest), 10 bytes, no metadata; `over` changes any field. */
export function localFile(filename: string, sha256: string, over: Partial<LocalFile> = {}): LocalFile {
  return {
    filename,
    sha256,
    size: 10,
    url: `https://files.example/${filename}`,
    upstreamHashes: { sha256 },
    requiresPython: null,
    yanked: null,
    uploadTime: null,
    metadataSha256: null,
    ...over,
  };
}
