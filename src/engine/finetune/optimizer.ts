// The optimizers of fine-tuning (issue #10 §3), applied in place to float32 master copies of the trained
// tensors. AdamW follows torch.optim.AdamW (decoupled weight decay applied first, then the bias-corrected
// update p -= (lr/bc1 · m) / (sqrt(v)/sqrt(bc2) + eps), as torch 1.13's _single_tensor_adamw); every operation is rounded to float32 as PyTorch's
// float32 kernels do, so a step is reproducible to the bit across runs and machines (no threads, fixed
// order). SGD (no momentum) is the check optimizer: one step is exactly p - lr·g.
import { MoeError } from '../../protocol/moeError';

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

export class Optimizer {
  private readonly moments = new Map<string, AdamMoments>();
  private t = 0;

  constructor(
    readonly kind: OptimizerKind,
    private readonly adam: AdamWOptions = ADAMW_DEFAULTS,
    state?: OptimizerState,
  ) {
    if (kind === 'adamw') {
      const { beta1, beta2, eps } = adam;
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0)) throw new MoeError('E_INPUT', `AdamW needs 0 <= beta < 1 and eps > 0 (got beta1 ${beta1}, beta2 ${beta2}, eps ${eps})`);
    }
    if (state) {
      if (state.kind !== kind) throw new MoeError('E_INPUT', `the saved optimizer state is ${state.kind}, not ${kind}`);
      this.t = state.step;
      for (const [k, v] of state.moments) this.moments.set(k, v);
    }
  }

  /** Steps taken so far. */
  get step(): number {
    return this.t;
  }

  /** Applies one step at learning rate `lr` to every tensor (each tensor independently, in the given order). */
  apply(params: readonly ParamStep[], lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) throw new MoeError('E_INPUT', `learning rate must be a finite number >= 0 (got ${lr})`);
    this.t++;
    for (const p of params) {
      if (p.param.length !== p.grad.length) throw new MoeError('E_INTERNAL', `${p.name}: ${p.param.length} parameters but ${p.grad.length} gradient entries`);
      if (this.kind === 'sgd') sgdStep(p, lr);
      else this.adamwStep(p, lr);
    }
  }

  /** A snapshot of the state (copies: later steps do not change it). */
  state(): OptimizerState {
    const moments = new Map<string, AdamMoments>();
    for (const [k, { m, v }] of this.moments) moments.set(k, { m: m.slice(), v: v.slice() });
    return { kind: this.kind, step: this.t, moments };
  }

  private adamwStep(p: ParamStep, lr: number): void {
    const { beta1, beta2, eps } = this.adam;
    let mo = this.moments.get(p.name);
    if (!mo) this.moments.set(p.name, (mo = { m: new Float32Array(p.param.length), v: new Float32Array(p.param.length) }));
    if (mo.m.length !== p.param.length) throw new MoeError('E_INPUT', `${p.name}: the saved optimizer state holds ${mo.m.length} entries, the tensor ${p.param.length}`);
    const f = Math.fround;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    const stepSize = f(lr / bc1);
    const bc2Sqrt = f(Math.sqrt(bc2));
    const decay = f(1 - lr * p.weightDecay);
    const b1 = f(beta1);
    const b2 = f(beta2);
    const a1 = f(1 - beta1);
    const a2 = f(1 - beta2);
    const e = f(eps);
    const { param: w, grad: g } = p;
    const { m, v } = mo;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      if (p.weightDecay !== 0) w[i] = f(w[i]! * decay);
      // torch 1.13: exp_avg.mul_(β1).add_(g, alpha=1-β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1-β2)
      const mi = (m[i] = f(f(m[i]! * b1) + f(a1 * gi)));
      const vi = (v[i] = f(f(v[i]! * b2) + f(a2 * f(gi * gi))));
      const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + e);
      w[i] = f(w[i]! - f(f(stepSize * mi) / denom));
    }
  }
}

function sgdStep(p: ParamStep, lr: number): void {
  const f = Math.fround;
  const r = f(lr);
  const decay = f(1 - lr * p.weightDecay);
  const { param: w, grad: g } = p;
  for (let i = 0; i < w.length; i++) {
    if (p.weightDecay !== 0) w[i] = f(w[i]! * decay);
    w[i] = f(w[i]! - f(r * g[i]!));
  }
}
