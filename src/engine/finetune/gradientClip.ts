// Gradient clipping by the global L2 norm over every trained tensor, as torch.nn.utils.clip_grad_norm_
// does: scale = max_norm / (norm + 1e-6), applied only when below 1. The norm is accumulated in float64 in
// a fixed order, so it is deterministic: each tensor's sum of squares in 8 lanes (entry i goes to lane
// i mod 8, each lane summed in entry order, the lanes then added pairwise: ((0+1)+(2+3))+((4+5)+(6+7))),
// then the tensors' sums one after another in their given order. Eight independent float64 sums are not
// bound by the latency of one float64 add per entry as a single running sum is; the sum runs in the AdamW
// module (adamwWasm.ts: sumsq, four float32 a load, ~3x faster than the single running sum in JS), bit for
// bit the JS loop here (sumOfSquaresJs). maxNorm 0 disables clipping (the norm is still reported). The
// trainer does not scale the gradients here: the optimizer applies the scale inside its update pass
// (Optimizer.apply's gradScale), with the same float32 product as clipGradients.
import { AdamWKernel } from './adamwKernel';

export interface ClipResult {
  /** The global norm before clipping. */
  readonly norm: number;
  /** The factor the gradients were multiplied by (1 when not clipped). */
  readonly scale: number;
}

let kernel: AdamWKernel | null | undefined;

/** One tensor's sum of squares in float64, in 8 lanes (see above): through the wasm SIMD kernel (~3x faster), else in JS. */
export function sumOfSquares(g: Float32Array): number {
  if (kernel === undefined) kernel = AdamWKernel.create() ?? null;
  return kernel ? kernel.sumOfSquares(g) : sumOfSquaresJs(g);
}

/** The reference: one tensor's sum of squares in float64, in 8 lanes (see above). */
export function sumOfSquaresJs(g: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  let s5 = 0;
  let s6 = 0;
  let s7 = 0;
  const n = g.length;
  const whole = n - (n % 8);
  for (let i = 0; i < whole; i += 8) {
    const a0 = g[i]!;
    const a1 = g[i + 1]!;
    const a2 = g[i + 2]!;
    const a3 = g[i + 3]!;
    const a4 = g[i + 4]!;
    const a5 = g[i + 5]!;
    const a6 = g[i + 6]!;
    const a7 = g[i + 7]!;
    s0 += a0 * a0;
    s1 += a1 * a1;
    s2 += a2 * a2;
    s3 += a3 * a3;
    s4 += a4 * a4;
    s5 += a5 * a5;
    s6 += a6 * a6;
    s7 += a7 * a7;
  }
  // The last entries continue their lanes (a float32 squared is exact in float64).
  const sq = (i: number): number => (i < n ? g[i]! * g[i]! : 0);
  if (whole < n) {
    s0 += sq(whole);
    s1 += sq(whole + 1);
    s2 += sq(whole + 2);
    s3 += sq(whole + 3);
    s4 += sq(whole + 4);
    s5 += sq(whole + 5);
    s6 += sq(whole + 6);
  }
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}

export function globalNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) s += sumOfSquares(g);
  return Math.sqrt(s);
}

/** The global norm and the float32 factor clipping multiplies every gradient entry by (1: none). */
export function clipScale(grads: readonly Float32Array[], maxNorm: number): ClipResult {
  const norm = globalNorm(grads);
  if (maxNorm <= 0 || !Number.isFinite(norm)) return { norm, scale: 1 };
  const coef = maxNorm / (norm + 1e-6);
  return { norm, scale: coef >= 1 ? 1 : Math.fround(coef) };
}

/** Clips `grads` in place. A non-finite norm is returned as is and nothing is scaled (the trainer stops). */
export function clipGradients(grads: readonly Float32Array[], maxNorm: number): ClipResult {
  const r = clipScale(grads, maxNorm);
  const c = r.scale;
  if (c !== 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i]! * c);
  return r;
}
