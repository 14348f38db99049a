// Requirements (issue #11, part 3): PEP 508 requirement strings (from requirements files and from core
// metadata's Requires-Dist) and pip's requirements-file syntax: comments, line continuations, `-r`
// includes resolved relative to the including file. Files are read through a callback, so this stays
// pure. Only named requirements can be mirrored: an editable, a URL or a local path is an error naming
// the file and line. Pure.
import path from 'node:path';
import { PypimirrorError } from '../errors.js';
import { MarkerSyntaxError, parseMarker, type Marker } from './markers.js';
import { normalizeName } from '../model/names.js';
import { isValidSpecifier } from './versions.js';

/** A named PEP 508 requirement. */
export interface Requirement {
  /** The name as written. */
  readonly name: string;
  /** Normalised project name. */
  readonly project: string;
  /** Requested extras, normalised, sorted. */
  readonly extras: readonly string[];
  /** The specifier set without spaces (`>=1.0,<2`), '' when none. */
  readonly specifier: string;
  readonly marker: Marker | null;
  /** The requirement as written, trimmed (for messages and `check`). */
  readonly text: string;
}

/** Why a requirement string is not one we can mirror (thrown by parseRequirement). */
export class RequirementSyntaxError extends Error {
  constructor(
    readonly requirement: string,
    readonly expected: string,
  ) {
    super(`"${requirement.length > 200 ? `${requirement.slice(0, 200)}...` : requirement}": ${expected}`);
    this.name = 'RequirementSyntaxError';
  }
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/;

/**
 * Parses a PEP 508 requirement with a name (`name[extra1,extra2] >=1,<2 ; marker`). A direct
 * reference (`name @ url`) throws, as does anything after the name that is not extras, a specifier or a
 * marker.
 */
export function parseRequirement(source: string): Requirement {
  const text = source.trim();
  const fail = (expected: string): never => {
    throw new RequirementSyntaxError(text, expected);
  };
  const nameMatch = NAME.exec(text);
  if (nameMatch === null) return fail('expected a project name');
  const name = nameMatch[0];
  let rest = text.slice(name.length).trimStart();
  let extras: string[] = [];
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end === -1) fail('expected "]" after the extras');
    const list = rest.slice(1, end).trim();
    extras = list === '' ? [] : list.split(',').map((e) => e.trim());
    if (extras.some((e) => !NAME.test(e) || NAME.exec(e)?.[0] !== e))
      fail(`expected extra names, not "[${list}]"`);
    rest = rest.slice(end + 1).trimStart();
  }
  if (rest.startsWith('@'))
    fail('a direct reference (name @ URL) cannot be mirrored; name a version instead');
  const semicolon = rest.indexOf(';');
  let specText = (semicolon === -1 ? rest : rest.slice(0, semicolon)).trim();
  const markerText = semicolon === -1 ? null : rest.slice(semicolon + 1).trim();
  if (specText.startsWith('(')) {
    if (!specText.endsWith(')')) fail('expected ")" after the version specifier');
    specText = specText.slice(1, -1).trim();
  }
  const specifier = specText.replace(/\s+/g, '');
  if (specifier !== '' && (!/^[<>=!~]/.test(specifier) || !isValidSpecifier(specifier))) {
    fail(`expected a PEP 440 version specifier like >=1.0,<2, not "${specText}"`);
  }
  let marker: Marker | null = null;
  if (markerText !== null) {
    if (markerText === '') fail('expected a marker after ";"');
    try {
      marker = parseMarker(markerText);
    } catch (err) {
      if (err instanceof MarkerSyntaxError) fail(err.message);
      throw err;
    }
  }
  return {
    name,
    project: normalizeName(name),
    extras: [...new Set(extras.map(normalizeName))].sort(),
    specifier,
    marker,
    text,
  };
}

// ---------------------------------------------------------------------------------------------------
// requirements files

export type RequirementsErrorCode = 'REQUIREMENTS_INVALID' | 'REQUIREMENTS_CYCLE';

/** A requirements file that cannot be used: where (file, 1-based line) and what. */
export class RequirementsError extends PypimirrorError<RequirementsErrorCode> {
  constructor(
    code: RequirementsErrorCode,
    readonly file: string,
    readonly line: number | null,
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(code, `${line === null ? file : `${file}:${line}`}: ${reason}`, options);
  }
}

/** A requirement and where it was written. */
interface RequirementEntry {
  readonly requirement: Requirement;
  readonly file: string;
  readonly line: number;
}

/** Something in a requirements file that was ignored on purpose. */
interface RequirementsWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface RequirementsFile {
  readonly entries: readonly RequirementEntry[];
  /** Options that say how pip installs, not what: ignored, each named once per line. */
  readonly warnings: readonly RequirementsWarning[];
  /** Every file read, the top one first (for watching them). */
  readonly files: readonly string[];
}

/** pip options that choose where or how to install: they say nothing about what to mirror. */
const IGNORED_OPTIONS = new Set([
  '-i',
  '--index-url',
  '--extra-index-url',
  '--no-index',
  '-f',
  '--find-links',
  '--pre',
  '--prefer-binary',
  '--only-binary',
  '--no-binary',
  '--trusted-host',
  '--use-feature',
  '--require-hashes',
  '-c',
  '--constraint',
]);
/** Options that take a value as the next word when not written with `=`. */
const OPTIONS_WITH_VALUE = new Set([
  '-i',
  '--index-url',
  '--extra-index-url',
  '-f',
  '--find-links',
  '--only-binary',
  '--no-binary',
  '--trusted-host',
  '--use-feature',
  '-c',
  '--constraint',
]);
/** Per-requirement options pip allows after a requirement; hashes pin artifacts, not projects. */
const REQUIREMENT_OPTIONS = /\s+--(?:hash|config-settings|global-option|install-option)(?:[=\s]\S+)/g;

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const ARCHIVE_NAME = /\.(?:whl|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar|zip)$/i;

/** Joins `\`-continued lines and drops comments; each logical line keeps its first physical line number. */
function logicalLines(content: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const physical = content.split(/\r?\n/);
  let current: { text: string; line: number } | null = null;
  physical.forEach((raw, index) => {
    const continued = /\\$/.test(raw);
    const body = continued ? raw.slice(0, -1) : raw;
    if (current === null) current = { text: body, line: index + 1 };
    else current.text += body;
    if (!continued) {
      out.push(current);
      current = null;
    }
  });
  if (current !== null) out.push(current);
  return out
    .map(({ text, line }) => ({ text: text.replace(/(^|\s)#.*$/, '').trim(), line }))
    .filter((l) => l.text !== '');
}

/**
 * Reads a pip requirements file and its `-r` / `--requirement` includes (relative to the including file;
 * a cycle is an error). `readFile(path)` returns the text or throws; its errors are wrapped with the
 * file and line of the include. Errors (RequirementsError, code REQUIREMENTS_INVALID or
 * REQUIREMENTS_CYCLE) name the file and line: an editable (`-e`), a URL or `name @ URL`, a local path or
 * archive, an unknown option, a malformed requirement. Options about where pip installs from (`-i`,
 * `--extra-index-url`, `-f`, `--pre`, `--only-binary`, `-c`, ...) are ignored with a warning;
 * `--hash=` and other per-requirement options are ignored silently.
 */
export function parseRequirementsFile(file: string, readFile: (path: string) => string): RequirementsFile {
  const entries: RequirementEntry[] = [];
  const warnings: RequirementsWarning[] = [];
  const files: string[] = [];
  const visit = (
    current: string,
    stack: readonly string[],
    includedAt: { file: string; line: number } | null,
  ): void => {
    if (stack.includes(current)) {
      const chain = [...stack.slice(stack.indexOf(current)), current].join(' -> ');
      throw new RequirementsError(
        'REQUIREMENTS_CYCLE',
        includedAt?.file ?? current,
        includedAt?.line ?? null,
        `includes form a cycle: ${chain}`,
      );
    }
    if (files.includes(current)) return; // already read through another include
    let content: string;
    try {
      content = readFile(current);
    } catch (err) {
      const reason = `cannot read requirements file ${current}: ${err instanceof Error ? err.message : String(err)}`;
      throw new RequirementsError(
        'REQUIREMENTS_INVALID',
        includedAt?.file ?? current,
        includedAt?.line ?? null,
        reason,
        { cause: err },
      );
    }
    files.push(current);
    for (const { text, line } of logicalLines(content)) {
      const fail = (reason: string): never => {
        throw new RequirementsError('REQUIREMENTS_INVALID', current, line, reason);
      };
      if (text.startsWith('-')) {
        const m = /^(-[A-Za-z]|--[a-z][a-z0-9-]*)(?:\s*=\s*|\s+)?(.*)$/.exec(text);
        const option = m?.[1] ?? text;
        const value = (m?.[2] ?? '').trim();
        if (option === '-r' || option === '--requirement') {
          if (value === '') fail(`${option} needs a file name`);
          if (URL_SCHEME.test(value))
            fail(`"${value}": includes from a URL are not supported; name a local file`);
          const target = path.isAbsolute(value) ? value : path.join(path.dirname(current), value);
          visit(target, [...stack, current], { file: current, line });
        } else if (option === '-e' || option === '--editable') {
          fail(
            `"${text}": an editable requirement cannot be mirrored; name the project and a version instead`,
          );
        } else if (IGNORED_OPTIONS.has(option)) {
          if (OPTIONS_WITH_VALUE.has(option) && value === '') fail(`${option} needs a value`);
          warnings.push({
            file: current,
            line,
            message: `${option} ignored: it says how pip installs, not what to mirror`,
          });
        } else {
          fail(`"${option}": unknown or unsupported pip option in a requirements file`);
        }
        continue;
      }
      const requirementText = text.replace(REQUIREMENT_OPTIONS, '').trim();
      if (URL_SCHEME.test(requirementText) || /^[a-z][a-z0-9+.-]*\+[a-z]+:/i.test(requirementText)) {
        fail(`"${requirementText}": a URL cannot be mirrored; name the project and a version instead`);
      }
      const head = requirementText.split(/[\s;]/)[0] ?? '';
      if (/^(?:\.{1,2}|~)?[/\\]/.test(head) || head === '.' || head === '..' || ARCHIVE_NAME.test(head)) {
        fail(`"${requirementText}": a local path cannot be mirrored; name the project and a version instead`);
      }
      try {
        entries.push({ requirement: parseRequirement(requirementText), file: current, line });
      } catch (err) {
        if (err instanceof RequirementSyntaxError) fail(err.message);
        throw err;
      }
    }
  };
  visit(file, [], null);
  return { entries, warnings, files };
}
