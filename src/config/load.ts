// The config file's edge: find it, read it, then parse (parse-ini.ts) and validate (validate.ts) it.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Env } from '../util/env.js';
import { CaFileError, readCaFile } from '../util/ca.js';
import { DEFAULT_SECTION, MIRROR_SECTION, UPSTREAM_SECTION_PREFIX } from './defaults.js';
import { parseIni } from './parse-ini.js';
import { readRequirementsKey } from './requirements-key.js';
import { validateConfig } from './validate.js';
import type { Config, RawConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = '/etc/pypimirror.cfg';
export const CONFIG_PATH_ENV = 'PYPIMIRROR_CONFIG';

export interface LoadOptions {
  /** Directory a relative config path (and so every relative path in it) is resolved against. */
  cwd: string;
  /** Consulted only when `path` is undefined (see resolveConfigPath). */
  env?: Env;
}

/** The config path: the command-line argument, else $PYPIMIRROR_CONFIG, else /etc/pypimirror.cfg. */
export function resolveConfigPath(arg: string | undefined, env: Env): string {
  if (arg !== undefined && arg !== '') return arg;
  const fromEnv = env[CONFIG_PATH_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_CONFIG_PATH;
}

/**
 * Reads, parses and validates a config file. Throws ConfigError: CONFIG_NOT_FOUND when the file cannot be
 * read, CONFIG_INVALID with every parse and validation problem at once. Messages name the file as given.
 */
export async function loadConfig(path: string | undefined, opts: LoadOptions): Promise<Config> {
  const file = resolveConfigPath(path, opts.env ?? {});
  const text = await readConfigText(file, opts.cwd);
  const { raw, issues } = parseIni(text, file);
  const cfg = validateConfig(raw, { cwd: opts.cwd, parseIssues: issues });
  checkCaFile(cfg, raw);
  return withEnvRegion(readRequirementsKey(cfg, raw), opts.env ?? {});
}

/**
 * `s3_region` left empty takes AWS_REGION (else AWS_DEFAULT_REGION) of the environment the command was given,
 * as the AWS tools do; with neither, storage/s3-client.ts signs for us-east-1.
 */
function withEnvRegion(cfg: Config, env: Env): Config {
  const s3 = cfg.s3Storage;
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  if (s3 === null || s3.region !== null || region === undefined || region === '') return cfg;
  return Object.freeze({ ...cfg, s3Storage: Object.freeze({ ...s3, region }) });
}

/** `ca_file` ([mirror]'s and each upstream section's) must be a readable PEM file of certificates (validate.ts is pure, so it is read here). */
function checkCaFile(cfg: Config, raw: RawConfig): void {
  const places = [
    { caFile: cfg.caFile, sections: [MIRROR_SECTION, DEFAULT_SECTION] },
    ...cfg.upstreams.map((u) => ({ caFile: u.caFile, sections: [`${UPSTREAM_SECTION_PREFIX}${u.name}`] })),
  ];
  for (const { caFile, sections } of places) {
    if (caFile === null) continue;
    try {
      readCaFile(caFile);
    } catch (cause) {
      if (!(cause instanceof CaFileError)) throw cause;
      const key = 'ca_file';
      const v = sections.map((s) => raw.sections.get(s)?.values.get(key)).find((x) => x !== undefined);
      const issue = {
        file: raw.file,
        line: v?.line ?? null,
        section: v?.section ?? null,
        key,
        value: v?.value ?? caFile,
        expected: `a PEM file of CA certificates (${caFile}), but ${cause.message}`,
      };
      throw new ConfigError('CONFIG_INVALID', raw.file, [issue], { cause });
    }
  }
}

async function readConfigText(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(resolve(cwd, file), 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const expected = describeReadFailure(code, cause);
    const issue = { file, line: null, section: null, key: null, value: null, expected };
    throw new ConfigError('CONFIG_NOT_FOUND', file, [issue], { cause });
  }
}

function describeReadFailure(code: string | undefined, cause: unknown): string {
  const hint =
    `give the config file as an argument or in $${CONFIG_PATH_ENV} ` + `(default ${DEFAULT_CONFIG_PATH})`;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return `cannot read the config file: it does not exist; ${hint}`;
    case 'EACCES':
    case 'EPERM':
      return 'cannot read the config file: permission denied';
    case 'EISDIR':
      return `cannot read the config file: it is a directory; ${hint}`;
    default:
      return `cannot read the config file: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}
