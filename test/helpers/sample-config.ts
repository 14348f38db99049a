// Test configs derived from samples/pypimirror.cfg, so the sample cannot rot: the tests change only
// the values that must point into the test's own world.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FakeUpstream } from './fake-upstream.js';
import { repoRoot } from './repo-root.js';
import { type StandardCatalogue, startStandardUpstream } from './standard-catalogue.js';
import { makeTempDir } from './tree.js';

export const SAMPLE_CONFIG = join(repoRoot, 'samples/pypimirror.cfg');

/** The sample with `key = value` lines replaced (or removed, for null); a missing key is appended. */
export function renderSampleConfig(values: Readonly<Record<string, string | null>>): string {
  let text = readFileSync(SAMPLE_CONFIG, 'utf8');
  for (const [key, value] of Object.entries(values)) {
    // A key line and its indented continuation lines.
    const pattern = new RegExp(`^${key}[ \\t]*=.*(?:\\n[ \\t]+\\S.*)*$`, 'm');
    if (pattern.test(text)) text = text.replace(pattern, value === null ? '' : `${key} = ${value}`);
    else if (value !== null) text += `\n${key} = ${value}\n`;
  }
  return text;
}

export async function writeSampleConfig(
  dir: string,
  values: Readonly<Record<string, string | null>>,
): Promise<string> {
  const path = join(dir, 'pypimirror.cfg');
  await writeFile(path, renderSampleConfig(values));
  return path;
}

export interface SampleMirror {
  readonly fake: FakeUpstream;
  readonly catalogue: StandardCatalogue;
  /** The test's temp dir (config, logs, pip targets). */
  readonly dir: string;
  /** mirror_file_path. */
  readonly root: string;
  /** The config file: the sample, pointed at the fake upstream and a mirror in `dir`. */
  readonly config: string;
}

/**
 * A fake upstream with the standard catalogue, and a config derived from the sample that mirrors it
 * into a temp dir (no log file, no metrics unless `values` says otherwise).
 */
export async function startSampleMirror(
  t: TestContext,
  values: Readonly<Record<string, string | null>> = {},
): Promise<SampleMirror> {
  const { fake, catalogue } = await startStandardUpstream();
  t.after(() => fake.close());
  const dir = await makeTempDir(t);
  const { root, config } = await writeMirrorConfig(dir, fake.url, values);
  return { fake, catalogue, dir, root, config };
}

/** The sample, mirroring `indexUrl` into `<dir>/mirror`, no log file, no metrics unless `values` says so. */
export async function writeMirrorConfig(
  dir: string,
  indexUrl: string,
  values: Readonly<Record<string, string | null>> = {},
): Promise<{ root: string; config: string }> {
  const root = join(dir, 'mirror');
  const config = await writeSampleConfig(dir, {
    mirror_file_path: root,
    index_url: indexUrl,
    log_filename: null,
    metrics_file: null,
    ...values,
  });
  return { root, config };
}
