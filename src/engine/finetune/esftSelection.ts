// Expert-Specialized Fine-Tuning's relevance scores and selection (ESFT, ../shared/docs/moe-methods.md §5.1),
// computed as the paper defines them: per sequence j of length L_j, the per-token average over its tokens,
// then the mean over sequences —
//   ESFT-Gate   g_i = (1/N) Σ_j (1/L_j) Σ_k gate weight of expert i at token k (0 when not chosen)
//   ESFT-Token  r_i = (1/N) Σ_j (1/L_j) Σ_k 1[i chosen at token k] / K
// (the released generate_expert_config.py pools over tokens and divides by a sum over layers instead; that
// does not reproduce the released summaries, so it is not followed). Per layer Σ_i r_i = 1.
// Selection per layer: experts by score, descending (ties: lower id first), until the cumulative score
// reaches the threshold p — the minimal such prefix.
import { MoeError } from '../../protocol/moeError';
import type { LayerRouting } from '../../protocol/engineProtocol';

export type EsftMethod = 'esft-token' | 'esft-gate';

/** The paper's thresholds: p = 0.2 for token selection ratios (the released example), 0.1 for gate scores. */
export const ESFT_DEFAULT_THRESHOLD: Readonly<Record<EsftMethod, number>> = { 'esft-token': 0.2, 'esft-gate': 0.1 };

export interface LayerEsftScores {
  readonly layer: number;
  /** r_i, per expert. */
  readonly token: Float64Array;
  /** g_i, per expert. */
  readonly gate: Float64Array;
}

/** Accumulates the scores over sequences (one add() per sequence's routing). */
export class EsftScores {
  private readonly sums = new Map<number, { token: Float64Array; gate: Float64Array }>();
  private sequences = 0;
  private tokenCount = 0;

  /** MoE layers and their expert counts. */
  constructor(private readonly layers: ReadonlyMap<number, number>) {}

  /** One sequence's routing (every MoE layer). A sequence of no tokens is skipped. */
  add(routing: readonly LayerRouting[]): void {
    const T = routing[0]?.experts.rows ?? 0;
    if (T === 0) return;
    for (const r of routing) {
      const E = this.layers.get(r.layer);
      if (E === undefined) throw new MoeError('E_INTERNAL', `ESFT scores: layer ${r.layer} is not an MoE layer of this model`);
      if (r.experts.rows !== T) throw new MoeError('E_INTERNAL', `ESFT scores: layer ${r.layer} has ${r.experts.rows} tokens, layer ${routing[0]!.layer} ${T}`);
      let s = this.sums.get(r.layer);
      if (!s) this.sums.set(r.layer, (s = { token: new Float64Array(E), gate: new Float64Array(E) }));
      const K = r.experts.cols;
      // This sequence's per-token averages, added to the running sums of per-sequence averages.
      const token = new Float64Array(E);
      const gate = new Float64Array(E);
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < K; k++) {
          const e = r.experts.data[t * K + k]!;
          if (e < 0 || e >= E) throw new MoeError('E_INTERNAL', `ESFT scores: layer ${r.layer} routes to expert ${e} of ${E}`);
          token[e]! += 1 / K;
          gate[e]! += r.weights.data[t * K + k]!;
        }
      }
      for (let e = 0; e < E; e++) {
        s.token[e]! += token[e]! / T;
        s.gate[e]! += gate[e]! / T;
      }
    }
    this.sequences++;
    this.tokenCount += T;
  }

  get sequenceCount(): number {
    return this.sequences;
  }

  get tokens(): number {
    return this.tokenCount;
  }

  /** The scores per MoE layer, in layer order (zeros for a layer no sequence reached). */
  scores(): LayerEsftScores[] {
    const N = Math.max(1, this.sequences);
    return [...this.layers.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([layer, E]) => {
        const s = this.sums.get(layer);
        return { layer, token: Float64Array.from(s?.token ?? new Float64Array(E), (x) => x / N), gate: Float64Array.from(s?.gate ?? new Float64Array(E), (x) => x / N) };
      });
  }
}

/** The minimal prefix of experts by descending score whose cumulative score reaches p (all, when none does). */
export function selectByThreshold(scores: ArrayLike<number>, p: number): number[] {
  if (!(p > 0 && p <= 1)) throw new MoeError('E_INPUT', `--threshold must be a number in (0, 1] (got ${p})`);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const chosen: number[] = [];
  let sum = 0;
  for (const e of order) {
    if (sum >= p) break;
    chosen.push(e);
    sum += scores[e]!;
  }
  return chosen.sort((a, b) => a - b);
}

/** Per MoE layer, the experts ESFT selects with `method` at threshold `p`. */
export function esftSelection(scores: readonly LayerEsftScores[], method: EsftMethod, p: number = ESFT_DEFAULT_THRESHOLD[method]): Map<number, number[]> {
  return new Map(scores.map((s) => [s.layer, selectByThreshold(method === 'esft-token' ? s.token : s.gate, p)]));
}
