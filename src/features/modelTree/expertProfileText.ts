// What the Model tree says about an expert when a profile is loaded: the selected statistic with its rank
// in the layer, the order of the experts, and the tooltip's figures. Pure: no vscode import.
import { expertStatistic } from '../../engine/experts/expertStatistics';
import type { ExpertStatistic, LayerProfile } from '../../protocol/expertOps';

export const STATISTIC_SHORT: Record<ExpertStatistic, string> = {
  frequency: 'frequency',
  gate: 'gate Σ',
  gateMean: 'mean gate',
  importance: 'importance',
  reap: 'REAP',
  ean: 'EAN',
  normMean: 'mean ‖f‖',
  maxNorm: 'max ‖f‖',
};

export function formatStatistic(stat: ExpertStatistic, v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (stat === 'frequency') return `${(100 * v).toFixed(1)}%`;
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(2) : v.toPrecision(4);
}

export interface LayerRanking {
  readonly values: readonly number[];
  /** Experts by decreasing value (ties: lower id first). */
  readonly order: readonly number[];
  /** 1-based rank of each expert. */
  readonly rank: readonly number[];
}

export function layerRanking(l: LayerProfile, stat: ExpertStatistic): LayerRanking {
  const values = expertStatistic(l, stat);
  const order = values.map((_, e) => e).sort((a, b) => values[b]! - values[a]! || a - b);
  const rank = new Array<number>(values.length).fill(0);
  order.forEach((e, i) => (rank[e] = i + 1));
  return { values, order, rank };
}

/** "#2 · 0.1234": rank first, so it survives a narrow view (the layer names the statistic). */
export function expertDescription(l: LayerProfile, stat: ExpertStatistic, expert: number, ranking: LayerRanking = layerRanking(l, stat)): string {
  return `#${ranking.rank[expert]} · ${formatStatistic(stat, ranking.values[expert] ?? NaN)}`;
}

/** Markdown lines for the tooltip: frequency, gate, REAP and EAN of one expert (and the shown statistic), with ranks. */
export function expertProfileLines(l: LayerProfile, expert: number, shown?: ExpertStatistic): string[] {
  const rows: [ExpertStatistic, string][] = [
    ['frequency', 'Selection frequency'],
    ['gate', 'Gate-weighted frequency Σg'],
    ['reap', 'REAP saliency'],
    ['ean', 'EAN Σ‖f‖'],
  ];
  if (shown && !rows.some(([s]) => s === shown)) rows.push([shown, STATISTIC_SHORT[shown]]);
  return rows.map(([stat, label]) => {
    const r = layerRanking(l, stat);
    return `- ${label}: **${formatStatistic(stat, r.values[expert] ?? NaN)}** (#${r.rank[expert]} of ${l.numExperts})`;
  });
}
