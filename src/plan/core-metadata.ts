// Core metadata (issue #11, part 3): the RFC 822-style header block of a wheel's METADATA, a PEP 658
// `.metadata` file or an sdist's PKG-INFO, reduced to what the dependency closure needs. Pure: callers
// hand in the decoded text.
import { fileKind } from './filetypes.js';
import { parseRequirement, RequirementSyntaxError, type Requirement } from './requirements.js';

export interface CoreMetadata {
  readonly metadataVersion: string | null;
  readonly name: string | null;
  readonly version: string | null;
  /** Every Requires-Dist value as written. */
  readonly requiresDist: readonly string[];
  readonly requiresPython: string | null;
  /** Provides-Extra values as written. */
  readonly providesExtra: readonly string[];
  /** Dynamic field names, lower-cased (`requires-dist`). */
  readonly dynamic: readonly string[];
}

/**
 * Reads the header block: `Field: value` lines, continuation lines starting with whitespace, up to the
 * first empty line (the description body after it is ignored). Field names are case-insensitive;
 * multi-use fields keep every value in order.
 */
export function parseCoreMetadata(text: string): CoreMetadata {
  const fields = new Map<string, string[]>();
  let last: { key: string; index: number } | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') break;
    if (/^[ \t]/.test(line)) {
      if (last !== null) {
        const values = fields.get(last.key) as string[];
        values[last.index] = `${values[last.index] as string} ${line.trim()}`;
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const values = fields.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    fields.set(key, values);
    last = { key, index: values.length - 1 };
  }
  const one = (key: string): string | null => fields.get(key)?.[0] ?? null;
  const all = (key: string): string[] => fields.get(key) ?? [];
  return {
    metadataVersion: one('metadata-version'),
    name: one('name'),
    version: one('version'),
    requiresDist: all('requires-dist'),
    requiresPython: one('requires-python'),
    providesExtra: all('provides-extra'),
    dynamic: all('dynamic').map((d) => d.toLowerCase()),
  };
}

/**
 * The kind of distribution a metadata text describes, however it was read (a PEP 658 `.metadata` file
 * describes the file it belongs to: PyPI serves them for sdists too).
 */
export type MetadataSource = 'wheel' | 'sdist';

/**
 * Does this metadata state the dependencies of its release? A wheel's always does; an sdist's only when
 * its Metadata-Version is 2.2 or later (PEP 643) and Requires-Dist is not Dynamic.
 */
export function isDependencyAuthoritative(meta: CoreMetadata, source: MetadataSource): boolean {
  if (source === 'wheel') return true;
  const m = /^(\d+)\.(\d+)/.exec(meta.metadataVersion ?? '');
  if (m === null) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const isNewEnough = major > 2 || (major === 2 && minor >= 2);
  return isNewEnough && !meta.dynamic.includes('requires-dist');
}

/** The dependencies a metadata file states. */
export interface Dependencies {
  readonly requirements: readonly Requirement[];
  /** Requires-Dist values that do not parse, or name a URL: skipped, reported for a warning. */
  readonly invalid: readonly { readonly text: string; readonly reason: string }[];
}

/**
 * The dependencies of a release from its metadata, or null when the metadata does not state them
 * (see isDependencyAuthoritative): then they are unknown and the caller warns once.
 */
export function dependenciesFromMetadata(meta: CoreMetadata, source: MetadataSource): Dependencies | null {
  if (!isDependencyAuthoritative(meta, source)) return null;
  const requirements: Requirement[] = [];
  const invalid: { text: string; reason: string }[] = [];
  for (const text of meta.requiresDist) {
    try {
      requirements.push(parseRequirement(text));
    } catch (err) {
      if (!(err instanceof RequirementSyntaxError)) throw err;
      invalid.push({ text, reason: err.expected });
    }
  }
  return { requirements, invalid };
}

/** What choosing a metadata source needs of a file of the release (UpstreamFile has it). */
export interface MetadataCandidate {
  readonly filename: string;
  /** PEP 658/714: null = no `.metadata` advertised. */
  readonly coreMetadata: Readonly<Record<string, string>> | null;
}

/** Where to read a release's dependencies from: a file, and whether through its `.metadata` or its archive. */
export interface MetadataChoice {
  readonly filename: string;
  readonly via: 'pep658' | 'archive';
  readonly source: MetadataSource;
}

/**
 * Picks where to read the dependencies of one release, given its selected (mirrored) files: a wheel's
 * PEP 658 `.metadata`, else the METADATA inside a wheel, else an sdist's `.metadata`, else the PKG-INFO
 * inside an sdist (`.tar.gz` or `.zip`); null when the release has neither (its dependencies are
 * unknown). Wheels come first because their metadata always states the dependencies.
 */
export function chooseMetadataSource(files: readonly MetadataCandidate[]): MetadataChoice | null {
  const wheels = files.filter((f) => fileKind(f.filename).packageType === 'bdist_wheel');
  const sdists = files.filter(
    (f) => fileKind(f.filename).packageType === 'sdist' && /\.(?:tar\.gz|zip)$/i.test(f.filename),
  );
  const order: [readonly MetadataCandidate[], MetadataSource][] = [
    [wheels, 'wheel'],
    [sdists, 'sdist'],
  ];
  for (const [candidates, source] of order) {
    const withMetadata = candidates.find((f) => f.coreMetadata !== null);
    if (withMetadata !== undefined) return { filename: withMetadata.filename, via: 'pep658', source };
    const first = candidates[0];
    if (first !== undefined) return { filename: first.filename, via: 'archive', source };
  }
  return null;
}
