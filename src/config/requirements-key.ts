// The `requirements` key (issue #11 part 3): validate.ts resolves the paths; this reads the files (pip
// requirements syntax, `-r` includes followed) once the rest of the config is valid, so that a bad line is
// a config error naming the requirements file and line, like any other key's problem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { parseRequirementsFile, RequirementsError } from '../plan/requirements.js';
import { DEFAULT_SECTION, MIRROR_SECTION } from './defaults.js';
import type { Config, RawConfig, RequirementRoot } from './types.js';

const KEY = 'requirements';

/**
 * The config with `requirementRoots` and `requirementFiles` read from the files `requirements` names, and
 * one warning per pip option ignored. Throws ConfigError (CONFIG_INVALID) listing every file's problem: a
 * file that cannot be read (at the config's `requirements` line, or at the `-r` line including it), an
 * editable, a URL, a local path, an unknown option or a malformed requirement (at its own file and line).
 */
export function readRequirementsKey(cfg: Config, raw: RawConfig): Config {
  if (cfg.requirements.length === 0) return cfg;
  const configDir = path.dirname(cfg.file);
  const v =
    raw.sections.get(MIRROR_SECTION)?.values.get(KEY) ?? raw.sections.get(DEFAULT_SECTION)?.values.get(KEY);
  const texts = new Map<string, string>();
  const readFile = (file: string): string => {
    const text = readFileSync(file, 'utf8');
    texts.set(file, text);
    return text;
  };
  const roots: RequirementRoot[] = [];
  const files = new Set<string>();
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];
  for (const file of cfg.requirements) {
    try {
      const parsed = parseRequirementsFile(file, readFile);
      for (const entry of parsed.entries) {
        const origin = `${displayPath(configDir, entry.file)}:${entry.line}`;
        roots.push({ requirement: entry.requirement.text, origin });
      }
      for (const read of parsed.files) files.add(read);
      for (const w of parsed.warnings) warnings.push(`${w.file}:${w.line}: ${KEY}: ${w.message}`);
    } catch (err) {
      if (!(err instanceof RequirementsError)) throw err;
      if (err.line === null) {
        // The file named by the key itself cannot be read: the config's line is at fault.
        const value = displayPath(configDir, file);
        const where = { file: raw.file, line: v?.line ?? null, section: v?.section ?? null };
        issues.push({ ...where, key: KEY, value, expected: `a readable requirements file: ${err.reason}` });
        continue;
      }
      const line = texts.get(err.file)?.split(/\r?\n/)[err.line - 1]?.trim() ?? null;
      issues.push({
        file: err.file,
        line: err.line,
        section: null,
        key: KEY,
        value: line,
        expected: err.reason.replace(/^".*?": /, ''),
      });
    }
  }
  if (issues.length > 0) throw new ConfigError('CONFIG_INVALID', raw.file, issues);
  return Object.freeze({
    ...cfg,
    requirementRoots: Object.freeze(roots),
    requirementFiles: Object.freeze([...files]),
    warnings: Object.freeze([...cfg.warnings, ...warnings]),
  });
}

/** `file` relative to the config's directory when inside it, else as it is. */
function displayPath(configDir: string, file: string): string {
  const rel = path.relative(configDir, file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}
