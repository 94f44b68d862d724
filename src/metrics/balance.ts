// Load and balance of one MoE layer over a set of tokens (docs/moe-methods.md §2.1).
import type { LayerBalance } from '../protocol/explorerProtocol';

/**
 * `experts` holds k expert ids per token (token t at [t*k, t*k+k)); `include(t)` filters tokens (e.g. those
 * whose routing is known). Load n_e counts a token once per expert in its top-k.
 */
export function layerBalance(layer: number, experts: Int32Array, entropy: Float32Array, numExperts: number, topK: number, include: (t: number) => boolean = () => true): LayerBalance {
  const E = numExperts;
  const load = new Array<number>(E).fill(0);
  const T = entropy.length;
  let n = 0;
  let entropySum = 0;
  for (let t = 0; t < T; t++) {
    if (!include(t)) continue;
    n++;
    entropySum += entropy[t]!;
    for (let j = 0; j < topK; j++) {
      const e = experts[t * topK + j]!;
      if (e >= 0 && e < E) load[e]!++;
    }
  }
  const ideal = (n * topK) / E; // n̄: the load under perfect balance
  const mean = load.reduce((a, b) => a + b, 0) / E;
  const std = Math.sqrt(load.reduce((a, b) => a + (b - mean) ** 2, 0) / E);
  const meanEntropy = n > 0 ? entropySum / n : 0;
  return {
    layer,
    load,
    cv: mean > 0 ? std / mean : 0,
    maxVio: ideal > 0 ? (Math.max(...load) - ideal) / ideal : 0,
    meanEntropy,
    meanEntropyNormalised: E > 1 ? meanEntropy / Math.log(E) : 0,
    neverSelected: n > 0 ? load.flatMap((c, e) => (c === 0 ? [e] : [])) : [],
  };
}
