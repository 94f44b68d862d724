// An independent, deliberately plain float64 re-implementation of the Hugging Face transformers forward pass
// (eager attention, batch 1, positions 0..T-1, no cache) for every family the engine supports. It is written
// from the HF modeling code and the fixture README, not from the engine's graph code, so that agreement
// between the two on random configurations means something. Slow (loops over rows) but tiny models only.
import type { LayerSpec, ModelConfig } from '../../src/engine/model/modelConfig';

/** Row-major weight values: float32 as stored, or float64 (gradient checks perturb weights in float64). */
export type Weights = Float32Array | Float64Array;

/** Reads a tensor by its Hugging Face Hub name (row-major, HF shape). Throws when missing. */
export type WeightGetter = (name: string) => Weights;

/** Row-major float64 matrix. */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export interface RefRouting {
  readonly layer: number;
  /** [T, E] raw router output gate(x). */
  readonly routerLogits: Mat;
  /** [T, k] chosen experts, descending probability (torch.topk order). */
  readonly topkIdx: { readonly rows: number; readonly cols: number; readonly data: Int32Array };
  /** [T, k] the weight each chosen expert's output is multiplied by. */
  readonly topkWeight: Mat;
  /** [T] Qwen2-MoE: sigmoid(shared_expert_gate(x)). */
  readonly sharedExpertGate?: Float64Array;
  /** [T, k] ‖f_e(x)‖₂ of each chosen expert's output (before gate weighting). */
  readonly expertNorms: Mat;
}

export interface RefOutput {
  /** [T, H] input of layer 0 (GraniteMoE: already times embedding_multiplier). */
  readonly embeddings: Mat;
  /** Output of every decoder layer (residual stream), [T, H] each. */
  readonly hidden: Mat[];
  /** [T, H] after model.norm. */
  readonly finalNorm: Mat;
  /** [T, V] (GraniteMoE: already divided by logits_scaling). */
  readonly logits: Mat;
  /** MoE layers only, in layer order. */
  readonly routing: RefRouting[];
  /** OLMoE clip_qkv: how many q/k/v values the clamp changed, and how many it saw (so tests can see it bite). */
  readonly clip: { readonly clipped: number; readonly total: number };
}

function zeros(rows: number, cols: number): Mat {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

function row(m: Mat, r: number): Float64Array {
  return m.data.subarray(r * m.cols, (r + 1) * m.cols);
}

/** torch.nn.Linear: y = x W^T + b with W stored [out, in]. */
function linear(x: Mat, w: Weights, outDim: number, bias?: Weights): Mat {
  const inDim = x.cols;
  if (w.length !== outDim * inDim) throw new Error(`linear: weight has ${w.length} values, expected [${outDim}, ${inDim}]`);
  if (bias && bias.length !== outDim) throw new Error(`linear: bias has ${bias.length} values, expected ${outDim}`);
  const y = zeros(x.rows, outDim);
  for (let t = 0; t < x.rows; t++) {
    const xr = row(x, t);
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o]! : 0;
      const base = o * inDim;
      for (let i = 0; i < inDim; i++) s += xr[i]! * w[base + i]!;
      y.data[t * outDim + o] = s;
    }
  }
  return y;
}

/**
 * HF RMSNorm `w * x / sqrt(mean(x^2) + eps)` over consecutive groups of `group` values of each row: the whole
 * row (group = cols) for ordinary norms, one head (group = head_dim) for Qwen3's per-head q/k norm.
 */
function rmsNorm(x: Mat, w: Weights, eps: number, group = x.cols): Mat {
  if (w.length !== group) throw new Error(`rmsNorm: weight has ${w.length} values, expected ${group}`);
  const y = zeros(x.rows, x.cols);
  for (let g = 0; g < x.data.length; g += group) {
    let ss = 0;
    for (let i = 0; i < group; i++) ss += x.data[g + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / group + eps);
    for (let i = 0; i < group; i++) y.data[g + i] = w[i]! * x.data[g + i]! * inv;
  }
  return y;
}

function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

function softmax(v: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) max = Math.max(max, v[i]!);
  const e = Array.from({ length: v.length }, (_, i) => Math.exp(v[i]! - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** Indices of the k largest values, largest first (torch.topk order when there are no ties). */
function topk(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i)
    .sort((a, b) => v[b]! - v[a]! || a - b)
    .slice(0, k);
}

/**
 * RoPE inverse frequencies as transformers' ROPE_INIT_FUNCTIONS compute them: default
 * 1 / theta^(2i/d); 'linear' divides them all by factor; 'llama3' (`_compute_llama3_parameters`) divides
 * low frequencies (wavelength > original_max / low_freq_factor) by factor, keeps high ones
 * (wavelength < original_max / high_freq_factor), and interpolates smoothly in between.
 */
export function referenceInvFreq(c: ModelConfig): Float64Array {
  const d = c.headDim;
  const base = Float64Array.from({ length: d / 2 }, (_, i) => 1 / c.ropeTheta ** ((2 * i) / d));
  const s = c.ropeScaling;
  if (s.type === 'default') return base;
  if (s.type === 'linear') return base.map((f) => f / s.factor);
  const lowFreqWavelen = s.originalMaxPositions / s.lowFreqFactor;
  const highFreqWavelen = s.originalMaxPositions / s.highFreqFactor;
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f;
    if (wavelen > lowFreqWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return ((1 - smooth) * f) / s.factor + smooth * f;
  });
}

/** In place, HF rotate-half layout: dimension j pairs with j + d/2, both rotated by position * invFreq[j]. */
function applyRope(x: Mat, heads: number, d: number, invFreq: Float64Array): void {
  const half = d / 2;
  for (let t = 0; t < x.rows; t++) {
    for (let h = 0; h < heads; h++) {
      const o = t * x.cols + h * d;
      for (let j = 0; j < half; j++) {
        const angle = t * invFreq[j]!;
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const a = x.data[o + j]!;
        const b = x.data[o + j + half]!;
        // q*cos + rotate_half(q)*sin with rotate_half(q) = [-q2, q1].
        x.data[o + j] = a * cos - b * sin;
        x.data[o + j + half] = b * cos + a * sin;
      }
    }
  }
}

interface Ctx {
  readonly c: ModelConfig;
  readonly w: WeightGetter;
  /** Optional weights (biases): undefined when the config says the tensor does not exist. */
  readonly wIf: (name: string, present: boolean) => Weights | undefined;
  readonly invFreq: Float64Array;
  readonly clip: { clipped: number; total: number };
}

function clamp(m: Mat, limit: number, stats: { clipped: number; total: number }): void {
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i]!;
    const cv = Math.min(limit, Math.max(-limit, v));
    if (cv !== v) stats.clipped++;
    m.data[i] = cv;
  }
  stats.total += m.data.length;
}

function attention(ctx: Ctx, layer: number, x: Mat): Mat {
  const { c, w, wIf } = ctx;
  const p = `model.layers.${layer}.self_attn.`;
  const D = c.headDim;
  const nH = c.numHeads;
  const nKv = c.numKvHeads;
  const bias = c.attention.qkvBias;
  let q = linear(x, w(`${p}q_proj.weight`), nH * D, wIf(`${p}q_proj.bias`, bias));
  let k = linear(x, w(`${p}k_proj.weight`), nKv * D, wIf(`${p}k_proj.bias`, bias));
  const v = linear(x, w(`${p}v_proj.weight`), nKv * D, wIf(`${p}v_proj.bias`, bias));
  if (c.modelType === 'qwen3' || c.modelType === 'qwen3_moe') {
    // Qwen3: RMSNorm over head_dim, per head, after the projections and before RoPE.
    q = rmsNorm(q, w(`${p}q_norm.weight`), c.rmsNormEps, D);
    k = rmsNorm(k, w(`${p}k_norm.weight`), c.rmsNormEps, D);
  } else if (c.modelType === 'olmoe') {
    // OLMoE: RMSNorm over the whole projection, then the optional clamp of q, k and v.
    q = rmsNorm(q, w(`${p}q_norm.weight`), c.rmsNormEps);
    k = rmsNorm(k, w(`${p}k_norm.weight`), c.rmsNormEps);
    if (c.attention.clipQkv !== null) for (const m of [q, k, v]) clamp(m, c.attention.clipQkv, ctx.clip);
  }
  applyRope(q, nH, D, ctx.invFreq);
  applyRope(k, nKv, D, ctx.invFreq);
  // GraniteMoE replaces 1/sqrt(head_dim) with attention_multiplier.
  const scale = c.modelType === 'granitemoe' ? c.attention.scale : 1 / Math.sqrt(D);
  // Only Mixtral has a sliding window among the supported families (Qwen's is refused by the parser).
  const window = c.modelType === 'mixtral' ? c.attention.slidingWindow : null;
  const T = x.rows;
  const out = zeros(T, nH * D);
  const group = nH / nKv;
  for (let h = 0; h < nH; h++) {
    const kvh = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      const allowed: number[] = [];
      for (let j = 0; j <= i; j++) if (window === null || i - j < window) allowed.push(j);
      const scores = allowed.map((j) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += q.data[i * nH * D + h * D + d]! * k.data[j * nKv * D + kvh * D + d]!;
        return s * scale;
      });
      const probs = softmax(scores);
      for (let a = 0; a < allowed.length; a++) {
        const j = allowed[a]!;
        for (let d = 0; d < D; d++) out.data[i * nH * D + h * D + d] += probs[a]! * v.data[j * nKv * D + kvh * D + d]!;
      }
    }
  }
  return linear(out, w(`${p}o_proj.weight`), c.hiddenSize, wIf(`${p}o_proj.bias`, c.attention.oBias));
}

/** SwiGLU down(silu(gate(x)) * up(x)) with [I, H] gate/up and [H, I] down weights. */
function swiglu(x: Mat, gate: Weights, up: Weights, down: Weights, inter: number, biases?: { gate?: Weights | undefined; up?: Weights | undefined; down?: Weights | undefined }): Mat {
  const g = linear(x, gate, inter, biases?.gate);
  const u = linear(x, up, inter, biases?.up);
  const a = zeros(x.rows, inter);
  for (let i = 0; i < a.data.length; i++) a.data[i] = silu(g.data[i]!) * u.data[i]!;
  return linear(a, down, x.cols, biases?.down);
}

function denseMlp(ctx: Ctx, layer: number, x: Mat, inter: number): Mat {
  const p = `model.layers.${layer}.mlp.`;
  const b = ctx.c.mlpBias;
  return swiglu(x, ctx.w(`${p}gate_proj.weight`), ctx.w(`${p}up_proj.weight`), ctx.w(`${p}down_proj.weight`), inter, {
    gate: ctx.wIf(`${p}gate_proj.bias`, b),
    up: ctx.wIf(`${p}up_proj.bias`, b),
    down: ctx.wIf(`${p}down_proj.bias`, b),
  });
}

/** One expert's [I,H] gate, [I,H] up and [H,I] down weights, in the family's Hub layout. */
function expertWeights(ctx: Ctx, layer: number, e: number, inter: number): { gate: Weights; up: Weights; down: Weights } {
  const { c, w } = ctx;
  const H = c.hiddenSize;
  if (c.modelType === 'mixtral') {
    const p = `model.layers.${layer}.block_sparse_moe.experts.${e}.`;
    return { gate: w(`${p}w1.weight`), up: w(`${p}w3.weight`), down: w(`${p}w2.weight`) };
  }
  if (c.modelType === 'granitemoe') {
    // input_linear [E, 2I, H]: expert e's first I rows are the gate, the next I rows the up projection
    // (HF chunks the output in two along the last dim); output_linear [E, H, I].
    const p = `model.layers.${layer}.block_sparse_moe.`;
    const fused = w(`${p}input_linear.weight`);
    const out = w(`${p}output_linear.weight`);
    const o = e * 2 * inter * H;
    return { gate: fused.subarray(o, o + inter * H), up: fused.subarray(o + inter * H, o + 2 * inter * H), down: out.subarray(e * H * inter, (e + 1) * H * inter) };
  }
  const p = `model.layers.${layer}.mlp.experts.${e}.`;
  return { gate: w(`${p}gate_proj.weight`), up: w(`${p}up_proj.weight`), down: w(`${p}down_proj.weight`) };
}

function routerName(c: ModelConfig, layer: number): string {
  if (c.modelType === 'mixtral') return `model.layers.${layer}.block_sparse_moe.gate.weight`;
  if (c.modelType === 'granitemoe') return `model.layers.${layer}.block_sparse_moe.router.layer.weight`;
  return `model.layers.${layer}.mlp.gate.weight`;
}

/** The experts and weights of one token, per family rule. */
function route(c: ModelConfig, logits: Float64Array, k: number, normTopkProb: boolean): { idx: number[]; weight: number[] } {
  if (c.modelType === 'granitemoe') {
    // GraniteMoeTopKGating: top-k of the raw logits, softmax over just those k.
    const idx = topk(logits, k);
    return { idx, weight: softmax(idx.map((i) => logits[i]!)) };
  }
  const probs = softmax(logits);
  const idx = topk(probs, k);
  let weight = idx.map((i) => probs[i]!);
  // Mixtral always renormalises; Qwen2-MoE, Qwen3-MoE and OLMoE only with norm_topk_prob.
  if (c.modelType === 'mixtral' || normTopkProb) {
    const sum = weight.reduce((a, b) => a + b, 0);
    weight = weight.map((x) => x / sum);
  }
  return { idx, weight };
}

function moeBlock(ctx: Ctx, layer: number, x: Mat, spec: Extract<LayerSpec, { kind: 'moe' }>): { out: Mat; routing: RefRouting } {
  const { c, w } = ctx;
  const T = x.rows;
  const H = c.hiddenSize;
  const E = spec.routing.numExperts;
  const k = spec.routing.topK;
  const routerLogits = linear(x, w(routerName(c, layer)), E);
  const topkIdx = { rows: T, cols: k, data: new Int32Array(T * k) };
  const topkWeight = zeros(T, k);
  const expertNorms = zeros(T, k);
  const out = zeros(T, H);
  for (let t = 0; t < T; t++) {
    const { idx, weight } = route(c, row(routerLogits, t), k, spec.routing.renormalize);
    const xt: Mat = { rows: 1, cols: H, data: row(x, t) };
    idx.forEach((e, r) => {
      topkIdx.data[t * k + r] = e;
      topkWeight.data[t * k + r] = weight[r]!;
      const ew = expertWeights(ctx, layer, e, spec.intermediateSize);
      const y = swiglu(xt, ew.gate, ew.up, ew.down, spec.intermediateSize);
      let sq = 0;
      for (let i = 0; i < H; i++) {
        out.data[t * H + i] += weight[r]! * y.data[i]!;
        sq += y.data[i]! * y.data[i]!;
      }
      expertNorms.data[t * k + r] = Math.sqrt(sq);
    });
  }
  let sharedExpertGate: Float64Array | undefined;
  if (c.modelType === 'qwen2_moe' && spec.shared) {
    // Qwen2-MoE: + sigmoid(shared_expert_gate(x)) * shared_expert(x), added to the routed sum.
    const p = `model.layers.${layer}.mlp.`;
    const s = swiglu(x, w(`${p}shared_expert.gate_proj.weight`), w(`${p}shared_expert.up_proj.weight`), w(`${p}shared_expert.down_proj.weight`), spec.shared.intermediateSize);
    const g = linear(x, w(`${p}shared_expert_gate.weight`), 1);
    sharedExpertGate = g.data.map(sigmoid);
    for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) out.data[t * H + i] += sharedExpertGate[t]! * s.data[t * H + i]!;
  }
  return { out, routing: { layer, routerLogits, topkIdx, topkWeight, expertNorms, ...(sharedExpertGate ? { sharedExpertGate } : {}) } };
}

/** Runs the HF forward pass for one unpadded sequence. */
export function referenceForward(c: ModelConfig, getWeight: WeightGetter, ids: readonly number[]): RefOutput {
  // Expert weights are looked up per token: read every tensor once.
  const cache = new Map<string, Weights>();
  const w: WeightGetter = (name) => {
    let v = cache.get(name);
    if (!v) {
      v = getWeight(name);
      cache.set(name, v);
    }
    return v;
  };
  const ctx: Ctx = { c, w, wIf: (name, present) => (present ? w(name) : undefined), invFreq: referenceInvFreq(c), clip: { clipped: 0, total: 0 } };
  const H = c.hiddenSize;
  const T = ids.length;
  const embedW = w('model.embed_tokens.weight');
  const embeddings = zeros(T, H);
  ids.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`token id ${id} out of range`);
    for (let i = 0; i < H; i++) embeddings.data[t * H + i] = embedW[id * H + i]! * c.embeddingMultiplier;
  });
  const hidden: Mat[] = [];
  const routing: RefRouting[] = [];
  // GraniteMoE scales each residual branch by residual_multiplier; 1 for the other families.
  const resMul = c.residualMultiplier;
  let h = embeddings;
  c.layers.forEach((spec, L) => {
    const p = `model.layers.${L}.`;
    const a = attention(ctx, L, rmsNorm(h, w(`${p}input_layernorm.weight`), c.rmsNormEps));
    const afterAttn = zeros(T, H);
    for (let i = 0; i < afterAttn.data.length; i++) afterAttn.data[i] = h.data[i]! + a.data[i]! * resMul;
    const x = rmsNorm(afterAttn, w(`${p}post_attention_layernorm.weight`), c.rmsNormEps);
    let m: Mat;
    if (spec.kind === 'dense') {
      m = denseMlp(ctx, L, x, spec.intermediateSize);
    } else {
      const r = moeBlock(ctx, L, x, spec);
      m = r.out;
      routing.push(r.routing);
    }
    const next = zeros(T, H);
    for (let i = 0; i < next.data.length; i++) next.data[i] = afterAttn.data[i]! + m.data[i]! * resMul;
    hidden.push(next);
    h = next;
  });
  const finalNorm = rmsNorm(h, w('model.norm.weight'), c.rmsNormEps);
  const head = c.tieWordEmbeddings ? embedW : w('lm_head.weight');
  const logits = linear(finalNorm, head, c.vocabSize);
  // GraniteMoE divides the logits by logits_scaling (1 elsewhere).
  for (let i = 0; i < logits.data.length; i++) logits.data[i] = logits.data[i]! / c.logitsScaling;
  return { embeddings, hidden, finalNorm, logits, routing, clip: ctx.clip };
}

/** Smallest gap between adjacent router logits among the top k+1 of row t (distance to a routing tie). */
export function routerGap(logits: Mat, t: number, k: number): number {
  const r = row(logits, t);
  const top = topk(r, Math.min(k + 1, r.length)).map((i) => r[i]!);
  let gap = Infinity;
  for (let i = 0; i + 1 < top.length; i++) gap = Math.min(gap, top[i]! - top[i + 1]!);
  return gap;
}
