// Text of the run's figures: durations, ETA, progress, speed and ESFT scores. Pure (no DOM), so the panel's
// wording is unit-tested in plain Node; every number goes through a formatter that emits only digits.
import { formatInteger } from '../../src/report/formatNumbers';

const DASH = '—';
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A duration: "42 s", "3 min 05 s", "1 h 02 min"; "—" when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (!finite(ms) || ms < 0) return DASH;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * The ETA now, counting down from the host's estimate: `etaMs` was right `sinceMs` ago. Past the estimate
 * the run is "finishing" rather than showing a negative time.
 */
export function etaText(etaMs: number | undefined, sinceMs: number): string {
  if (!finite(etaMs)) return DASH;
  const left = etaMs - (finite(sinceMs) && sinceMs > 0 ? sinceMs : 0);
  return left <= 500 ? 'finishing' : `about ${formatDuration(left)} left`;
}

/** "step 12 of 100". */
export function stepText(done: number, total: number): string {
  return `step ${formatInteger(done)} of ${formatInteger(total)}`;
}

/** The progress bar's fill, 0–100 (integer), clamped. */
export function progressPercent(done: number, total: number): number {
  if (!finite(done) || !finite(total) || total <= 0) return 0;
  return Math.max(0, Math.min(100, Math.round((100 * done) / total)));
}

/** "1,234 tokens/s". */
export function speedText(tokensPerSecond: number | undefined): string {
  return finite(tokensPerSecond) ? `${formatInteger(tokensPerSecond)} tokens/s` : DASH;
}

/** A loss with 4 decimals (the chart's text alternative and the latest figures). */
export function lossText(v: number | undefined): string {
  if (typeof v !== 'number') return DASH;
  if (Number.isNaN(v)) return 'NaN';
  return Number.isFinite(v) ? v.toFixed(4) : v > 0 ? '∞' : '-∞';
}

/** A learning rate: "1e-4" style for small values, plain otherwise. */
export function lrText(v: number | undefined): string {
  if (!finite(v)) return DASH;
  if (v === 0) return '0';
  return Math.abs(v) < 1e-2 ? v.toExponential(2).replace(/\.?0+e/, 'e') : String(Number(v.toPrecision(3)));
}

/** An ESFT score on an expert chip: two decimals, "<0.01" for tiny non-zero ones. */
export function chipScore(v: number | undefined): string {
  if (!finite(v)) return DASH;
  if (v === 0) return '0';
  if (Math.abs(v) < 0.01) return '<0.01';
  return v.toFixed(2);
}

/** Bar length of a score on a chip, 0–100, relative to the layer's highest score (scores sum to top-k). */
export function scorePercent(v: number | undefined, max: number): number {
  if (!finite(v) || !finite(max) || max <= 0 || v <= 0) return 0;
  return Math.max(1, Math.min(100, Math.round((100 * v) / max)));
}
