// Seeded randomness for upcycling. Every random choice draws from its own stream, keyed by (seed, layer,
// expert, purpose), so each tensor can be produced on its own when the writer reaches it (one tensor in
// memory at a time) and still be the same bytes for the same seed, whatever order tensors are written in.

/** A uniform generator on [0, 1): mulberry32 (as in finetune/finetuneRun.ts), seeded from the key. */
export type Uniform = () => number;

/** What a stream is for; part of its key, so two purposes never share numbers. */
export const Purpose = { router: 1, permutation: 2, neuronSet: 3, values: 4, split: 5 } as const;

/** FNV-1a over the key's integers, then mixed: distinct keys give unrelated mulberry32 states. */
function stateOf(key: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const k of key) {
    h = Math.imul(h ^ (k & 0xffff), 0x01000193);
    h = Math.imul(h ^ (k >>> 16), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The stream for `key` (seed first, then layer, expert, purpose, ...: non-negative integers). */
export function stream(...key: number[]): Uniform {
  let a = stateOf(key);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Standard normal draws (Box–Muller in float64), two per pair of uniforms. */
export function normals(u: Uniform): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u1 = 1 - u(); // (0, 1]: log never sees 0
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, u: Uniform): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** `count` distinct indices of 0..n-1, sorted (the first `count` of a random permutation). */
export function randomSubset(n: number, count: number, u: Uniform): Int32Array {
  return permutation(n, u).slice(0, count).sort();
}
