// The gradient computation run layer by layer, like the forward (issue #9 §2): the embedding in JS, each
// decoder layer's forward as its own session (layer inputs kept: T × H floats per layer), the pooled
// load-balancing / z losses from every layer's router logits, then the head's VJP and each layer's VJP
// from the top down to the lowest trainable layer (layers below it run forward only), each recomputing its
// layer's forward with the forward's chosen experts. Graphs are per layer shape (layerGradGraphs.ts).
import { routingOf, type ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import type { MoeEngine } from '../moeEngine';
import type { FeedTensor, OrtSession, OutTensor } from '../runtime/ortSession';
import { GRAD_HIDDEN, gradName, headVjpBytes, HIDDEN, layerForwardBytes, layerVjpBytes, layerWeightName, layerWeightNames } from './layerGradGraphs';
import { readEngineWeight, trainingWeightFeed } from './gradientWeights';
import { cachedSession } from './sessionCache';

export interface LayerwiseRun {
  readonly ids: readonly number[];
  readonly lossMask: Float32Array;
  readonly auxCoef: number;
  readonly zCoef: number;
  /** Trainable graph weights (HF names; routed experts as trainableMoeBlock's per-expert slices). */
  readonly wrt: ReadonlySet<string>;
  /** Lowest decoder layer with a trainable weight (-1: the embedding; numLayers: only norm/head). */
  readonly lowest: number;
  /** Called after each unit ran (throws to cancel). */
  readonly step: (what: string) => void;
}

export interface LayerwiseResult {
  readonly lmLoss: number;
  readonly auxLoss: number;
  readonly zLoss: number;
  /** Gradient by graph weight name. */
  readonly grads: Map<string, Float32Array>;
}

/** The first layer with the same spec as layer L: its weight names label the graph all such layers share. */
function representative(c: ModelConfig, L: number): number {
  const key = JSON.stringify(c.layers[L]);
  return c.layers.findIndex((s) => JSON.stringify(s) === key);
}

const f32 = (out: Record<string, OutTensor>, name: string): Float32Array => {
  const d = out[name]?.data;
  if (!(d instanceof Float32Array)) throw new Error(`internal: gradient graph output ${name} is missing`);
  return d;
};

async function feedWeights(engine: MoeEngine, s: OrtSession, feeds: Record<string, FeedTensor>, from: number, to: number): Promise<void> {
  for (const name of s.inputNames) {
    if (feeds[name]) continue;
    const w = trainingWeightFeed(engine, layerWeightName(name, from, to));
    feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
  }
}

export async function layerwiseGradients(engine: MoeEngine, run: LayerwiseRun): Promise<LayerwiseResult> {
  const c = engine.config;
  const H = c.hiddenSize;
  const T = run.ids.length;
  const grads = new Map<string, Float32Array>();

  // Embedding (a row gather; its backward is a row scatter-add, done in JS below).
  const embed = readEngineWeight(engine, 'model.embed_tokens.weight').data;
  let h: Float32Array = new Float32Array(T * H);
  run.ids.forEach((id, t) => {
    for (let i = 0; i < H; i++) h[t * H + i] = embed[id * H + i]! * c.embeddingMultiplier;
  });

  // Forward, keeping each layer's input and, for MoE layers, its router logits and chosen experts.
  const inputs: Float32Array[] = [];
  const routing = new Map<number, { logits: Float32Array; topk: BigInt64Array }>();
  for (const [L, spec] of c.layers.entries()) {
    inputs.push(h);
    const rep = representative(c, L);
    const s = await cachedSession(engine, `layer-forward|${rep}`, () => layerForwardBytes(c, rep, spec));
    const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: h, dims: [T, H] } };
    await feedWeights(engine, s, feeds, rep, L);
    const out = await s.run(feeds);
    h = f32(out, 'hidden_out');
    if (spec.kind === 'moe') routing.set(L, { logits: f32(out, 'router_logits'), topk: out['topk']!.data as BigInt64Array });
    run.step(`layer ${L} forward`);
  }

  // Pooled HF load-balancing loss and z-loss over every MoE layer's T rows, and their per-row seeds.
  const moe = [...routing.values()];
  const E = routingOf(c)?.numExperts ?? 0;
  const N = moe.length * T;
  const frac = new Float64Array(E);
  const meanProb = new Float64Array(E);
  let zLoss = 0;
  for (const { logits, topk } of moe) {
    for (const e of topk) frac[Number(e)]! += 1 / N;
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let e = 0; e < E; e++) max = Math.max(max, logits[t * E + e]!);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += Math.exp(logits[t * E + e]! - max);
      for (let e = 0; e < E; e++) meanProb[e]! += Math.exp(logits[t * E + e]! - max) / sum / N;
      const lse = max + Math.log(sum);
      zLoss += (lse * lse) / N;
    }
  }
  let auxLoss = 0;
  for (let e = 0; e < E; e++) auxLoss += E * frac[e]! * meanProb[e]!;
  const seedProbs = Float32Array.from(frac, (f) => (run.auxCoef * E * f) / N);
  const zScale = Float32Array.of(N > 0 ? run.zCoef / N : 0);

  // Head: LM loss and the gradient flowing into the last layer.
  const headName = lmHeadName(c);
  const headWeights = ['model.norm.weight', headName].filter((w, i, a) => run.wrt.has(w) && a.indexOf(w) === i);
  const needBelow = run.lowest < c.numLayers;
  const head = await cachedSession(engine, `head|${headWeights.join(',')}|${+needBelow}`, () => headVjpBytes(c, headWeights, needBelow));
  const headFeeds: Record<string, FeedTensor> = {
    [HIDDEN]: { type: 'float32', data: h, dims: [T, H] },
    input_ids: { type: 'int64', data: BigInt64Array.from(run.ids, (i) => BigInt(i)), dims: [T] },
    loss_mask: { type: 'float32', data: run.lossMask, dims: [T - 1] },
  };
  await feedWeights(engine, head, headFeeds, 0, 0);
  const headOut = await head.run(headFeeds);
  const lmLoss = f32(headOut, 'lm_loss')[0]!;
  for (const w of headWeights) grads.set(w, f32(headOut, gradName(w)));
  run.step('LM head backward');

  // Layers, top down, to the lowest trainable one.
  let seed = needBelow ? f32(headOut, GRAD_HIDDEN) : undefined;
  for (let L = c.numLayers - 1; L >= Math.max(run.lowest, 0) && seed; L--) {
    const spec = c.layers[L]!;
    const rep = representative(c, L);
    const weights = layerWeightNames(c, rep, spec).filter((w) => run.wrt.has(layerWeightName(w, rep, L)));
    const inputGrad = L > run.lowest || run.lowest === -1;
    const s = await cachedSession(engine, `layer-vjp|${rep}|${weights.join(',')}|${+inputGrad}`, () => layerVjpBytes(c, rep, spec, weights, inputGrad));
    const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: inputs[L]!, dims: [T, H] }, seed_hidden: { type: 'float32', data: seed, dims: [T, H] } };
    const r = routing.get(L);
    if (r && spec.kind === 'moe') {
      feeds['topk'] = { type: 'int64', data: r.topk, dims: [T, spec.routing.topK] };
      feeds['seed_probs'] = { type: 'float32', data: seedProbs, dims: [E] };
      feeds['z_scale'] = { type: 'float32', data: zScale, dims: [] };
    }
    await feedWeights(engine, s, feeds, rep, L);
    const out = await s.run(feeds);
    for (const w of weights) grads.set(layerWeightName(w, rep, L), f32(out, gradName(w)));
    seed = inputGrad ? f32(out, GRAD_HIDDEN) : undefined;
    run.step(`layer ${L} backward`);
  }

  // Embedding rows: scatter-add of the input gradient (plus the LM head's share when tied).
  if (run.wrt.has('model.embed_tokens.weight') && seed) {
    const d = grads.get('model.embed_tokens.weight') ?? new Float32Array(c.vocabSize * H);
    run.ids.forEach((id, t) => {
      for (let i = 0; i < H; i++) d[id * H + i]! += seed![t * H + i]! * c.embeddingMultiplier;
    });
    grads.set('model.embed_tokens.weight', d);
  }
  return { lmLoss, auxLoss, zLoss, grads };
}
