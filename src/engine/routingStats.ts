// Per-token statistics of a router's output.

/** Entropy (nats) of softmax(logits) for each row of a [rows, cols] matrix, computed in float64. */
export function softmaxEntropy(logits: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, logits[o + j]!);
    let z = 0;
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const d = logits[o + j]! - max;
      const e = Math.exp(d);
      z += e;
      s += e * d;
    }
    // H = -sum p log p = log Z - sum(e*d)/Z with d = logit - max.
    out[r] = Math.log(z) - s / z;
  }
  return out;
}

/**
 * HF `load_balancing_loss_func`: router logits of all MoE layers pooled ([layers*T, E]), softmax, top-k
 * one-hot averaged over tokens ([k, E]) times mean probability per expert ([E]), summed, times E.
 */
export function loadBalancingLoss(layers: readonly { logits: Float32Array; rows: number }[], numExperts: number, topK: number): number {
  const E = numExperts;
  const tokensPerExpert = new Float64Array(topK * E);
  const probPerExpert = new Float64Array(E);
  let n = 0;
  const p = new Float64Array(E);
  for (const { logits, rows } of layers) {
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, logits[r * E + e]!);
      let z = 0;
      for (let e = 0; e < E; e++) z += p[e] = Math.exp(logits[r * E + e]! - max);
      for (let e = 0; e < E; e++) probPerExpert[e]! += (p[e]! /= z);
      const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => p[b]! - p[a]!);
      for (let j = 0; j < topK; j++) tokensPerExpert[j * E + order[j]!]! += 1;
      n++;
    }
  }
  let loss = 0;
  for (let j = 0; j < topK; j++) for (let e = 0; e < E; e++) loss += (tokensPerExpert[j * E + e]! / n) * (probPerExpert[e]! / n);
  return loss * E;
}
