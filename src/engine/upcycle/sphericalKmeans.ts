// Spherical k-means (cosine similarity) with seeded k-means++ starts: the clustering behind the k-means
// router init. A router row scores a token by a dot product, so clusters by direction are what equal-norm
// rows separate: a token goes to the expert whose row points most its way.
import { stream } from './upcycleRandom';

export interface KmeansResult {
  /** [k, dim] unit-norm centroids. */
  readonly centroids: Float32Array;
  /** Points per cluster at the end. */
  readonly sizes: number[];
  readonly iterations: number;
}

function normalise(v: Float32Array): void {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ai + j]! * b[bi + j]!;
  return s;
}

/** Clusters the `n` rows of `points` ([n, dim]) into `k` (n >= k); deterministic for a seed. */
export function sphericalKmeans(points: Float32Array, n: number, dim: number, k: number, seed: number, maxIterations = 50): KmeansResult {
  const x = Float32Array.from(points);
  for (let i = 0; i < n; i++) normalise(x.subarray(i * dim, (i + 1) * dim));
  const u = stream(seed, 0xfffd, k, 0);
  const c = new Float32Array(k * dim);
  // k-means++: each next start drawn with probability ∝ its cosine distance to the nearest start so far.
  const best = new Float64Array(n).fill(-Infinity);
  let pick = Math.floor(u() * n);
  for (let e = 0; e < k; e++) {
    c.set(x.subarray(pick * dim, (pick + 1) * dim), e * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      best[i] = Math.max(best[i]!, dot(x, i * dim, c, e * dim, dim));
      total += Math.max(0, 1 - best[i]!);
    }
    if (e === k - 1) break;
    let r = u() * total;
    pick = -1;
    for (let i = 0; i < n && pick < 0; i++) {
      r -= Math.max(0, 1 - best[i]!);
      if (r <= 0 && best[i]! < 1) pick = i;
    }
    if (pick < 0) pick = Math.floor(u() * n); // every point already coincides with a start
  }
  const assign = new Int32Array(n).fill(-1);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    let changed = 0;
    const score = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let arg = 0;
      let top = -Infinity;
      for (let e = 0; e < k; e++) {
        const s = dot(x, i * dim, c, e * dim, dim);
        if (s > top) [top, arg] = [s, e];
      }
      score[i] = top;
      if (assign[i] !== arg) changed++;
      assign[i] = arg;
    }
    if (changed === 0) break;
    c.fill(0);
    const sizes = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      const e = assign[i]!;
      sizes[e]!++;
      for (let j = 0; j < dim; j++) c[e * dim + j] += x[i * dim + j]!;
    }
    // An empty cluster restarts at the point its cluster fits worst, so all k experts get a direction.
    for (let e = 0; e < k; e++) {
      if (sizes[e]! > 0) continue;
      let worst = 0;
      for (let i = 1; i < n; i++) if (score[i]! < score[worst]!) worst = i;
      c.set(x.subarray(worst * dim, (worst + 1) * dim), e * dim);
      score[worst] = Infinity;
      assign[worst] = -1;
    }
    for (let e = 0; e < k; e++) normalise(c.subarray(e * dim, (e + 1) * dim));
  }
  const sizes = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) if (assign[i]! >= 0) sizes[assign[i]!]!++;
  return { centroids: c, sizes, iterations };
}
