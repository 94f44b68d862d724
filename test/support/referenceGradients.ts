// Float64 losses and directional derivatives of the reference forward (referenceForward.ts), to judge the
// engine's gradients: loss = lm_loss + auxCoef · aux_loss + zCoef · z_loss with
// - lm_loss: HF ForCausalLMLoss (labels = input ids), averaged over the positions the mask keeps,
// - aux_loss: HF load_balancing_loss_func over the concatenated router logits of all MoE layers
//   (softmax over all experts, top-k one-hot, E · Σ_e fraction_e · mean_prob_e),
// - z_loss: mean over those rows of logsumexp(router logits)².
// Derivatives are central differences in float64 along a direction over some weights; a perturbation that
// changes any token's chosen experts (a top-k flip: the loss is not differentiable across it) is detected
// and the step shrunk.
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { expectedTensors, expertLayout } from '../../src/engine/model/tensorSpec';
import type { TrainableSet } from '../../src/engine/training/trainableSet';
import { sampler } from './randomCheckpoint';
import { referenceForward, type RefOutput } from './referenceForward';

export interface LossOptions {
  readonly auxCoef?: number;
  readonly zCoef?: number;
  /** [T-1] weights of the predicted positions (default all 1). */
  readonly lossMask?: ArrayLike<number>;
}

export interface RefLosses {
  readonly loss: number;
  readonly lmLoss: number;
  readonly auxLoss: number;
  readonly zLoss: number;
}

function logSumExp(v: ArrayLike<number>, from: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, v[from + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(v[from + i]! - max);
  return max + Math.log(s);
}

export function referenceLosses(c: ModelConfig, out: RefOutput, ids: readonly number[], opts: LossOptions = {}): RefLosses {
  const V = c.vocabSize;
  let nll = 0;
  let kept = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const m = opts.lossMask ? opts.lossMask[t]! : 1;
    if (m === 0) continue;
    nll += m * (logSumExp(out.logits.data, t * V, V) - out.logits.data[t * V + ids[t + 1]!]!);
    kept += m;
  }
  const lmLoss = nll / kept;
  let auxLoss = 0;
  let zLoss = 0;
  if (out.routing.length > 0) {
    const E = out.routing[0]!.routerLogits.cols;
    const frac = new Float64Array(E);
    const meanProb = new Float64Array(E);
    let rows = 0;
    for (const r of out.routing) {
      const K = r.topkIdx.cols;
      for (let t = 0; t < r.routerLogits.rows; t++) {
        const lse = logSumExp(r.routerLogits.data, t * E, E);
        for (let e = 0; e < E; e++) meanProb[e] += Math.exp(r.routerLogits.data[t * E + e]! - lse);
        // HF's top-k of the softmax is the top-k of the logits (Granite's rule picks the same experts).
        for (let k = 0; k < K; k++) frac[r.topkIdx.data[t * K + k]!] += 1;
        zLoss += lse * lse;
        rows++;
      }
    }
    for (let e = 0; e < E; e++) auxLoss += (frac[e]! / rows) * (meanProb[e]! / rows);
    auxLoss *= E;
    zLoss /= rows;
  }
  const loss = lmLoss + (opts.auxCoef ?? 0) * auxLoss + (opts.zCoef ?? 0) * zLoss;
  return { loss, lmLoss, auxLoss, zLoss };
}

/** Every tensor of the model by HF name, as float64. */
export function float64Weights(c: ModelConfig, read: (name: string) => Float32Array): Map<string, Float64Array> {
  return new Map(expectedTensors(c).map((t) => [t.name, Float64Array.from(read(t.name))]));
}

/** A deterministic N(0, 1) stream (randomCheckpoint.ts's mulberry32 + Box-Muller sampler). */
export function normalStream(seed: number): () => number {
  return sampler(seed).normal;
}

function sameRouting(a: RefOutput, b: RefOutput): boolean {
  return a.routing.every((r, i) => r.topkIdx.data.every((e, j) => e === b.routing[i]!.topkIdx.data[j]));
}

export interface Directional {
  /** d loss / d s of loss(θ + s·v) at s = 0. */
  readonly value: number;
  readonly eps: number;
  /** Step halvings needed to avoid a top-k flip. */
  readonly shrunk: number;
}

/**
 * Central difference of the reference loss along `dir` (weights by HF name; absent names are not moved):
 * (L(θ + εv) − L(θ − εv)) / 2ε, with ε halved until neither side changes a chosen expert.
 */
export function directionalDerivative(
  c: ModelConfig,
  base: ReadonlyMap<string, Float64Array>,
  dir: ReadonlyMap<string, Float64Array>,
  ids: readonly number[],
  opts: LossOptions,
  pick: (l: RefLosses) => number = (l) => l.loss,
  eps = 1e-5,
): Directional {
  const at = (s: number): RefOutput =>
    referenceForward(
      c,
      (name) => {
        const b = base.get(name);
        if (!b) throw new Error(`no weight ${name}`);
        const v = dir.get(name);
        return v ? b.map((x, i) => x + s * v[i]!) : b;
      },
      ids,
    );
  const center = at(0);
  for (let shrunk = 0; shrunk < 12; shrunk++, eps /= 2) {
    const plus = at(eps);
    const minus = at(-eps);
    if (!sameRouting(center, plus) || !sameRouting(center, minus)) continue;
    const value = (pick(referenceLosses(c, plus, ids, opts)) - pick(referenceLosses(c, minus, ids, opts))) / (2 * eps);
    return { value, eps, shrunk };
  }
  throw new Error('directionalDerivative: every step flips a top-k choice');
}

/** Parameter groups gradients are checked on, by HF name. */
export const PARAM_GROUPS: Readonly<Record<string, (name: string) => boolean>> = {
  embeddings: (n) => n === 'model.embed_tokens.weight',
  experts: (n) => /\.experts\.\d+\.|input_linear|output_linear/.test(n),
  routers: (n) => /(mlp\.gate|block_sparse_moe\.gate|router\.layer)\.weight$/.test(n),
  'shared experts': (n) => n.includes('shared_expert'),
  attention: (n) => n.includes('self_attn.') && !n.includes('norm'),
  norms: (n) => /norm\.weight$/.test(n),
  'dense mlp': (n) => /mlp\.(gate|up|down)_proj\./.test(n),
  'lm head': (n) => n === 'lm_head.weight',
};

/** A random direction over the tensors `pick` selects, each scaled by its tensor's RMS (relative steps). */
export function randomDirection(base: ReadonlyMap<string, Float64Array>, pick: (name: string) => boolean, seed: number): Map<string, Float64Array> {
  const rnd = normalStream(seed);
  const dir = new Map<string, Float64Array>();
  for (const [name, b] of base) {
    if (!pick(name)) continue;
    let ss = 0;
    for (const x of b) ss += x * x;
    const rms = Math.sqrt(ss / b.length) || 1;
    dir.set(name, b.map(() => rnd() * rms));
  }
  return dir;
}

/** Σ grad · dir over the direction's tensors (grads by HF name); throws when a gradient is missing. */
export function dot(grads: ReadonlyMap<string, { readonly data: Float32Array }>, dir: ReadonlyMap<string, Float64Array>): number {
  let s = 0;
  for (const [name, v] of dir) {
    const g = grads.get(name);
    if (!g) throw new Error(`no gradient for ${name}`);
    if (g.data.length !== v.length) throw new Error(`gradient of ${name} has ${g.data.length} values, the weight ${v.length}`);
    for (let i = 0; i < v.length; i++) s += g.data[i]! * v[i]!;
  }
  return s;
}

/** The HF tensors holding routed experts (per-expert or Granite's fused ones). */
export function routedTensorNames(c: ModelConfig): Set<string> {
  const out = new Set<string>();
  c.layers.forEach((l, L) => {
    if (l.kind !== 'moe') return;
    const lay = expertLayout(c, L);
    if (lay.kind === 'fused') out.add(lay.gateUp).add(lay.down);
    else for (let e = 0; e < l.routing.numExperts; e++) out.add(lay.gate(e)).add(lay.up(e)).add(lay.down(e));
  });
  return out;
}

/** Every parameter of the model. */
export function everyParameter(c: ModelConfig): TrainableSet {
  const routed = routedTensorNames(c);
  const experts = new Map<number, Set<number>>();
  c.layers.forEach((l, L) => l.kind === 'moe' && experts.set(L, new Set(Array.from({ length: l.routing.numExperts }, (_, e) => e))));
  return { tensors: new Set(expectedTensors(c).map((t) => t.name).filter((n) => !routed.has(n))), experts };
}

