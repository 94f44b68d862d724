// HF's load-balancing loss and the router z-loss, pooled over the T rows of every MoE layer (N rows), from
// the forward's router logits and chosen experts, with the constant per-layer seeds of their gradients:
//   aux = E · Σ_e frac_e · meanProb_e, frac_e = (# rows whose top-k holds e) / N, meanProb_e = Σ_rows p_re / N
//   → d aux / d p_re = E · frac_e / N (frac is piecewise constant: its derivative is 0 almost everywhere);
//   z = Σ_rows lse_r² / N → d z / d z_re = 2 lse_r p_re / N, i.e. the seed z_coef / N on Σ_r lse_r².

export interface LayerRouting {
  /** [T, E] */
  readonly logits: Float32Array;
  /** [T, K] */
  readonly topk: BigInt64Array;
}

export interface PooledLosses {
  readonly auxLoss: number;
  readonly zLoss: number;
  /** [E] aux_coef · E · frac / N: the seed on every MoE layer's router probabilities. */
  readonly seedProbs: Float32Array;
  /** z_coef / N: the seed on every MoE layer's Σ_t lse_t². */
  readonly zScale: number;
}

export function pooledRouterLosses(layers: readonly LayerRouting[], T: number, E: number, auxCoef: number, zCoef: number): PooledLosses {
  const N = layers.length * T;
  if (N === 0) return { auxLoss: 0, zLoss: 0, seedProbs: new Float32Array(E), zScale: 0 };
  const frac = new Float64Array(E);
  const meanProb = new Float64Array(E);
  let zLoss = 0;
  for (const { logits, topk } of layers) {
    for (const e of topk) frac[Number(e)]! += 1 / N;
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, logits[t * E + e]!);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += Math.exp(logits[t * E + e]! - max);
      for (let e = 0; e < E; e++) meanProb[e]! += Math.exp(logits[t * E + e]! - max) / sum / N;
      const lse = max + Math.log(sum);
      zLoss += (lse * lse) / N;
    }
  }
  let auxLoss = 0;
  for (let e = 0; e < E; e++) auxLoss += E * frac[e]! * meanProb[e]!;
  return { auxLoss, zLoss, seedProbs: Float32Array.from(frac, (f) => (auxCoef * E * f) / N), zScale: zCoef / N };
}
