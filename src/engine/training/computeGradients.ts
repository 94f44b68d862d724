// Loss and gradients of one sequence w.r.t. a set of trainable parameters (issue #9 §2):
//   loss = lm_loss + auxLossCoef · aux_loss + zLossCoef · z_loss
// lm_loss the mean next-token cross-entropy over the positions the loss mask keeps (HF causal-LM loss with
// labels = input ids), aux_loss HF's load_balancing_loss_func pooled over the MoE layers, z_loss the router
// z-loss (mean over tokens and MoE layers of logsumexp(router logits)²). Gradients come back by Hugging Face
// tensor name and shape; frozen weights get no gradient computation.
import type { Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { expertFc1SliceName, expertFc2SliceName, parseExpertSliceName } from '../graph/trainableMoeBlock';
import type { MoeEngine } from '../moeEngine';
import { availableMemory } from '../model/availableMemory';
import { checkTrainableSet } from './checkTrainableSet';
import type { F32Tensor } from './gradientWeights';
import { hfGradients } from './hfGradients';
import { layerwiseGradients } from './layerwiseGradients';
import { lowestTrainableLayer, type TrainableSet } from './trainableSet';

export interface GradientOptions {
  readonly trainable: TrainableSet;
  readonly auxLossCoef?: number;
  readonly zLossCoef?: number;
  /** [T-1], 1 = token counts in the loss */
  readonly lossMask?: Float32Array;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  /**
   * Bytes of activations the backward may keep from the forward (default: what the engine's memory budget
   * leaves, defaultActivationBytes); layers past it recompute their forward in their backward instead.
   */
  readonly activationBytes?: number;
  /**
   * Receives each HF tensor's gradient as soon as its layer's backward is done (top layer first; the
   * embedding last); the gradients are then not kept in the result (`grads` is empty), so a caller can
   * write them out without holding them all.
   */
  readonly onGradient?: (name: string, grad: { readonly dims: readonly number[]; readonly data: Float32Array }) => void | Promise<void>;
}

export interface GradientResult {
  readonly loss: number;
  /** unscaled load-balancing loss; 0 for dense models */
  readonly auxLoss: number;
  readonly lmLoss: number;
  /** by Hugging Face tensor name, HF shape, float32 */
  readonly grads: ReadonlyMap<string, { readonly dims: readonly number[]; readonly data: Float32Array }>;
}

/** The part of `s` whose graph weights are the keys of `unit`. */
function unitTrainableSet(s: TrainableSet, unit: ReadonlyMap<string, unknown>): TrainableSet {
  const experts = new Map<number, Set<number>>();
  for (const name of unit.keys()) {
    const slice = parseExpertSliceName(name);
    if (!slice) continue;
    let es = experts.get(slice.layer);
    if (!es) experts.set(slice.layer, (es = new Set()));
    es.add(slice.expert);
  }
  return { tensors: new Set([...s.tensors].filter((t) => unit.has(t))), experts };
}

/** The training graph's weight inputs the gradient is taken for, sorted. */
export function trainableGraphWeights(s: TrainableSet): string[] {
  const out = [...s.tensors];
  for (const [L, es] of s.experts) for (const e of es) out.push(expertFc1SliceName(L, e), expertFc2SliceName(L, e));
  return out.sort();
}

export function checkInputs(engine: MoeEngine, ids: readonly number[], opts: GradientOptions): Float32Array {
  const c = engine.config;
  if (ids.length < 2) throw new MoeError('E_INPUT', `a gradient needs at least 2 tokens (a next token to predict); got ${ids.length}`);
  const bad = ids.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= c.vocabSize);
  if (bad >= 0) throw new MoeError('E_INPUT', `token id ${ids[bad]} at position ${bad} is outside the vocabulary (0..${c.vocabSize - 1})`);
  if (ids.length > Math.min(c.contextLength, engine.maxAttentionTokens)) throw new MoeError('E_INPUT', `the sequence has ${ids.length} tokens, more than this model takes in one pass (${Math.min(c.contextLength, engine.maxAttentionTokens)})`);
  for (const [k, v] of [['auxLossCoef', opts.auxLossCoef], ['zLossCoef', opts.zLossCoef]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw new MoeError('E_INPUT', `${k} must be a finite number; got ${v}`);
  }
  const mask = opts.lossMask ?? new Float32Array(ids.length - 1).fill(1);
  if (mask.length !== ids.length - 1) throw new MoeError('E_INPUT', `the loss mask has ${mask.length} values; it needs one per predicted token (${ids.length - 1})`);
  let kept = 0;
  for (const m of mask) {
    if (!Number.isFinite(m) || m < 0) throw new MoeError('E_INPUT', `loss mask values must be finite and >= 0; got ${m}`);
    kept += m;
  }
  if (kept === 0) throw new MoeError('E_INPUT', 'the loss mask keeps no token: the loss would be 0/0');
  checkTrainableSet(c, opts.trainable);
  return mask;
}

/**
 * What the memory budget leaves for stored activations at T tokens: the budget minus the engine's estimate
 * for the weights, buffers, runtime and a forward's activations (scaled from the plan's token count to T;
 * attention quadratically). Without a memory plan: a quarter of the available memory, at most 2 GiB.
 */
export function defaultActivationBytes(engine: MoeEngine, T: number): number {
  const m = engine.info.memory;
  if (!m) return Math.min(2 ** 31, availableMemory().bytes / 4);
  const e = m.estimate;
  const r = e.tokens > 0 ? T / e.tokens : 1;
  const forward = e.activationBytes * r + e.attentionBytes * r * r;
  return Math.max(0, m.budgetBytes - (e.storedBytes + e.f32CacheBytes + e.layerBufferBytes + e.runtimeBytes + forward));
}

/** The gradient computation, layer by layer (layerwiseGradients.ts); results by HF tensor name and shape. */
export async function computeGradients(engine: MoeEngine, ids: readonly number[], opts: GradientOptions): Promise<GradientResult> {
  const mask = checkInputs(engine, ids, opts);
  const cancelled = (): void => {
    if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'gradient computation cancelled');
  };
  cancelled();
  const c = engine.config;
  const wrt = trainableGraphWeights(opts.trainable);
  const auxCoef = opts.auxLossCoef ?? 0;
  let units = 0;
  const total = c.numLayers * 2 + 1;
  const step = (what: string): void => {
    cancelled();
    opts.onProgress?.({ stage: 'gradients', done: Math.min(++units, total), total, message: what });
  };
  const grads = new Map<string, F32Tensor>();
  const finished = async (unit: ReadonlyMap<string, Float32Array>): Promise<void> => {
    for (const [name, g] of hfGradients(c, unitTrainableSet(opts.trainable, unit), (w) => unit.get(w)!)) {
      if (opts.onGradient) await opts.onGradient(name, g);
      else grads.set(name, g);
    }
  };
  const r = await layerwiseGradients(engine, { ids, lossMask: mask, auxCoef, zCoef: opts.zLossCoef ?? 0, wrt: new Set(wrt), lowest: lowestTrainableLayer(opts.trainable, c.numLayers), activationBytes: opts.activationBytes ?? defaultActivationBytes(engine, ids.length), step, done: finished });
  opts.onProgress?.({ stage: 'gradients', done: total, total, message: 'done' });
  return { loss: r.lmLoss + auxCoef * r.auxLoss + (opts.zLossCoef ?? 0) * r.zLoss, lmLoss: r.lmLoss, auxLoss: r.auxLoss, grads };
}
