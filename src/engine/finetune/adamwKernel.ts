// One tensor's AdamW update, in float32 as torch 1.13's _single_tensor_adamw: the reference loop in JS
// (every operation rounded with Math.fround) and the same operation sequence through the wasm SIMD module
// (adamwWasm.ts), which is bit for bit equal (test/unit/adamwKernel.test.ts) and ~10x faster. The weights
// and gradients stay JS Float32Arrays (the masters are also the engine's weight overrides, the gradients
// come from the engine; wasm memory cannot alias them): blocks of each are copied into the module's staging
// blocks, updated there in the core's cache, and w copied back. The moments belong to the optimizer alone,
// so they can live in the module's memory for good (allocate: resident moments, no copies); moments held in
// JS arrays (step) are staged like w.
import { ADAMW_BLOCK, ADAMW_STAGING, type AdamWInstance, G_AT, instantiateAdamW, M_AT, V_AT, W_AT } from './adamwWasm';

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

/** A tensor's moments kept in a kernel's memory: the byte offsets of m and v, and their length. */
export interface ResidentMoments {
  readonly m: number;
  readonly v: number;
  readonly length: number;
}

/** The largest memory a kernel grows to (wasm32: 4 GiB; V8's limit for one memory). */
const MAX_BYTES = 2 ** 32;

/** One wasm instance: its staging blocks, and the moments it keeps (allocated, never freed: one per optimizer). */
export class AdamWKernel {
  private buffer: ArrayBuffer | undefined;
  private f32 = new Float32Array(0);
  /** The first byte no moments use. */
  private top = ADAMW_STAGING;

  private constructor(private readonly k: AdamWInstance) {}

  /** The kernel, or undefined where WebAssembly SIMD is unavailable. */
  static create(): AdamWKernel | undefined {
    const k = instantiateAdamW();
    return k ? new AdamWKernel(k) : undefined;
  }

  /** A float32 view of the memory as it is now (a grow replaces the buffer). */
  private get mem(): Float32Array {
    if (this.buffer !== this.k.memory.buffer) {
      this.buffer = this.k.memory.buffer;
      this.f32 = new Float32Array(this.buffer);
    }
    return this.f32;
  }

  /**
   * Room for the zero moments of an `n`-element tensor in the module's memory, or undefined when it would
   * not fit in the 4 GiB a memory can have (the caller keeps those moments in JS arrays then).
   */
  allocate(n: number): ResidentMoments | undefined {
    // Whole groups of 4: a last partial group's stale lanes are written to this tensor's own padding.
    const bytes = 4 * (Math.ceil(n / 4) * 4);
    const need = this.top + 2 * bytes;
    if (need > MAX_BYTES) return undefined;
    const have = this.k.memory.buffer.byteLength;
    if (need > have) {
      try {
        this.k.memory.grow(Math.ceil((need - have) / 65536));
      } catch {
        return undefined; // RangeError: the engine refused to grow (address space, a lower limit)
      }
    }
    const r = { m: this.top, v: this.top + bytes, length: n };
    this.top = need; // never used before: zeros, as a fresh memory page is
    return r;
  }

  /** Views of resident moments (valid until the next allocate: a grow detaches them). */
  views(r: ResidentMoments): { readonly m: Float32Array; readonly v: Float32Array } {
    const mem = this.mem;
    return { m: mem.subarray(r.m / 4, r.m / 4 + r.length), v: mem.subarray(r.v / 4, r.v / 4 + r.length) };
  }

  /** adamwJs with the moments resident in the module's memory: w and g are staged block by block. */
  stepResident(w: Float32Array, g: Float32Array, r: ResidentMoments, c: AdamWConstants): void {
    const n = w.length;
    if (g.length !== n || r.length !== n) throw new RangeError(`adamw: lengths ${n}, ${g.length}, ${r.length}`);
    const mem = this.mem;
    for (let at = 0; at < n; at += ADAMW_BLOCK) {
      const len = Math.min(ADAMW_BLOCK, n - at);
      mem.set(w.subarray(at, at + len), W_AT / 4);
      mem.set(g.subarray(at, at + len), G_AT / 4);
      this.k.adamw((len + 3) >>> 2, W_AT, G_AT, r.m + 4 * at, r.v + 4 * at, c.clip, c.decay, c.b1, c.a1, c.b2, c.a2, c.bc2Sqrt, c.eps, c.stepSize);
      w.set(mem.subarray(W_AT / 4, W_AT / 4 + len), at);
    }
  }

  /**
   * sumOfSquaresJs (gradientClip.ts) through the module, bit for bit: g staged block by block (a last
   * partial run of 8 padded with zeros, which leave a lane's sum as it is), the 8 lane sums kept in the
   * M staging block between calls, then added pairwise as the reference does.
   */
  sumOfSquares(g: Float32Array): number {
    const mem = this.mem;
    const lanes = new Float64Array(mem.buffer, M_AT, 8);
    lanes.fill(0);
    for (let at = 0; at < g.length; at += ADAMW_BLOCK) {
      const len = Math.min(ADAMW_BLOCK, g.length - at);
      mem.set(g.subarray(at, at + len), G_AT / 4);
      const groups = Math.ceil(len / 8);
      mem.fill(0, G_AT / 4 + len, G_AT / 4 + 8 * groups);
      this.k.sumsq(groups, G_AT, M_AT);
    }
    const [s0, s1, s2, s3, s4, s5, s6, s7] = lanes as unknown as number[];
    return s0! + s1! + (s2! + s3!) + (s4! + s5! + (s6! + s7!));
  }

  /** adamwJs with the moments in JS arrays: w, g, m, v staged block by block, w, m, v copied back. */
  step(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWConstants): void {
    const n = w.length;
    if (g.length !== n || m.length !== n || v.length !== n) throw new RangeError(`adamw: lengths ${n}, ${g.length}, ${m.length}, ${v.length}`);
    const mem = this.mem;
    for (let at = 0; at < n; at += ADAMW_BLOCK) {
      const len = Math.min(ADAMW_BLOCK, n - at);
      const end = at + len;
      mem.set(w.subarray(at, end), W_AT / 4);
      mem.set(g.subarray(at, end), G_AT / 4);
      mem.set(m.subarray(at, end), M_AT / 4);
      mem.set(v.subarray(at, end), V_AT / 4);
      // A last partial group computes on stale lanes that are not copied back.
      this.k.adamw((len + 3) >>> 2, W_AT, G_AT, M_AT, V_AT, c.clip, c.decay, c.b1, c.a1, c.b2, c.a2, c.bc2Sqrt, c.eps, c.stepSize);
      w.set(mem.subarray(W_AT / 4, W_AT / 4 + len), at);
      m.set(mem.subarray(M_AT / 4, M_AT / 4 + len), at);
      v.set(mem.subarray(V_AT / 4, V_AT / 4 + len), at);
    }
  }
}
