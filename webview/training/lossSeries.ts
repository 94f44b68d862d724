// The loss chart's data, kept as uPlot's aligned columns so a step appends in place and the chart only
// calls setData: x = step, train loss at every step, held-out loss only where it was evaluated (null
// elsewhere; the chart spans the gaps), learning rate. Non-finite losses (a diverged run) are gaps, so they
// cannot blow up the scale. Pure (no DOM, no uPlot).
import type { StepPoint } from '../../src/protocol/trainingPanelProtocol';

export interface LossSeries {
  readonly steps: number[];
  readonly train: (number | null)[];
  readonly evalLoss: (number | null)[];
  readonly lr: (number | null)[];
}

const value = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function emptySeries(): LossSeries {
  return { steps: [], train: [], evalLoss: [], lr: [] };
}

/**
 * Adds one step. A step already present (the host's state replayed, or a held-out loss reported for the
 * last step) is merged into its column instead: a later held-out loss fills the gap, never erases one.
 */
export function appendPoint(s: LossSeries, p: StepPoint): void {
  if (!Number.isFinite(p.step)) return;
  // Where the step belongs: x stays ascending, as uPlot requires (binary search; usually the end).
  let lo = 0;
  let hi = s.steps.length;
  if (hi > 0 && s.steps[hi - 1]! < p.step) lo = hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.steps[mid]! < p.step) lo = mid + 1;
    else hi = mid;
  }
  if (s.steps[lo] === p.step) {
    s.train[lo] = value(p.loss);
    if (p.evalLoss !== undefined) s.evalLoss[lo] = value(p.evalLoss);
    s.lr[lo] = value(p.lr);
    return;
  }
  s.steps.splice(lo, 0, p.step);
  s.train.splice(lo, 0, value(p.loss));
  s.evalLoss.splice(lo, 0, value(p.evalLoss));
  s.lr.splice(lo, 0, value(p.lr));
}

export function seriesFromPoints(points: readonly StepPoint[]): LossSeries {
  const s = emptySeries();
  for (const p of points) appendPoint(s, p);
  return s;
}

/** Steps plotted (the chart mirrors it as data-points). */
export function pointCount(s: LossSeries): number {
  return s.steps.length;
}

export function evalCount(s: LossSeries): number {
  return s.evalLoss.reduce<number>((n, v) => n + (v === null ? 0 : 1), 0);
}

/** The last held-out loss and its step. */
export function lastEval(s: LossSeries): { readonly step: number; readonly loss: number } | undefined {
  for (let i = s.evalLoss.length - 1; i >= 0; i--) {
    const v = s.evalLoss[i];
    if (v !== null && v !== undefined) return { step: s.steps[i]!, loss: v };
  }
  return undefined;
}

/** The last `n` steps, newest last, for the chart's text alternative. */
export function recentRows(s: LossSeries, n: number): { readonly step: number; readonly train: number | null; readonly evalLoss: number | null }[] {
  const from = Math.max(0, s.steps.length - n);
  return s.steps.slice(from).map((step, k) => ({ step, train: s.train[from + k]!, evalLoss: s.evalLoss[from + k]! }));
}
