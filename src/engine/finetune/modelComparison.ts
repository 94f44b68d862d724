// Base vs trained on the same engine (issue #10 §4, §5): the model as loaded (the engine's own weights)
// and the fine-tuned one (the trainer's float32 masters as weight overrides) run on the same sequences,
// one sequence at a time, so no second copy of the model and no held-out set's logits are ever held. Per
// sequence: each pass's chosen experts per MoE layer and its next-token log-probabilities (computed in row
// chunks), compared at once — loss before/after, top-1 agreement, KL(base ‖ trained) — then dropped.
import type { FinetuneDocumentDiff } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { linear } from '../graph/linear';
import { rmsNorm } from '../graph/norms';
import { lmHeadName } from '../model/tensorSpec';
import type { MoeEngine } from '../moeEngine';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType, encodeModel } from '../onnx/onnxProto';
import type { FeedTensor, OrtSession, OutTensor } from '../runtime/ortSession';
import { embeddingRows, type WeightOverrides, type WeightReader, withUnitWeights } from '../training/gradientWeights';
import { HIDDEN, layerForwardBytes, layerWeightName } from '../training/layerGradGraphs';
import { cachedSession } from '../training/sessionCache';
import type { TrainingSequenceInput } from './expertTrainer';
import { longestSequence } from './finetunePreparation';

/** Bytes of log-probabilities per head run ([rows, V] float32): bounds the memory of a comparison. */
const HEAD_CHUNK_BYTES = 32 * 2 ** 20;
/** perToken entries returned for a document. */
export const DOCUMENT_TOKENS_SHOWN = 200;

export interface PassSide {
  /** Mean next-token loss over the trained targets (NaN when there are none). */
  readonly loss: number;
  readonly targets: number;
  /** Per sequence, the chosen experts per MoE layer ([T, K]); an empty map for a sequence with no target. */
  readonly topk: ReadonlyMap<number, BigInt64Array>[];
}

export interface HeldOutComparison {
  readonly before: PassSide;
  readonly after: PassSide;
  /** Share of trained targets where base and trained agree on the top-1 next token. */
  readonly top1Agreement: number;
  /** Mean over the same positions of KL(base ‖ trained), nats. */
  readonly meanKl: number;
}

interface Pass {
  readonly topk: Map<number, BigInt64Array>;
  /** [T, H] output of the last decoder layer. */
  readonly hidden: Float32Array;
}

function representative(engine: MoeEngine, L: number): number {
  const c = engine.config;
  const key = JSON.stringify(c.layers[L]);
  return c.layers.findIndex((s) => JSON.stringify(s) === key);
}

function runWith(read: WeightReader, s: OrtSession, feeds: Record<string, FeedTensor>, from: number, to: number): Promise<Record<string, OutTensor>> {
  for (const name of s.inputNames) {
    if (feeds[name]) continue;
    const w = read(layerWeightName(name, from, to));
    feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
  }
  return s.run(feeds);
}

const cancelled = (signal?: AbortSignal): void => {
  if (signal?.aborted) throw new MoeError('E_CANCELLED', 'the before/after comparison was cancelled');
};

/** The decoder stack on `ids` with the engine's weights, or with `overrides` in their place. */
async function forwardPass(engine: MoeEngine, ids: readonly number[], overrides: WeightOverrides | undefined, signal?: AbortSignal): Promise<Pass> {
  const c = engine.config;
  const T = ids.length;
  let h = embeddingRows(engine, ids, overrides);
  if (c.embeddingMultiplier !== 1) for (let i = 0; i < h.length; i++) h[i] = h[i]! * c.embeddingMultiplier;
  const topk = new Map<number, BigInt64Array>();
  for (const [L, spec] of c.layers.entries()) {
    cancelled(signal);
    const rep = representative(engine, L);
    // The same session (and key) as the layer-wise training forward.
    const s = await cachedSession(engine, `layer-forward|${rep}`, () => layerForwardBytes(c, rep, spec));
    const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: h, dims: [T, c.hiddenSize] } };
    const out = await withUnitWeights(engine, L, L + 1 < c.numLayers ? L + 1 : 'head', (read) => runWith(read, s, feeds, rep, L), overrides);
    const next = out['hidden_out']?.data;
    if (!(next instanceof Float32Array)) throw new MoeError('E_INTERNAL', `layer ${L} forward gave no hidden_out`);
    h = next;
    if (spec.kind === 'moe') topk.set(L, out['topk']!.data as BigInt64Array);
  }
  return { topk, hidden: h };
}

/** Final norm + LM head + log-softmax: [T, H] -> [T, V] log-probabilities. */
function headLogProbsBytes(engine: MoeEngine): Uint8Array {
  const c = engine.config;
  const g = new GraphBuilder();
  const h = g.input(HIDDEN, DataType.FLOAT, ['T', c.hiddenSize]);
  const final = rmsNorm(g, h, g.weight('model.norm.weight', [c.hiddenSize]), c.rmsNormEps);
  let logits = linear(g, final, g.weight(lmHeadName(c), [c.vocabSize, c.hiddenSize]));
  if (c.logitsScaling !== 1) logits = g.op('Div', [logits, g.scalar(c.logitsScaling)]);
  g.output(g.op('LogSoftmax', [logits], { axis: int(-1) }), 'logp', DataType.FLOAT, ['T', c.vocabSize]);
  return encodeModel(g.build());
}

/** Log-probabilities of rows [r0, r1) of `hidden`, with the base or the trained head. */
async function headRows(engine: MoeEngine, hidden: Float32Array, r0: number, r1: number, overrides: WeightOverrides | undefined): Promise<Float32Array> {
  const H = engine.config.hiddenSize;
  const s = await cachedSession(engine, 'finetune-head-logp', () => headLogProbsBytes(engine));
  const feeds: Record<string, FeedTensor> = { [HIDDEN]: { type: 'float32', data: hidden.subarray(r0 * H, r1 * H), dims: [r1 - r0, H] } };
  const out = await withUnitWeights(engine, 'head', undefined, (read) => runWith(read, s, feeds, 0, 0), overrides);
  const d = out['logp']?.data;
  if (!(d instanceof Float32Array)) throw new MoeError('E_INTERNAL', 'the head gave no log-probabilities');
  return d;
}

/** Calls `f` on chunks of rows [0, rows) with base and trained log-probabilities side by side. */
async function eachRowChunk(engine: MoeEngine, a: Pass, b: Pass, rows: number, overrides: WeightOverrides, signal: AbortSignal | undefined, f: (r0: number, la: Float32Array, lb: Float32Array) => void): Promise<void> {
  const step = Math.max(1, Math.floor(HEAD_CHUNK_BYTES / (4 * engine.config.vocabSize)));
  for (let r0 = 0; r0 < rows; r0 += step) {
    cancelled(signal);
    const r1 = Math.min(rows, r0 + step);
    f(r0, await headRows(engine, a.hidden, r0, r1, undefined), await headRows(engine, b.hidden, r0, r1, overrides));
  }
}

function argmax(x: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let v = 1; v < n; v++) if (x[off + v]! > x[off + best]!) best = v;
  return best;
}

/**
 * Held-out before/after: the losses and routing of both passes, and per trained target the top-1 agreement
 * and KL(base ‖ trained) = Σ_v p_base(v) (log p_base(v) − log p_trained(v)), in float64.
 */
export async function compareHeldOut(engine: MoeEngine, trained: WeightOverrides, seqs: readonly TrainingSequenceInput[], signal?: AbortSignal): Promise<HeldOutComparison> {
  const V = engine.config.vocabSize;
  let nllA = 0;
  let nllB = 0;
  let targets = 0;
  let agree = 0;
  let kl = 0;
  const topA: Map<number, BigInt64Array>[] = [];
  const topB: Map<number, BigInt64Array>[] = [];
  for (const s of seqs) {
    const mask = s.lossMask ?? new Float32Array(s.ids.length - 1).fill(1);
    if (!mask.some((m) => m !== 0)) {
      topA.push(new Map());
      topB.push(new Map());
      continue;
    }
    const a = await forwardPass(engine, s.ids, undefined, signal);
    const b = await forwardPass(engine, s.ids, trained, signal);
    topA.push(a.topk);
    topB.push(b.topk);
    await eachRowChunk(engine, a, b, s.ids.length - 1, trained, signal, (r0, la, lb) => {
      const rows = la.length / V;
      for (let r = 0; r < rows; r++) {
        const t = r0 + r;
        if (mask[t] === 0) continue;
        const off = r * V;
        const next = s.ids[t + 1]!;
        nllA -= la[off + next]!;
        nllB -= lb[off + next]!;
        targets++;
        if (argmax(la, off, V) === argmax(lb, off, V)) agree++;
        let k = 0;
        for (let v = 0; v < V; v++) {
          const x = la[off + v]!;
          k += Math.exp(x) * (x - lb[off + v]!);
        }
        kl += k;
      }
    });
  }
  const mean = (x: number): number => (targets === 0 ? Number.NaN : x / targets);
  return { before: { loss: mean(nllA), targets, topk: topA }, after: { loss: mean(nllB), targets, topk: topB }, top1Agreement: mean(agree), meanKl: mean(kl) };
}

function sameSet(a: BigInt64Array, b: BigInt64Array, t: number, K: number): boolean {
  for (let k = 0; k < K; k++) {
    const e = a[t * K + k]!;
    let found = false;
    for (let j = 0; j < K && !found; j++) found = b[t * K + j] === e;
    if (!found) return false;
  }
  return true;
}

/**
 * The open document, base vs trained: per token, the MoE layers where its top-k expert set changed and
 * whether the top-1 prediction of the next token changed. A document longer than one pass is truncated.
 */
export async function compareDocument(engine: MoeEngine, trained: WeightOverrides, text: string, signal?: AbortSignal): Promise<FinetuneDocumentDiff> {
  const c = engine.config;
  const V = c.vocabSize;
  const { tokens, complete } = engine.tokenizer.encodeHead(text, longestSequence(engine));
  const T = tokens.length;
  const moe = c.layers.flatMap((l, i) => (l.kind === 'moe' ? [[i, l.routing.topK] as const] : []));
  if (T === 0) return { tokens: 0, truncated: !complete, changedPredictions: 0, routingChanged: moe.map(([layer]) => ({ layer, share: 0 })), perToken: [] };
  const ids = tokens.map((t) => t.id);
  const a = await forwardPass(engine, ids, undefined, signal);
  const b = await forwardPass(engine, ids, trained, signal);
  const predictionChanged = new Array<boolean>(T).fill(false);
  await eachRowChunk(engine, a, b, T, trained, signal, (r0, la, lb) => {
    for (let r = 0; r * V < la.length; r++) predictionChanged[r0 + r] = argmax(la, r * V, V) !== argmax(lb, r * V, V);
  });
  const layersOf: number[][] = Array.from({ length: T }, () => []);
  const routingChanged = moe.map(([layer, K]) => {
    const x = a.topk.get(layer)!;
    const y = b.topk.get(layer)!;
    let n = 0;
    for (let t = 0; t < T; t++) {
      if (sameSet(x, y, t, K)) continue;
      n++;
      layersOf[t]!.push(layer);
    }
    return { layer, share: n / T };
  });
  const perToken: FinetuneDocumentDiff['perToken'][number][] = [];
  for (let t = 0; t < T && perToken.length < DOCUMENT_TOKENS_SHOWN; t++) {
    if (layersOf[t]!.length === 0 && !predictionChanged[t]) continue;
    const s = tokens[t]!;
    perToken.push({ index: t, text: s.text, start: s.start, end: s.end, layers: layersOf[t]!, predictionChanged: predictionChanged[t]! });
  }
  return { tokens: T, truncated: !complete, changedPredictions: predictionChanged.filter(Boolean).length, routingChanged, perToken };
}
