// The one place numbers become text, for the reports (HTML and CLI text), the plan preview and the CLI:
// counts with thousands separators ("12,365"), sizes in binary units ("12.35 MiB"), shares, scores. Every
// formatter checks that it was given a number and emits only digits, signs, separators and its unit, so a
// hostile file whose "number" is a string of HTML cannot reach a page through it.

const DASH = '—';

const isNum = (v: unknown): v is number => typeof v === 'number';

/** A count: an integer with thousands separators, e.g. 12365 -> "12,365"; "—" for anything else. */
export function formatInteger(n: number): string {
  if (!isNum(n) || !Number.isFinite(n)) return DASH;
  const r = Math.round(n) || 0; // no "-0"
  return r.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/** An id (layer, expert, token position): plain digits, "?" when it is not a non-negative integer. */
export function formatId(n: number): string {
  return isNum(n) && Number.isSafeInteger(n) && n >= 0 ? String(n) : '?';
}

/** A list of ids, e.g. "0, 3, 5" ("none" when empty). */
export function formatIds(ids: readonly number[]): string {
  return Array.isArray(ids) && ids.length > 0 ? ids.map(formatId).join(', ') : 'none';
}

/** Bytes in binary units: "512 B", "4.0 KiB", "12.35 MiB", "1.20 GiB". */
export function formatBytes(bytes: number): string {
  if (!isNum(bytes) || !Number.isFinite(bytes) || bytes < 0) return DASH;
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 1 : 2)} ${units[u]}`;
}

/** A finite number with `digits` decimals, "n/a" otherwise (a NaN from NaN weights). */
export function formatFixed(v: number, digits: number): string {
  return isNum(v) && Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/** A share in [0, 1] as a percentage with one decimal, e.g. 0.9732 -> "97.3%". */
export function formatPercent(share: number): string {
  return isNum(share) && Number.isFinite(share) ? `${(100 * share).toFixed(1)}%` : 'n/a';
}

/** `part` of `whole` as a percentage; "—" when the whole is 0. */
export function formatShare(part: number, whole: number): string {
  return isNum(whole) && whole > 0 ? formatPercent(part / whole) : DASH;
}

/** Perplexity: 3 decimals below 1000, 2 above (random models have huge ones). */
export function formatPerplexity(v: number): string {
  if (!isNum(v) || !Number.isFinite(v)) return isNum(v) && !Number.isNaN(v) ? '∞' : 'n/a';
  return Math.abs(v) < 1000 ? v.toFixed(3) : v.toFixed(2);
}

/** The relative change from `before` to `after`, signed, e.g. "+4.21%", "-25.0%"; "—" when undefined. */
export function formatChange(before: number, after: number): string {
  if (!isNum(before) || !isNum(after) || !Number.isFinite(before) || !Number.isFinite(after) || before === 0) return DASH;
  const d = ((after - before) / Math.abs(before)) * 100;
  const a = Math.abs(d);
  if (a < 0.005) return '0%';
  return `${d > 0 ? '+' : '-'}${a < 10 ? a.toFixed(2) : a.toFixed(1)}%`;
}

/** KL divergence in nats: 4 decimals, scientific below 0.001. */
export function formatKl(v: number): string {
  if (!isNum(v) || !Number.isFinite(v)) return 'n/a';
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4);
}

/** Parameter counts: 1.23B, 45.60M, 7.5K. */
export function formatParams(n: number): string {
  if (!isNum(n) || !Number.isFinite(n)) return DASH;
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(Math.round(n));
}

/** A score of any scale: 4 significant digits, scientific when very large or small. */
export function formatScore(v: number): string {
  if (!isNum(v) || !Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}

/** Seconds with one decimal, e.g. 12345 ms -> "12.3 s". */
export function formatSeconds(ms: number): string {
  return isNum(ms) && Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : DASH;
}
