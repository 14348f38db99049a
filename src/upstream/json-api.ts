// PyPI's JSON API (`/pypi/<project>/json`), read for one thing only: the upload time of each file, which a
// PEP 503 HTML page does not carry and `min_release_age` / `exclude_newer` need (issue #12). Pure.

/** Where the JSON API of the index at `base` answers for `project`: `…/simple/` → `…/pypi/<project>/json`. */
export function jsonApiUrl(base: URL, project: string): URL {
  const path = base.pathname.endsWith('/simple/') ? base.pathname.slice(0, -'simple/'.length) : '/';
  return new URL(`${path}pypi/${encodeURIComponent(project)}/json`, base.origin);
}

/**
 * Filename → ISO 8601 upload time, from a JSON API document: every file of `releases` and `urls` with an
 * `upload_time_iso_8601` (or `upload_time`, taken as UTC). Entries that are not so shaped are skipped.
 */
export function readUploadTimes(json: unknown): Map<string, string> {
  const times = new Map<string, string>();
  if (typeof json !== 'object' || json === null) return times;
  const doc = json as { releases?: unknown; urls?: unknown };
  const lists: unknown[] = [];
  if (typeof doc.releases === 'object' && doc.releases !== null) lists.push(...Object.values(doc.releases));
  lists.push(doc.urls);
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const entry of list as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as Record<string, unknown>;
      const iso =
        e['upload_time_iso_8601'] ?? (typeof e['upload_time'] === 'string' ? `${e['upload_time']}Z` : null);
      if (typeof e['filename'] !== 'string' || typeof iso !== 'string') continue;
      const ms = Date.parse(iso);
      if (!Number.isNaN(ms)) times.set(e['filename'], new Date(ms).toISOString());
    }
  }
  return times;
}
