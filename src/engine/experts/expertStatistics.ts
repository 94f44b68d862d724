// Per-expert statistics derived from a profile's sums (docs/moe-methods.md §3.1–3.4). Higher = more
// important for every statistic, so pruning keeps the top scores. Pure: the extension uses it too.
import type { ExpertStatistic, LayerProfile, PruneMethod } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';

export const STATISTIC_LABELS: Record<ExpertStatistic, string> = {
  frequency: 'selection frequency (share of tokens with the expert in top-k)',
  gate: 'gate-weighted frequency Σ g (applied top-k weights)',
  gateMean: 'mean applied gate weight when selected',
  importance: 'full-softmax importance Σ p over all tokens',
  reap: 'REAP saliency mean g·‖f(x)‖ over routed tokens',
  ean: 'EAN Σ ‖f(x)‖ over routed tokens',
  normMean: 'mean expert output norm ‖f(x)‖ when selected',
  maxNorm: 'max expert output norm ‖f(x)‖',
};

export const METHOD_STATISTIC: Record<PruneMethod, ExpertStatistic> = {
  frequency: 'frequency',
  gate: 'gate',
  reap: 'reap',
  ean: 'ean',
  importance: 'importance',
};

export const METHOD_LABELS: Record<PruneMethod, string> = {
  reap: 'REAP',
  frequency: 'frequency',
  gate: 'gate-weighted frequency',
  ean: 'EAN',
  importance: 'softmax importance',
};

/**
 * The statistic for every expert of one layer. Experts never selected score 0 on the per-selection means.
 * Anything that is not a number (a null that came through JSON) is NaN here, never a silent 0.
 */
export function expertStatistic(l: LayerProfile, stat: ExpertStatistic): number[] {
  const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
  const tokens = num(l.tokens);
  const count = l.count.map(num);
  const per = (sums: readonly number[]): number[] => sums.map((v, e) => (count[e]! > 0 ? num(v) / count[e]! : Number.isNaN(count[e]!) ? NaN : 0));
  switch (stat) {
    case 'frequency':
      return count.map((n) => (tokens > 0 ? n / tokens : Number.isNaN(tokens) ? NaN : 0));
    case 'gate':
      return l.gateSum.map(num);
    case 'gateMean':
      return per(l.gateSum);
    case 'importance':
      return l.probSum.map(num);
    case 'reap':
      return per(l.reapSum);
    case 'ean':
      return l.eanSum.map(num);
    case 'normMean':
      return per(l.eanSum);
    case 'maxNorm':
      return l.maxNorm.map(num);
  }
}

/**
 * Refuses scores a plan cannot rank by: a NaN (from NaN weights, or a broken profile) sorts arbitrarily,
 * so a plan from it would prune by position. Names the first bad layer and expert.
 */
export function checkFiniteScores(layer: number, scores: readonly number[], what: string): void {
  const e = scores.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (e < 0) return;
  throw new MoeError(
    'E_INPUT',
    `layer ${layer}, expert ${e}: the ${what} is ${String(scores[e])}, not a finite number, so experts cannot be ranked (the profile's statistics are not numbers there, e.g. because the model's weights hold NaN): check the model, then profile it again`,
  );
}
