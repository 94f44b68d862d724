// One tensor's AdamW update, in float32 as torch 1.13's _single_tensor_adamw: the reference loop in JS
// (every operation rounded with Math.fround) and the same operation sequence through the wasm SIMD module
// (adamwWasm.ts), which is bit for bit equal (test/unit/adamwKernel.test.ts) and ~10x faster. The tensors
// stay JS Float32Arrays (the masters are also the engine's weight overrides; wasm memory cannot alias
// them): blocks of each are copied into the module's memory, updated there in the core's cache, and w, m,
// v copied back; the copies cost little next to the memory traffic the update needs anyway.
import { ADAMW_BLOCK, type AdamWInstance, instantiateAdamW } from './adamwWasm';

/** The float32 scalars of one step (see adamwConstants). */
export interface AdamWConstants {
  /** Gradient scale of clipping (1: none); g' = fround((g + 0) · clip). */
  readonly clip: number;
  /** fround(1 − lr·weightDecay) (1 when no decay: w · 1 is w). */
  readonly decay: number;
  readonly b1: number;
  readonly a1: number;
  readonly b2: number;
  readonly a2: number;
  readonly bc2Sqrt: number;
  readonly eps: number;
  readonly stepSize: number;
}

/** The constants of step `t` (1-based) at learning rate `lr`, each rounded to float32 as torch does. */
export function adamwConstants(o: { readonly beta1: number; readonly beta2: number; readonly eps: number }, t: number, lr: number, weightDecay: number, clip = 1): AdamWConstants {
  const f = Math.fround;
  return {
    clip: f(clip),
    decay: weightDecay !== 0 ? f(1 - lr * weightDecay) : 1,
    b1: f(o.beta1),
    a1: f(1 - o.beta1),
    b2: f(o.beta2),
    a2: f(1 - o.beta2),
    bc2Sqrt: f(Math.sqrt(1 - o.beta2 ** t)),
    eps: f(o.eps),
    stepSize: f(lr / (1 - o.beta1 ** t)),
  };
}

/** The reference: w, m, v updated in place from g, one element at a time. */
export function adamwJs(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWConstants): void {
  const f = Math.fround;
  const { clip, decay, b1, a1, b2, a2, bc2Sqrt, eps, stepSize } = k;
  for (let i = 0; i < w.length; i++) {
    // -0 counts as +0 (the trainer's float32 accumulation 0 + g made it so); clip 1 leaves g as is.
    const gi = f((g[i]! + 0) * clip);
    // torch 1.13: param.mul_(1 - lr·wd); exp_avg.mul_(β1).add_(g, alpha=1-β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1-β2)
    const wi = f(w[i]! * decay);
    const mi = (m[i] = f(f(m[i]! * b1) + f(a1 * gi)));
    const vi = (v[i] = f(f(v[i]! * b2) + f(a2 * f(gi * gi))));
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
    w[i] = f(wi - f(f(stepSize * mi) / denom));
  }
}

/** One thread's wasm instance and the views of its memory. */
export class AdamWKernel {
  private readonly w: Float32Array;
  private readonly g: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  private constructor(private readonly k: AdamWInstance) {
    const view = (i: number): Float32Array => new Float32Array(k.memory, i * ADAMW_BLOCK * 4, ADAMW_BLOCK);
    [this.w, this.g, this.m, this.v] = [view(0), view(1), view(2), view(3)];
  }

  /** The kernel, or undefined where WebAssembly SIMD is unavailable. */
  static create(): AdamWKernel | undefined {
    const k = instantiateAdamW();
    return k ? new AdamWKernel(k) : undefined;
  }

  /** adamwJs, block by block through the module. */
  step(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWConstants): void {
    const n = w.length;
    if (g.length !== n || m.length !== n || v.length !== n) throw new RangeError(`adamw: lengths ${n}, ${g.length}, ${m.length}, ${v.length}`);
    for (let at = 0; at < n; at += ADAMW_BLOCK) {
      const len = Math.min(ADAMW_BLOCK, n - at);
      const end = at + len;
      this.w.set(w.subarray(at, end));
      this.g.set(g.subarray(at, end));
      this.m.set(m.subarray(at, end));
      this.v.set(v.subarray(at, end));
      // A last partial group computes on stale lanes that are not copied back.
      this.k.adamw((len + 3) >>> 2, c.clip, c.decay, c.b1, c.a1, c.b2, c.a2, c.bc2Sqrt, c.eps, c.stepSize);
      w.set(this.w.subarray(0, len), at);
      m.set(this.m.subarray(0, len), at);
      v.set(this.v.subarray(0, len), at);
    }
  }
}

let shared: AdamWKernel | null | undefined;

/** This thread's kernel, or undefined where WebAssembly SIMD is unavailable (adamwJs is used then). */
export function adamwKernel(): AdamWKernel | undefined {
  if (shared === undefined) shared = AdamWKernel.create() ?? null;
  return shared ?? undefined;
}

/** adamwJs through the wasm kernel when there is one. */
export function adamwUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWConstants): void {
  const k = adamwKernel();
  if (k) k.step(w, g, m, v, c);
  else adamwJs(w, g, m, v, c);
}
