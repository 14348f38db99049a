// `export --max-volume`: the size syntax and its floor. Apart from the manifest so that the command line
// parser loads nothing heavy (node:crypto) to read it.

/** Smallest --max-volume: headers and some data must fit beside the end of the archive. */
export const MIN_VOLUME_SIZE = 64 * 1024;

/** `4G`, `500M`, `65536`: bytes, or null. K, M, G, T are powers of 1024. */
export function parseVolumeSize(text: string): number | null {
  const m = /^(\d{1,15})([KMGT]?)$/i.exec(text.trim());
  if (m === null) return null;
  const power = ' KMGT'.indexOf((m[2] ?? '').toUpperCase() || ' ');
  const n = Number(m[1]) * 1024 ** power;
  return Number.isSafeInteger(n) ? n : null;
}
