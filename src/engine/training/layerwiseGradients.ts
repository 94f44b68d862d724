// The gradient computation run layer by layer, like the forward (issue #9 §2): the embedding in JS, each
// decoder layer's forward as its own session, the pooled load-balancing / z losses from every layer's
// router logits (pooledRouterLosses.ts), then the head's VJP and each layer's VJP from the top down to the
// lowest trainable layer (layers below it run forward only). Activations: a layer at or above the lowest
// trainable one keeps what its backward reads (split graphs) while their total stays within
// `activationBytes`; past that, layers keep only their input and their backward recomputes the forward with
// the forward's chosen experts. Graphs are per layer shape (layerGradGraphs.ts).
import { routingOf, type LayerSpec, type ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import type { MoeEngine } from '../moeEngine';
import type { FeedTensor, OrtSession, OutTensor } from '../runtime/ortSession';
import { GRAD_HIDDEN, gradName, headVjpBytes, HIDDEN, layerForwardBytes, layerSplitBytes, layerVjpBytes, layerWeightName, layerWeightNames } from './layerGradGraphs';
import { embeddingRows, type WeightOverrides, type WeightReader, withUnitWeights } from './gradientWeights';
import { type LayerRouting, pooledRouterLosses } from './pooledRouterLosses';
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
  /** Bytes of stored activations allowed; layers past it recompute their forward in the backward. */
  readonly activationBytes: number;
  /** Called after each unit ran (throws to cancel). */
  readonly step: (what: string) => void;
  /** Called with the graph weights whose gradients are final, as soon as they are (head, each layer, embedding). */
  readonly done: (grads: ReadonlyMap<string, Float32Array>) => Promise<void>;
  /** Weights used instead of the engine's (a training run's current values), by graph name. */
  readonly overrides?: WeightOverrides;
}

export interface LayerwiseResult {
  readonly lmLoss: number;
  readonly auxLoss: number;
  readonly zLoss: number;
  /** Decoder layers whose backward ran from stored activations (the others recomputed their forward). */
  readonly storedLayers: readonly number[];
  /** Per MoE layer, the forward's chosen experts [T, K] (routing drift compares them across weights). */
  readonly topk: ReadonlyMap<number, BigInt64Array>;
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

const asFeed = (t: OutTensor): FeedTensor => (t.data instanceof Float32Array ? { type: 'float32', data: t.data, dims: t.dims } : { type: 'int64', data: t.data, dims: t.dims });

/** Runs `s` on `feeds` plus the weights it takes (graph names of layer `from`, read as layer `to`'s). */
function runWith(read: WeightReader, s: OrtSession, feeds: Record<string, FeedTensor>, from: number, to: number): Promise<Record<string, OutTensor>> {
  for (const name of s.inputNames) {
    if (feeds[name]) continue;
    const w = read(layerWeightName(name, from, to));
    feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
  }
  return s.run(feeds);
}

type SplitLayer = ReturnType<typeof layerSplitBytes>;
/** Split layer graphs per engine and layer plan (their saved-value names are needed on every run). */
const splitGraphs = new WeakMap<MoeEngine, Map<string, SplitLayer>>();

interface LayerPlan {
  readonly spec: LayerSpec;
  readonly rep: number;
  /** Trainable weights of the layer, in the representative's names. */
  readonly weights: readonly string[];
  readonly inputGrad: boolean;
  readonly key: string;
}

export async function layerwiseGradients(engine: MoeEngine, run: LayerwiseRun): Promise<LayerwiseResult> {
  const c = engine.config;
  const H = c.hiddenSize;
  const T = run.ids.length;
  const plan = (L: number): LayerPlan => {
    const spec = c.layers[L]!;
    const rep = representative(c, L);
    const weights = layerWeightNames(c, rep, spec).filter((w) => run.wrt.has(layerWeightName(w, rep, L)));
    const inputGrad = L > run.lowest || run.lowest === -1;
    return { spec, rep, weights, inputGrad, key: `${rep}|${weights.join(',')}|${+inputGrad}` };
  };
  const splitOf = (p: LayerPlan): SplitLayer => {
    let byKey = splitGraphs.get(engine);
    if (!byKey) splitGraphs.set(engine, (byKey = new Map()));
    let s = byKey.get(p.key);
    if (!s) byKey.set(p.key, (s = layerSplitBytes(c, p.rep, p.spec, p.weights, p.inputGrad)));
    return s;
  };

  // Embedding (a row gather; its backward is a row scatter-add, done in JS below).
  let h: Float32Array = embeddingRows(engine, run.ids, run.overrides);
  if (c.embeddingMultiplier !== 1) for (let i = 0; i < h.length; i++) h[i] = h[i]! * c.embeddingMultiplier;

  // Forward, keeping each layer's input, its routing, and while the budget lasts its saved activations.
  const inputs: Float32Array[] = [];
  const routing = new Map<number, LayerRouting>();
  const stored = new Map<number, Record<string, OutTensor>>();
  let storedBytes = 0;
  for (const [L, spec] of c.layers.entries()) {
    inputs.push(h);
    const p = plan(L);
    const trains = L >= run.lowest && run.lowest < c.numLayers;
    const tryStore = trains && storedBytes < run.activationBytes;
    const s = tryStore
      ? await cachedSession(engine, `layer-split-forward|${p.key}`, () => splitOf(p).forward)
      : await cachedSession(engine, `layer-forward|${p.rep}`, () => layerForwardBytes(c, p.rep, spec));
    const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: h, dims: [T, H] } };
    const out = await withUnitWeights(engine, L, L + 1 < c.numLayers ? L + 1 : 'head', (read) => runWith(read, s, feeds, p.rep, L), run.overrides);
    h = f32(out, 'hidden_out');
    if (spec.kind === 'moe') routing.set(L, { logits: f32(out, 'router_logits'), topk: out['topk']!.data as BigInt64Array });
    let kept = '';
    if (tryStore) {
      const saved = splitOf(p).saved;
      const bytes = saved.reduce((n, v) => n + out[v]!.data.byteLength, 0);
      if (storedBytes + bytes <= run.activationBytes) {
        stored.set(L, Object.fromEntries(saved.map((v) => [v, out[v]!])));
        storedBytes += bytes;
        kept = ` (kept ${bytes} bytes of activations)`;
      } else storedBytes = run.activationBytes; // over budget: this and the layers above recompute
    }
    run.step(`layer ${L} forward${kept}`);
  }

  const E = routingOf(c)?.numExperts ?? 0;
  const pooled = pooledRouterLosses([...routing.values()], T, E, run.auxCoef, run.zCoef);

  // Head: LM loss and the gradient flowing into the last layer.
  const headWeights = ['model.norm.weight', lmHeadName(c)].filter((w, i, a) => run.wrt.has(w) && a.indexOf(w) === i);
  const needBelow = run.lowest < c.numLayers;
  const head = await cachedSession(engine, `head|${headWeights.join(',')}|${+needBelow}`, () => headVjpBytes(c, headWeights, needBelow));
  const headFeeds: Record<string, FeedTensor> = {
    [HIDDEN]: { type: 'float32', data: h, dims: [T, H] },
    input_ids: { type: 'int64', data: BigInt64Array.from(run.ids, (i) => BigInt(i)), dims: [T] },
    loss_mask: { type: 'float32', data: run.lossMask, dims: [T - 1] },
  };
  const headOut = await withUnitWeights(engine, 'head', needBelow ? c.numLayers - 1 : undefined, (read) => runWith(read, head, headFeeds, 0, 0), run.overrides);
  const lmLoss = f32(headOut, 'lm_loss')[0]!;
  const embedName = 'model.embed_tokens.weight';
  const headGrads = new Map(headWeights.map((w) => [w, f32(headOut, gradName(w))]));
  // A tied head's gradient is completed by the embedding's rows at the end.
  const tiedHead = headGrads.get(embedName);
  headGrads.delete(embedName);
  await run.done(headGrads);
  run.step('LM head backward');

  // Layers, top down, to the lowest trainable one.
  const storedLayers = [...stored.keys()];
  let seed = needBelow ? f32(headOut, GRAD_HIDDEN) : undefined;
  for (let L = c.numLayers - 1; L >= Math.max(run.lowest, 0) && seed; L--) {
    const p = plan(L);
    const saved = stored.get(L);
    const s = saved
      ? await cachedSession(engine, `layer-split-backward|${p.key}`, () => splitOf(p).backward)
      : await cachedSession(engine, `layer-vjp|${p.key}`, () => layerVjpBytes(c, p.rep, p.spec, p.weights, p.inputGrad));
    const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: inputs[L]!, dims: [T, H] }, seed_hidden: { type: 'float32', data: seed, dims: [T, H] } };
    for (const [v, t] of Object.entries(saved ?? {})) feeds[v] = asFeed(t);
    const r = routing.get(L);
    if (r && p.spec.kind === 'moe') {
      feeds['topk'] = { type: 'int64', data: r.topk, dims: [T, p.spec.routing.topK] };
      feeds['seed_probs'] = { type: 'float32', data: pooled.seedProbs, dims: [E] };
      feeds['z_scale'] = { type: 'float32', data: Float32Array.of(pooled.zScale), dims: [] };
    }
    // A split backward takes only the inputs it reads.
    for (const k of Object.keys(feeds)) if (!s.inputNames.includes(k)) delete feeds[k];
    const out = await withUnitWeights(engine, L, L - 1 >= Math.max(run.lowest, 0) ? L - 1 : undefined, (read) => runWith(read, s, feeds, p.rep, L), run.overrides);
    stored.delete(L);
    await run.done(new Map(p.weights.map((w) => [layerWeightName(w, p.rep, L), f32(out, gradName(w))])));
    seed = p.inputGrad ? f32(out, GRAD_HIDDEN) : undefined;
    run.step(`layer ${L} backward${saved ? '' : ' (forward recomputed)'}`);
  }

  // Embedding rows: scatter-add of the input gradient (plus the LM head's share when tied).
  if (run.wrt.has(embedName)) {
    const d = tiedHead ?? new Float32Array(c.vocabSize * H);
    if (seed) {
      run.ids.forEach((id, t) => {
        for (let i = 0; i < H; i++) d[id * H + i]! += seed![t * H + i]! * c.embeddingMultiplier;
      });
    }
    await run.done(new Map([[embedName, d]]));
  }
  return { lmLoss, auxLoss: pooled.auxLoss, zLoss: pooled.zLoss, storedLayers, topk: new Map([...routing].map(([L, r]) => [L, r.topk])) };
}
