// Balanced k-means over the dense neurons' activation patterns (issue #11 §1, the data-driven split): the I
// neurons into E groups of exactly I/E, neurons that fire together on the data in one expert. Assignment is
// greedy by similarity under the capacity (the best (neuron, group) pairs first), then each centroid is
// the normalised mean of its group, until nothing moves. Starts from unbalanced spherical k-means.
import { sphericalKmeans } from './sphericalKmeans';

export interface BalancedGroups {
  /** E sorted groups of I/E neuron indices. */
  readonly groups: Int32Array[];
  readonly iterations: number;
}

/** `patterns` [I, N]: neuron n's activations over N tokens (any scale: compared by cosine). */
export function balancedNeuronGroups(patterns: Float32Array, I: number, N: number, E: number, seed: number, maxIterations = 30): BalancedGroups {
  const x = Float32Array.from(patterns);
  for (let n = 0; n < I; n++) {
    const row = x.subarray(n * N, (n + 1) * N);
    let s = 0;
    for (const v of row) s += v * v;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < N; j++) row[j] = row[j]! * inv;
  }
  const cap = I / E;
  const c = sphericalKmeans(x, I, N, E, seed).centroids;
  const assign = new Int32Array(I).fill(-1);
  const sim = new Float32Array(I * E);
  const order = new Int32Array(I * E);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    for (let n = 0; n < I; n++) {
      for (let e = 0; e < E; e++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += x[n * N + j]! * c[e * N + j]!;
        sim[n * E + e] = s;
      }
    }
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => sim[b]! - sim[a]! || a - b); // ties by index: deterministic
    const next = new Int32Array(I).fill(-1);
    const fill = new Int32Array(E);
    for (const pair of order) {
      const n = Math.floor(pair / E);
      const e = pair % E;
      if (next[n] !== -1 || fill[e]! >= cap) continue;
      next[n] = e;
      fill[e]!++;
    }
    const moved = next.some((e, n) => e !== assign[n]);
    assign.set(next);
    if (!moved) break;
    c.fill(0);
    for (let n = 0; n < I; n++) for (let j = 0; j < N; j++) c[assign[n]! * N + j] += x[n * N + j]!;
    for (let e = 0; e < E; e++) {
      const row = c.subarray(e * N, (e + 1) * N);
      let s = 0;
      for (const v of row) s += v * v;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = 0; j < N; j++) row[j] = row[j]! * inv;
    }
  }
  const groups = Array.from({ length: E }, (_, e) => Int32Array.from(assign.reduce<number[]>((acc, g, n) => (g === e ? (acc.push(n), acc) : acc), [])));
  return { groups, iterations };
}
