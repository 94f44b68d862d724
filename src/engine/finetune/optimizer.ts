// The optimizers of fine-tuning (issue #10 §3), applied in place to float32 master copies of the trained
// tensors. AdamW follows torch.optim.AdamW (decoupled weight decay applied first, then the bias-corrected
// update p -= (lr/bc1 · m) / (sqrt(v)/sqrt(bc2) + eps), as torch 1.13's _single_tensor_adamw); every operation is rounded to float32 as PyTorch's
// float32 kernels do, so a step is reproducible to the bit across runs and machines (no threads, fixed
// order). SGD (no momentum) is the check optimizer: one step is exactly p - lr·g. The AdamW update runs
// through a wasm SIMD kernel with the same float32 operation sequence (adamwKernel.ts; JS where wasm SIMD
// is unavailable), and clipping's scale is applied inside the update pass (apply's gradScale). Each
// optimizer has its own kernel and keeps the moments in its memory (resident: not copied in and out every
// step; JS arrays past the 4 GiB a wasm memory holds); state() copies them out, a saved state is copied in.
import { MoeError } from '../../protocol/moeError';
import { adamwConstants, adamwJs, AdamWKernel, type ResidentMoments } from './adamwKernel';

export type OptimizerKind = 'adamw' | 'sgd';

export interface AdamWOptions {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8 };

/** One tensor's moments; kept as float32 like PyTorch's exp_avg / exp_avg_sq of a float32 parameter. */
export interface AdamMoments {
  readonly m: Float32Array;
  readonly v: Float32Array;
}

/** What a resumed run needs to continue exactly: the step count and every tensor's moments. */
export interface OptimizerState {
  readonly kind: OptimizerKind;
  readonly step: number;
  readonly moments: ReadonlyMap<string, AdamMoments>;
}

export interface ParamStep {
  readonly name: string;
  readonly param: Float32Array;
  readonly grad: Float32Array;
  /** Decoupled weight decay of this tensor (0 for norms and biases). */
  readonly weightDecay: number;
}

/** Where one tensor's moments are: the kernel's memory, or JS arrays. */
type Moments = { readonly resident: ResidentMoments } | (AdamMoments & { readonly resident?: undefined });

export class Optimizer {
  private readonly moments = new Map<string, Moments>();
  private t = 0;
  /** The AdamW kernel holding the resident moments (null: wasm SIMD unavailable, adamwJs runs). */
  private readonly kernel: AdamWKernel | null;

  constructor(
    readonly kind: OptimizerKind,
    private readonly adam: AdamWOptions = ADAMW_DEFAULTS,
    state?: OptimizerState,
  ) {
    if (kind === 'adamw') {
      const { beta1, beta2, eps } = adam;
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) throw new MoeError('E_INPUT', `AdamW needs 0 <= beta < 1 and eps > 0 (got beta1 ${beta1}, beta2 ${beta2}, eps ${eps})`);
    }
    this.kernel = kind === 'adamw' ? (AdamWKernel.create() ?? null) : null;
    if (state) {
      if (state.kind !== kind) throw new MoeError('E_INPUT', `the saved optimizer state is ${state.kind}, not ${kind}`);
      this.t = state.step;
      for (const [k, { m, v }] of state.moments) {
        if (m.length !== v.length) throw new MoeError('E_INPUT', `${k}: the saved optimizer state holds ${m.length} first and ${v.length} second moments`);
        const r = this.kernel?.allocate(m.length);
        if (r) {
          const views = this.kernel!.views(r);
          views.m.set(m);
          views.v.set(v);
          this.moments.set(k, { resident: r });
        } else {
          this.moments.set(k, { m: m.slice(), v: v.slice() });
        }
      }
    }
  }

  /** Steps taken so far. */
  get step(): number {
    return this.t;
  }

  /**
   * Applies one step at learning rate `lr` to every tensor (each tensor independently, in the given order),
   * with the gradients multiplied by `gradScale` (clipping's factor, as clipGradients would have scaled
   * them: fround(g · scale)) inside the update; the gradients themselves are not changed.
   */
  apply(params: readonly ParamStep[], lr: number, gradScale = 1): void {
    if (!Number.isFinite(lr) || lr < 0) throw new MoeError('E_INPUT', `learning rate must be a finite number >= 0 (got ${lr})`);
    if (!(gradScale >= 0 && gradScale <= 1)) throw new MoeError('E_INTERNAL', `gradient scale must be in [0, 1] (got ${gradScale})`);
    this.t++;
    for (const p of params) {
      if (p.param.length !== p.grad.length) throw new MoeError('E_INTERNAL', `${p.name}: ${p.param.length} parameters but ${p.grad.length} gradient entries`);
      if (this.kind === 'sgd') sgdStep(p, lr, gradScale);
      else this.adamwStep(p, lr, gradScale);
    }
  }

  /** A snapshot of the state (copies: later steps do not change it). */
  state(): OptimizerState {
    const moments = new Map<string, AdamMoments>();
    for (const [k, mo] of this.moments) {
      const { m, v } = mo.resident ? this.kernel!.views(mo.resident) : mo;
      moments.set(k, { m: m.slice(), v: v.slice() });
    }
    return { kind: this.kind, step: this.t, moments };
  }

  private adamwStep(p: ParamStep, lr: number, gradScale: number): void {
    const n = p.param.length;
    let mo = this.moments.get(p.name);
    if (!mo) {
      const r = this.kernel?.allocate(n);
      this.moments.set(p.name, (mo = r ? { resident: r } : { m: new Float32Array(n), v: new Float32Array(n) }));
    }
    const have = mo.resident ? mo.resident.length : mo.m.length;
    if (have !== n) throw new MoeError('E_INPUT', `${p.name}: the saved optimizer state holds ${have} entries, the tensor ${n}`);
    const c = adamwConstants(this.adam, this.t, lr, p.weightDecay, gradScale);
    if (mo.resident) this.kernel!.stepResident(p.param, p.grad, mo.resident, c);
    else if (this.kernel) this.kernel.step(p.param, p.grad, mo.m, mo.v, c);
    else adamwJs(p.param, p.grad, mo.m, mo.v, c);
  }
}

function sgdStep(p: ParamStep, lr: number, gradScale: number): void {
  const f = Math.fround;
  const r = f(lr);
  const c = f(gradScale);
  const decay = p.weightDecay !== 0 ? f(1 - lr * p.weightDecay) : 1;
  const { param: w, grad: g } = p;
  // As adamwJs: -0 counts as +0, the clip scale is applied as fround(g · c), decay 1 leaves w as is.
  for (let i = 0; i < w.length; i++) w[i] = f(f(w[i]! * decay) - f(r * f((g[i]! + 0) * c)));
}
