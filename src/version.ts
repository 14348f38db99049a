// The program's version, from its package.json. Its own module, so that `pypimirror --version` (main.ts)
// answers without loading the rest of the program (issue #14 part 3).
import { readFileSync } from 'node:fs';

/** The `version` of the package.json shipped beside dist/ (npm's "files"). */
export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
