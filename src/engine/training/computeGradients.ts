// Loss and gradients of one sequence w.r.t. a set of trainable parameters (issue #9 §2):
//   loss = lm_loss + auxLossCoef · aux_loss + zLossCoef · z_loss
// lm_loss the mean next-token cross-entropy over the positions the loss mask keeps (HF causal-LM loss with
// labels = input ids), aux_loss HF's load_balancing_loss_func pooled over the MoE layers, z_loss the router
// z-loss (mean over tokens and MoE layers of logsumexp(router logits)²). Gradients come back by Hugging Face
// tensor name and shape; frozen weights get no gradient computation.
import type { Progress } from '../../protocol/engineProtocol';
import { MoeError } from '../../protocol/moeError';
import { expertFc1SliceName, expertFc2SliceName } from '../graph/trainableMoeBlock';
import type { MoeEngine } from '../moeEngine';
import type { FeedTensor } from '../runtime/ortSession';
import { type F32Tensor, trainingWeightFeed } from './gradientWeights';
import { hfGradients } from './hfGradients';
import { checkTrainableSet } from './checkTrainableSet';
import type { TrainableSet } from './trainableSet';
import { gradOutputName, trainingSession } from './trainingSession';

export interface GradientOptions {
  readonly trainable: TrainableSet;
  readonly auxLossCoef?: number;
  readonly zLossCoef?: number;
  /** [T-1], 1 = token counts in the loss */
  readonly lossMask?: Float32Array;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
}

export interface GradientResult {
  readonly loss: number;
  /** unscaled load-balancing loss; 0 for dense models */
  readonly auxLoss: number;
  readonly lmLoss: number;
  /** by Hugging Face tensor name, HF shape, float32 */
  readonly grads: ReadonlyMap<string, { readonly dims: readonly number[]; readonly data: Float32Array }>;
}

/** The training graph's weight inputs the gradient is taken for, sorted. */
export function trainableGraphWeights(s: TrainableSet): string[] {
  const out = [...s.tensors];
  for (const [L, es] of s.experts) for (const e of es) out.push(expertFc1SliceName(L, e), expertFc2SliceName(L, e));
  return out.sort();
}

function checkInputs(engine: MoeEngine, ids: readonly number[], opts: GradientOptions): Float32Array {
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

export async function computeGradients(engine: MoeEngine, ids: readonly number[], opts: GradientOptions): Promise<GradientResult> {
  const mask = checkInputs(engine, ids, opts);
  const cancelled = (): void => {
    if (opts.signal?.aborted) throw new MoeError('E_CANCELLED', 'gradient computation cancelled');
  };
  cancelled();
  const wrt = trainableGraphWeights(opts.trainable);
  opts.onProgress?.({ stage: 'gradients', done: 0, total: 1, message: `building the backward of ${wrt.length} weight tensors` });
  const session = await trainingSession(engine, wrt);
  cancelled();
  const scalar = (v: number): FeedTensor => ({ type: 'float32', data: Float32Array.of(v), dims: [] });
  const feeds: Record<string, FeedTensor> = {
    input_ids: { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [ids.length] },
    loss_mask: { type: 'float32', data: mask, dims: [mask.length] },
    aux_coef: scalar(opts.auxLossCoef ?? 0),
    z_coef: scalar(opts.zLossCoef ?? 0),
  };
  for (const name of session.inputNames) {
    if (feeds[name]) continue;
    const w = trainingWeightFeed(engine, name);
    feeds[name] = { type: 'float32', data: w.data, dims: w.dims };
  }
  opts.onProgress?.({ stage: 'gradients', done: 0, total: 1, message: `forward and backward over ${ids.length} tokens` });
  const out = await session.run(feeds);
  cancelled();
  const f32 = (name: string): Float32Array => {
    const t = out[name]?.data;
    if (!(t instanceof Float32Array)) throw new MoeError('E_INTERNAL', `training graph output ${name} is missing`);
    return t;
  };
  const grads: Map<string, F32Tensor> = hfGradients(engine.config, opts.trainable, (w) => f32(gradOutputName(w)));
  opts.onProgress?.({ stage: 'gradients', done: 1, total: 1, message: 'done' });
  return { loss: f32('loss')[0]!, lmLoss: f32('lm_loss')[0]!, auxLoss: f32('aux_loss')[0]!, grads };
}
