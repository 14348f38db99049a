// Test configs derived from samples/pypimirror.cfg, so the sample cannot rot: the tests change only
// the values that must point into the test's own world.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';

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
