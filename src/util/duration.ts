// Durations as written in the config file ('30s', '10m', '1h30m', '500ms', '2d'; a plain integer means
// seconds) ↔ milliseconds. Pure.

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest unit first: parts must come in this order, each at most once ('1h30m', not '30m1h'). */
const UNITS_IN_ORDER: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

/**
 * Parses '30s', '10m', '1h', '1h30m', '500ms', '2d' (units in any case, largest first, no spaces) or a plain
 * integer (seconds) into milliseconds. Returns null for anything else, including negative numbers and
 * values beyond Number.MAX_SAFE_INTEGER.
 */
export function parseDuration(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (/^\d+$/.test(s)) return checkSafe(Number(s) * UNIT_MS.s);
  if (s === '') return null;
  let total = 0;
  let lastRank = -1;
  const PART = /(\d+)(ms|d|h|m|s)/y;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (m === null) return null;
    const unit = m[2] as Unit;
    const rank = UNITS_IN_ORDER.indexOf(unit);
    if (rank <= lastRank) return null;
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS[unit];
  }
  return checkSafe(total);
}

/** Formats milliseconds the way parseDuration reads them: 600000 → '10m', 5400000 → '1h30m'. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const unit of UNITS_IN_ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}

function checkSafe(ms: number): number | null {
  return Number.isSafeInteger(ms) ? ms : null;
}
