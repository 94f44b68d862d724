// Per-expert statistics derived from a profile's sums (docs/moe-methods.md §3.1–3.4). Higher = more
// important for every statistic, so pruning keeps the top scores. Pure: the extension uses it too.
import type { ExpertStatistic, LayerProfile, PruneMethod } from '../../protocol/expertOps';

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

/** The statistic for every expert of one layer. Experts never selected score 0 on the per-selection means. */
export function expertStatistic(l: LayerProfile, stat: ExpertStatistic): number[] {
  const per = (num: readonly number[]): number[] => num.map((v, e) => (l.count[e]! > 0 ? v / l.count[e]! : 0));
  switch (stat) {
    case 'frequency':
      return l.count.map((n) => (l.tokens > 0 ? n / l.tokens : 0));
    case 'gate':
      return [...l.gateSum];
    case 'gateMean':
      return per(l.gateSum);
    case 'importance':
      return [...l.probSum];
    case 'reap':
      return per(l.reapSum);
    case 'ean':
      return [...l.eanSum];
    case 'normMean':
      return per(l.eanSum);
    case 'maxNorm':
      return [...l.maxNorm];
  }
}
