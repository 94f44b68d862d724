// Pure math on rows of next-token logits ([T, V] float32, row-major), accumulated in float64: log-softmax,
// KL divergence between two models' distributions and argmax. Used by the before/after evaluation.

/**
 * out[j] = log softmax(logits[offset .. offset+V))[j], stable (log-sum-exp around the row's max). A -Infinity
 * logit gives -Infinity. A row with no finite maximum (all -Infinity, +Infinity or NaN) is not a
 * distribution: out is filled with NaN.
 */
export function logSoftmaxRow(logits: Float32Array, offset: number, V: number, out: Float64Array): void {
  const lse = logSumExp(logits, offset, V);
  if (!Number.isFinite(lse.max)) {
    out.fill(NaN, 0, V);
    return;
  }
  for (let j = 0; j < V; j++) out[j] = logits[offset + j]! - lse.max - lse.logSum;
}

/**
 * KL(softmax(base row) ‖ softmax(cand row)) in nats, for row `row` of two [*, V] logit matrices.
 * Terms where the baseline's probability is 0 contribute 0; a token the baseline gives mass and the
 * candidate gives none (-Infinity logit) makes it +Infinity. Rounding can make the sum a hair below 0:
 * the result is clamped at 0. NaN when either row is not a distribution (see logSoftmaxRow).
 */
export function klDivergence(base: Float32Array, cand: Float32Array, row: number, V: number): number {
  const o = row * V;
  const a = logSumExp(base, o, V);
  const b = logSumExp(cand, o, V);
  if (!Number.isFinite(a.max) || !Number.isFinite(b.max)) return NaN;
  let kl = 0;
  for (let j = 0; j < V; j++) {
    const lp = base[o + j]! - a.max - a.logSum;
    const p = Math.exp(lp);
    if (p === 0) continue;
    const lq = cand[o + j]! - b.max - b.logSum;
    kl += p * (lp - lq);
  }
  return Number.isNaN(kl) ? NaN : Math.max(0, kl);
}

/** Index of the largest logit of row `row` (the first on ties; 0 when no entry exceeds -Infinity). */
export function argmaxRow(logits: Float32Array, row: number, V: number): number {
  const o = row * V;
  let best = 0;
  let max = -Infinity;
  for (let j = 0; j < V; j++) {
    const v = logits[o + j]!;
    if (v > max) {
      max = v;
      best = j;
    }
  }
  return best;
}

/** max and log Σ exp(x - max) of one row; max is -Infinity/+Infinity/NaN when the row has no finite maximum. */
function logSumExp(logits: Float32Array, offset: number, V: number): { max: number; logSum: number } {
  let max = -Infinity;
  for (let j = 0; j < V; j++) {
    const v = logits[offset + j]!;
    if (v > max || v !== v) max = v;
    if (max !== max) break;
  }
  if (!Number.isFinite(max)) return { max, logSum: NaN };
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[offset + j]! - max);
  return { max, logSum: Math.log(s) };
}
