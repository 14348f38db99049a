// What each side of an air-gapped pair remembers, under <root>/.pypimirror/: the outside what it exported
// (exports.json: the next export continues from there), the inside what it imported (imports.json) and the
// bundles it holds until their predecessor comes (bundles/<id>/). Written atomically.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stateDir } from '../model/layout.js';
import { wrongStateShape } from '../errors.js';
import { readStateJson } from '../mirror/state.js';
import { writeFileAtomic } from '../util/fs.js';
import { bundleId, type ExportedProject } from './manifest.js';

export interface ExportState {
  readonly formatVersion: 1;
  readonly origin: string;
  /** The last bundle exported. */
  readonly sequence: number;
  readonly id: string;
  readonly exportedAt: string;
  readonly serial: number | null;
  /** Every project the inside has after importing it, with its files' digests. */
  readonly projects: Readonly<Record<string, ExportedProject>>;
}

export interface ImportState {
  readonly formatVersion: 1;
  readonly origin: string;
  /** The last bundle applied. */
  readonly sequence: number;
  readonly id: string;
  readonly importedAt: string;
  readonly serial: number | null;
}

const exportStatePath = (root: string): string => join(stateDir(root), 'exports.json');
const importStatePath = (root: string): string => join(stateDir(root), 'imports.json');
/** Bundles held until their predecessor is imported: `<root>/.pypimirror/bundles/<id>/`. */
export const pendingDir = (root: string): string => join(stateDir(root), 'bundles');
/** Where an import stages a bundle's files before publishing them. */
export const stagingDir = (root: string): string => join(stateDir(root), 'incoming');

async function readJsonFile<T>(path: string): Promise<T | null> {
  const json = (await readStateJson(path)) as { formatVersion?: unknown } | null;
  if (json === null) return null;
  if (json.formatVersion !== 1)
    throw wrongStateShape(path, 'a pypimirror bundle state file (formatVersion 1)');
  return json as T;
}

export const readExportState = (root: string): Promise<ExportState | null> =>
  readJsonFile<ExportState>(exportStatePath(root));
export const readImportState = (root: string): Promise<ImportState | null> =>
  readJsonFile<ImportState>(importStatePath(root));

export async function writeExportState(root: string, state: ExportState): Promise<void> {
  await writeFileAtomic(exportStatePath(root), `${JSON.stringify(state)}\n`);
}

export async function writeImportState(root: string, state: ImportState): Promise<void> {
  await writeFileAtomic(importStatePath(root), `${JSON.stringify(state, null, 1)}\n`);
}

/** `check`'s lines: the last bundle exported, the last imported, and any gap (bundles held). */
export async function describeBundles(root: string): Promise<string[]> {
  const lines: string[] = [];
  const exported = await readExportState(root).catch(() => null);
  if (exported !== null) lines.push(`# last bundle exported: ${exported.id} at ${exported.exportedAt}`);
  const imported = await readImportState(root).catch(() => null);
  if (imported !== null) lines.push(`# last bundle imported: ${imported.id} at ${imported.importedAt}`);
  const held = (await readdir(pendingDir(root)).catch(() => [] as string[])).filter(
    (n) => !n.startsWith('.'),
  );
  if (held.length > 0) {
    const missing = imported === null ? 'a full bundle' : bundleId(imported.origin, imported.sequence + 1);
    lines.push(`# bundle gap: waiting for ${missing}; held: ${held.sort().join(' ')}`);
  }
  return lines;
}
