// config.json -> ModelConfig. Applies the HF config classes' defaults and refuses, with a clear error,
// every key whose value would change the numbers in a way the engine does not implement. Numbers are read
// through ConfigReader (finite, positive, integer, bounded); configBounds.ts then binds sizes to the weights.
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { ConfigReader, MAX_LAYERS, show } from './configReader';
import { isRecord, readJsonFile } from './jsonFile';
import { type LayerSpec, type ModelConfig, type ModelType, type RopeScaling, SUPPORTED_MODEL_TYPES } from './modelConfig';

type Raw = Record<string, unknown>;

/** HF class defaults of `num_key_value_heads` when the key is absent. */
const KV_HEADS_DEFAULT: Partial<Record<ModelType, number>> = { mixtral: 8, qwen2_moe: 16, qwen3_moe: 4, qwen3: 32 };
const EPS_DEFAULT: Record<ModelType, number> = { mixtral: 1e-5, qwen2_moe: 1e-6, qwen3_moe: 1e-6, olmoe: 1e-5, granitemoe: 1e-6, llama: 1e-6, qwen3: 1e-6 };
const THETA_DEFAULT: Record<ModelType, number> = { mixtral: 1e6, qwen2_moe: 10000, qwen3_moe: 10000, olmoe: 10000, granitemoe: 10000, llama: 10000, qwen3: 10000 };

/** Reads `<dir>/config.json` and resolves it. */
export function loadModelConfig(modelDir: string): ModelConfig {
  const file = path.join(modelDir, 'config.json');
  const raw = readJsonFile(file, 'E_CONFIG', 4 * 1024 * 1024);
  if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${file}: expected a JSON object`, file);
  return parseModelConfig(raw, file);
}

export function parseModelConfig(raw: Raw, file: string): ModelConfig {
  const r: ConfigReader = new ConfigReader(raw, file); // annotated: r.fail() narrows only through a declared type
  const mt = raw['model_type'];
  if (typeof mt !== 'string') r.fail('"model_type" is missing; this does not look like a Hugging Face transformers config');
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(mt)) {
    r.fail(`model_type "${mt}" is not supported. Supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`, 'E_UNSUPPORTED');
  }
  const modelType = mt as ModelType;
  const act = raw['hidden_act'] ?? raw['hidden_activation'] ?? 'silu';
  if (act !== 'silu') r.fail(`hidden_act "${String(act)}" is not supported (only "silu", i.e. SwiGLU experts)`, 'E_UNSUPPORTED');
  if (r.has('partial_rotary_factor') && r.num('partial_rotary_factor', 1) !== 1) r.fail('"partial_rotary_factor" other than 1 is not supported', 'E_UNSUPPORTED');

  const hiddenSize = r.int('hidden_size');
  const numLayers = r.int('num_hidden_layers', undefined, 1, MAX_LAYERS);
  const numHeads = r.int('num_attention_heads');
  const numKvHeads = raw['num_key_value_heads'] === null ? numHeads : r.int('num_key_value_heads', KV_HEADS_DEFAULT[modelType] ?? numHeads);
  if (numHeads % numKvHeads !== 0) r.fail(`"num_attention_heads" (${numHeads}) must be a multiple of "num_key_value_heads" (${numKvHeads})`);
  const headDim = resolveHeadDim(r, modelType, hiddenSize, numHeads);
  const vocabSize = r.int('vocab_size');
  const { theta, scaling } = resolveRope(r, modelType);

  const attentionBias = r.bool('attention_bias', false);
  const attention = {
    qkvBias: modelType === 'qwen2_moe' ? r.bool('qkv_bias', true) : modelType === 'mixtral' ? false : attentionBias,
    oBias: modelType === 'qwen2_moe' || modelType === 'mixtral' ? false : attentionBias,
    qkNorm: modelType === 'qwen3' || modelType === 'qwen3_moe' ? ('per_head' as const) : modelType === 'olmoe' ? ('full' as const) : ('none' as const),
    clipQkv: modelType === 'olmoe' && r.has('clip_qkv') ? r.positive('clip_qkv', 1) : null,
    scale: modelType === 'granitemoe' ? r.positive('attention_multiplier', 1) : 1 / Math.sqrt(headDim),
    slidingWindow: resolveSlidingWindow(r, modelType),
  };
  if (modelType === 'mixtral' && r.has('attention_bias') && attentionBias) r.fail('"attention_bias" is not part of Mixtral and is not supported', 'E_UNSUPPORTED');

  const layers = resolveLayers(r, modelType, numLayers);
  const archs = raw['architectures'];
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : modelType;
  const granite = modelType === 'granitemoe';
  const logitsScaling = granite ? r.positive('logits_scaling', 1) : 1;
  return {
    modelType,
    architecture,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize,
    contextLength: r.int('max_position_embeddings', 4096),
    rmsNormEps: r.positive('rms_norm_eps', EPS_DEFAULT[modelType]),
    ropeTheta: theta,
    ropeScaling: scaling,
    tieWordEmbeddings: r.bool('tie_word_embeddings', false),
    attention,
    mlpBias: modelType === 'llama' ? r.bool('mlp_bias', false) : false,
    embeddingMultiplier: granite ? r.positive('embedding_multiplier', 1) : 1,
    residualMultiplier: granite ? r.positive('residual_multiplier', 1) : 1,
    logitsScaling,
    layers,
    dtype: String(raw['torch_dtype'] ?? raw['dtype'] ?? 'float32'),
  };
}

function resolveHeadDim(r: ConfigReader, modelType: ModelType, hidden: number, heads: number): number {
  const fallback = modelType === 'qwen3' && !('head_dim' in r.raw) ? 128 : Math.floor(hidden / heads);
  if (!r.has('head_dim')) {
    if (modelType !== 'qwen3' && hidden % heads !== 0) r.fail(`hidden_size (${hidden}) is not divisible by num_attention_heads (${heads}) and head_dim is not given`);
    return evenHeadDim(r, fallback, `the head dimension (hidden_size / num_attention_heads = ${hidden} / ${heads})`);
  }
  const hd = r.int('head_dim');
  if (modelType === 'granitemoe' && hd * heads !== hidden) r.fail(`GraniteMoE derives head_dim from hidden_size / num_attention_heads (${hidden / heads}); a different "head_dim" (${hd}) is not supported`, 'E_UNSUPPORTED');
  return evenHeadDim(r, hd, '"head_dim"');
}

/** RoPE rotates pairs of channels: an odd head dimension has no rotary form. */
function evenHeadDim(r: ConfigReader, hd: number, what: string): number {
  if (hd < 2 || hd % 2 !== 0) r.fail(`${what} must be an even number >= 2 (rotary embeddings rotate pairs of channels), got ${hd}`);
  return hd;
}

/** The family's config key for the number of routed experts. */
export function numExpertsKey(modelType: ModelType): string {
  return modelType === 'mixtral' || modelType === 'granitemoe' ? 'num_local_experts' : 'num_experts';
}

function resolveRope(r: ConfigReader, modelType: ModelType): { theta: number; scaling: RopeScaling } {
  // transformers 5 writes rope_parameters {rope_type, rope_theta, ...}; 4.x writes rope_theta + rope_scaling.
  const params = r.raw['rope_parameters'];
  const group = isRecord(params) ? 'rope_parameters' : 'rope_scaling';
  const scalingRaw = isRecord(params) ? params : r.raw['rope_scaling'];
  let theta = r.positive('rope_theta', THETA_DEFAULT[modelType]);
  if (isRecord(params) && params['rope_theta'] !== undefined && params['rope_theta'] !== null) {
    const v = params['rope_theta'];
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) r.fail(`"rope_parameters.rope_theta" must be a number greater than 0, got ${show(v)}`);
    theta = v;
  }
  if (scalingRaw === undefined || scalingRaw === null) return { theta, scaling: { type: 'default' } };
  if (!isRecord(scalingRaw)) r.fail('"rope_scaling" must be an object or null');
  const type = scalingRaw['rope_type'] ?? scalingRaw['type'] ?? 'default';
  // Every rope number divides something (positions, wavelengths, the smoothing band): 0 or less is NaN or inf.
  const positive = (k: string): number => {
    const v = scalingRaw[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) r.fail(`"${group}.${k}" must be a number greater than 0, got ${show(v)}`);
    return v;
  };
  switch (type) {
    case 'default':
      return { theta, scaling: { type: 'default' } };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: positive('factor') } };
    case 'llama3': {
      const lowFreqFactor = positive('low_freq_factor');
      const highFreqFactor = positive('high_freq_factor');
      if (!(highFreqFactor > lowFreqFactor)) {
        r.fail(`"${group}.high_freq_factor" (${highFreqFactor}) must be greater than "${group}.low_freq_factor" (${lowFreqFactor}): llama3 rope smooths between the two`);
      }
      const originalMaxPositions = positive('original_max_position_embeddings');
      if (!Number.isSafeInteger(originalMaxPositions)) r.fail(`"${group}.original_max_position_embeddings" must be an integer, got ${show(originalMaxPositions)}`);
      return { theta, scaling: { type: 'llama3', factor: positive('factor'), lowFreqFactor, highFreqFactor, originalMaxPositions } };
    }
    default:
      return r.fail(`rope_scaling type "${String(type)}" is not supported (supported: default, linear, llama3); running it without would give wrong numbers`, 'E_UNSUPPORTED');
  }
}

function resolveSlidingWindow(r: ConfigReader, modelType: ModelType): number | null {
  const layerTypes = r.raw['layer_types'];
  if (Array.isArray(layerTypes) && layerTypes.some((t) => t !== 'full_attention')) {
    r.fail(`layer_types contains ${JSON.stringify(layerTypes.find((t) => t !== 'full_attention'))}; only full attention is supported`, 'E_UNSUPPORTED');
  }
  if (modelType === 'mixtral') return r.has('sliding_window') ? r.int('sliding_window') : null;
  if (modelType === 'qwen2_moe' || modelType === 'qwen3_moe' || modelType === 'qwen3') {
    if (r.bool('use_sliding_window', false)) r.fail('"use_sliding_window": true is not supported (sliding-window attention per max_window_layers)', 'E_UNSUPPORTED');
    return null;
  }
  if ((modelType === 'llama' || modelType === 'olmoe' || modelType === 'granitemoe') && r.has('sliding_window')) {
    r.fail(`"sliding_window" is not part of ${modelType} and is not supported`, 'E_UNSUPPORTED');
  }
  return null;
}

function resolveLayers(r: ConfigReader, modelType: ModelType, numLayers: number): LayerSpec[] {
  if (modelType === 'llama' || modelType === 'qwen3') {
    const inter = r.int('intermediate_size');
    return Array.from({ length: numLayers }, () => ({ kind: 'dense' as const, intermediateSize: inter }));
  }
  const expertsKey = numExpertsKey(modelType);
  const numExperts = r.int(expertsKey);
  const topK = r.int('num_experts_per_tok');
  if (topK > numExperts) r.fail(`"num_experts_per_tok" (${topK}) exceeds the number of experts, "${expertsKey}" (${numExperts})`);
  const renormalize = modelType === 'mixtral' || modelType === 'granitemoe' ? true : r.bool('norm_topk_prob', false);
  const routing = { numExperts, topK, renormalize };
  if (modelType === 'mixtral' || modelType === 'olmoe' || modelType === 'granitemoe') {
    const inter = r.int('intermediate_size');
    return Array.from({ length: numLayers }, () => ({ kind: 'moe' as const, intermediateSize: inter, routing }));
  }
  // Qwen2-MoE / Qwen3-MoE: layer i is MoE iff not in mlp_only_layers and (i+1) % decoder_sparse_step == 0.
  const step = r.int('decoder_sparse_step', 1);
  const mlpOnly = new Set(r.intList('mlp_only_layers'));
  const moeInter = r.int('moe_intermediate_size');
  const denseInter = r.int('intermediate_size', 0, 0);
  const sharedInter = modelType === 'qwen2_moe' ? r.int('shared_expert_intermediate_size', 0, 0) : 0;
  return Array.from({ length: numLayers }, (_, i): LayerSpec => {
    if (!mlpOnly.has(i) && (i + 1) % step === 0) {
      return sharedInter > 0 ? { kind: 'moe', intermediateSize: moeInter, routing, shared: { intermediateSize: sharedInter, sigmoidGate: true } } : { kind: 'moe', intermediateSize: moeInter, routing };
    }
    if (denseInter <= 0) r.fail(`layer ${i} is a dense MLP layer but "intermediate_size" is missing`);
    return { kind: 'dense', intermediateSize: denseInter };
  });
}
