// Dense → MoE upcycling (issue #11 §1): the options, and the checks that the source model and the target
// family can hold them, made before anything is read or written. A refusal names the value and the reason.
import { MoeError } from '../../protocol/moeError';
import type { ModelConfig } from '../model/modelConfig';

export type UpcycleMethod = 'copy' | 'noise' | 'drop' | 'split';
export const UPCYCLE_METHODS: readonly UpcycleMethod[] = ['copy', 'noise', 'drop', 'split'];
/** Drop-Upcycling's index sets: one per expert shared by gate, up and down (the paper), or one per matrix (the released code). */
export type DropMode = 'paper' | 'reference-code';
export const DROP_MODES: readonly DropMode[] = ['paper', 'reference-code'];
export type RouterInit = 'random' | 'kmeans';
export const ROUTER_INITS: readonly RouterInit[] = ['random', 'kmeans'];
export type TargetFamily = 'mixtral' | 'qwen3_moe';

/** Dense family → the MoE family with the same attention, norms, RoPE and embeddings. */
export const UPCYCLE_TARGETS: Readonly<Record<string, TargetFamily>> = { llama: 'mixtral', qwen3: 'qwen3_moe' };
const MOE_FAMILIES = new Set(['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe']);

/** Drop-Upcycling's router init ("torch_rand_002"): zero-mean uniform with this standard deviation. */
export const ROUTER_STD = 0.02;
/** Upper bound on the expert count: far above released models (256), below sizes that only come from typos. */
export const MAX_EXPERTS = 4096;

export interface UpcycleOptions {
  readonly experts: number;
  readonly topK: number;
  readonly method: UpcycleMethod;
  /** noise / drop: the fraction of each expert's neurons that are changed. */
  readonly ratio: number;
  /** noise: standard deviation of the added N(0, σ²). */
  readonly noiseStd: number;
  readonly dropMode: DropMode;
  readonly router: RouterInit;
  /** Decoder layers that become MoE layers; 'all' for every layer. */
  readonly layers: 'all' | readonly number[];
  readonly seed: number;
  /** Calibration files or folders: the tokens the kmeans router init and the balanced split cluster. */
  readonly data?: readonly string[];
}

export const UPCYCLE_DEFAULTS = { method: 'copy', ratio: 0.5, noiseStd: 0.02, dropMode: 'paper', router: 'random', layers: 'all', seed: 0 } as const satisfies Partial<UpcycleOptions>;

export interface UpcyclePlan {
  readonly options: UpcycleOptions;
  readonly target: TargetFamily;
  /** Sorted decoder layer indices that become MoE layers; the others stay dense (Qwen3-MoE's mlp_only_layers). */
  readonly moeLayers: readonly number[];
  /** The dense MLP's intermediate size I. */
  readonly denseIntermediate: number;
  /** Each expert's intermediate size: I, or I/E for split. */
  readonly expertIntermediate: number;
  /** Neurons changed per expert and matrix (noise, drop): floor(r·I), as Drop-Upcycling's int(r·I). */
  readonly changedNeurons: number;
  /** split: a seeded random partition, or balanced k-means over the neurons' activations on the data. */
  readonly partition?: 'random' | 'balanced-kmeans';
}

const fail = (code: 'E_INPUT' | 'E_UNSUPPORTED', msg: string, file: string): never => {
  throw new MoeError(code, `${file}: ${msg}`, file);
};

/** The family to upcycle a config.json's model_type into; refuses MoE sources and other families. */
export function targetFamilyOf(modelType: unknown, file: string): TargetFamily {
  if (typeof modelType === 'string' && modelType in UPCYCLE_TARGETS) return UPCYCLE_TARGETS[modelType]!;
  if (typeof modelType === 'string' && MOE_FAMILIES.has(modelType)) {
    return fail('E_INPUT', `model_type "${modelType}" is already a mixture of experts; upcycle needs a dense model (llama or qwen3). To grow an MoE, add experts to it instead`, file);
  }
  const supported = Object.entries(UPCYCLE_TARGETS).map(([s, t]) => `${s} → ${t}`).join(', ');
  return fail('E_UNSUPPORTED', `model_type ${JSON.stringify(modelType)} cannot be upcycled (supported: ${supported})`, file);
}

/** Checks `o` against the dense model `c` (its config.json is `file`) and resolves the layers and sizes. */
export function planUpcycle(c: ModelConfig, o: UpcycleOptions, file: string): UpcyclePlan {
  const target = targetFamilyOf(c.modelType, file);
  if (!Number.isSafeInteger(o.experts) || o.experts < 1 || o.experts > MAX_EXPERTS) fail('E_INPUT', `the number of experts must be an integer from 1 to ${MAX_EXPERTS}, got ${o.experts}`, file);
  if (!Number.isSafeInteger(o.topK) || o.topK < 1 || o.topK > o.experts) fail('E_INPUT', `top-k must be an integer from 1 to the number of experts (${o.experts}), got ${o.topK}`, file);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) fail('E_INPUT', `the seed must be an integer from 0 to 4294967295, got ${o.seed}`, file);
  if ((o.method === 'noise' || o.method === 'drop') && !(o.ratio > 0 && o.ratio <= 1)) fail('E_INPUT', `the ratio of changed neurons must be in (0, 1], got ${o.ratio}`, file);
  if (o.method === 'noise' && !(Number.isFinite(o.noiseStd) && o.noiseStd >= 0)) fail('E_INPUT', `the noise standard deviation must be a finite number >= 0, got ${o.noiseStd}`, file);
  const hasData = (o.data?.length ?? 0) > 0;
  if (o.router === 'kmeans' && !hasData) fail('E_INPUT', 'the k-means router init clusters the MLP inputs of data tokens: give the data (--data PATH...)', file);
  if (hasData && o.router !== 'kmeans' && o.method !== 'split') fail('E_INPUT', 'data is used by the k-means router init and by split (balanced k-means over the neurons\' activations) only', file);
  if (c.mlpBias) fail('E_UNSUPPORTED', `"mlp_bias": true — ${target === 'mixtral' ? 'Mixtral' : 'Qwen3-MoE'} experts have no bias, so the MLP biases cannot be carried over`, file);
  if (target === 'mixtral' && (c.attention.qkvBias || c.attention.oBias)) fail('E_UNSUPPORTED', '"attention_bias": true — Mixtral attention has no biases', file);

  const dense = c.layers.map((l) => l.intermediateSize);
  const I = dense[0]!;
  if (c.layers.some((l) => l.kind !== 'dense') || dense.some((x) => x !== I)) fail('E_INPUT', 'upcycle needs a dense model whose layers share one intermediate_size', file);

  let moeLayers: number[];
  if (o.layers === 'all') moeLayers = c.layers.map((_, i) => i);
  else {
    moeLayers = [...new Set(o.layers)].sort((a, b) => a - b);
    if (moeLayers.length === 0) fail('E_INPUT', 'the list of layers to upcycle is empty', file);
    const bad = moeLayers.find((L) => !Number.isSafeInteger(L) || L < 0 || L >= c.numLayers);
    if (bad !== undefined) fail('E_INPUT', `layer ${bad} does not exist (the model has layers 0 to ${c.numLayers - 1})`, file);
    if (target === 'mixtral' && moeLayers.length < c.numLayers) fail('E_UNSUPPORTED', 'a layer subset cannot be upcycled to Mixtral, which has no dense layers; upcycle all layers, or use a qwen3 source', file);
  }

  if (o.method === 'split' && (o.experts > I || I % o.experts !== 0)) fail('E_INPUT', `split partitions the ${I} neurons of intermediate_size into ${o.experts} equal groups: ${o.experts} does not divide ${I}`, file);
  return {
    options: o,
    target,
    moeLayers,
    denseIntermediate: I,
    expertIntermediate: o.method === 'split' ? I / o.experts : I,
    changedNeurons: o.method === 'noise' || o.method === 'drop' ? Math.floor(o.ratio * I) : 0,
    ...(o.method === 'split' ? { partition: hasData ? ('balanced-kmeans' as const) : ('random' as const) } : {}),
  };
}
