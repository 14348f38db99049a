// PEP 503 name rules (docs/protocol.md §1 "Names").

const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;
const NORMALIZED = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** `Foo_Bar.baz` → `foo-bar-baz`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A valid project name (before normalisation), per the name-normalization spec. */
export function isValidProjectName(name: string): boolean {
  return VALID_NAME.test(name);
}

export function isNormalizedName(name: string): boolean {
  return NORMALIZED.test(name);
}
