// config.json -> ModelConfig. Applies the HF config classes' defaults and refuses, with a clear error,
// every key whose value would change the numbers in a way the engine does not implement.
import * as path from 'node:path';
import { MoeError } from '../../protocol/moeError';
import { isRecord, readJsonFile } from './jsonFile';
import { type LayerSpec, type ModelConfig, type ModelType, type RopeScaling, SUPPORTED_MODEL_TYPES } from './modelConfig';

type Raw = Record<string, unknown>;

/** HF class defaults of `num_key_value_heads` when the key is absent. */
const KV_HEADS_DEFAULT: Partial<Record<ModelType, number>> = { mixtral: 8, qwen2_moe: 16, qwen3_moe: 4, qwen3: 32 };
const EPS_DEFAULT: Record<ModelType, number> = { mixtral: 1e-5, qwen2_moe: 1e-6, qwen3_moe: 1e-6, olmoe: 1e-5, granitemoe: 1e-6, llama: 1e-6, qwen3: 1e-6 };
const THETA_DEFAULT: Record<ModelType, number> = { mixtral: 1e6, qwen2_moe: 10000, qwen3_moe: 10000, olmoe: 10000, granitemoe: 10000, llama: 10000, qwen3: 10000 };

class Reader {
  constructor(
    readonly raw: Raw,
    readonly file: string,
  ) {}

  fail(msg: string, code: 'E_CONFIG' | 'E_UNSUPPORTED' = 'E_CONFIG'): never {
    throw new MoeError(code, `${this.file}: ${msg}`, this.file);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, def?: number, min = 1): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(`"${key}" is missing; it is required to build the model`);
      return def;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(`"${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  num(key: string, def: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`"${key}" must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x))) this.fail(`"${key}" must be a list of integers`);
    return v as number[];
  }
}

/** Reads `<dir>/config.json` and resolves it. */
export function loadModelConfig(modelDir: string): ModelConfig {
  const file = path.join(modelDir, 'config.json');
  const raw = readJsonFile(file, 'E_CONFIG', 4 * 1024 * 1024);
  if (!isRecord(raw)) throw new MoeError('E_CONFIG', `${file}: expected a JSON object`, file);
  return parseModelConfig(raw, file);
}

export function parseModelConfig(raw: Raw, file: string): ModelConfig {
  const r: Reader = new Reader(raw, file);
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
  const numLayers = r.int('num_hidden_layers');
  const numHeads = r.int('num_attention_heads');
  const numKvHeads = raw['num_key_value_heads'] === null ? numHeads : r.int('num_key_value_heads', KV_HEADS_DEFAULT[modelType] ?? numHeads);
  if (numHeads % numKvHeads !== 0) r.fail(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  const headDim = resolveHeadDim(r, modelType, hiddenSize, numHeads);
  const vocabSize = r.int('vocab_size');
  const { theta, scaling } = resolveRope(r, modelType);

  const attentionBias = r.bool('attention_bias', false);
  const attention = {
    qkvBias: modelType === 'qwen2_moe' ? r.bool('qkv_bias', true) : modelType === 'mixtral' ? false : attentionBias,
    oBias: modelType === 'qwen2_moe' || modelType === 'mixtral' ? false : attentionBias,
    qkNorm: modelType === 'qwen3' || modelType === 'qwen3_moe' ? ('per_head' as const) : modelType === 'olmoe' ? ('full' as const) : ('none' as const),
    clipQkv: modelType === 'olmoe' && r.has('clip_qkv') ? r.num('clip_qkv', 0) : null,
    scale: modelType === 'granitemoe' ? r.num('attention_multiplier', 1) : 1 / Math.sqrt(headDim),
    slidingWindow: resolveSlidingWindow(r, modelType),
  };
  if (modelType === 'mixtral' && r.has('attention_bias') && attentionBias) r.fail('"attention_bias" is not part of Mixtral and is not supported', 'E_UNSUPPORTED');

  const layers = resolveLayers(r, modelType, numLayers);
  const archs = raw['architectures'];
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : modelType;
  const granite = modelType === 'granitemoe';
  const logitsScaling = granite ? r.num('logits_scaling', 1) : 1;
  if (logitsScaling === 0) r.fail('"logits_scaling" must not be 0');
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
    rmsNormEps: r.num('rms_norm_eps', EPS_DEFAULT[modelType]),
    ropeTheta: theta,
    ropeScaling: scaling,
    tieWordEmbeddings: r.bool('tie_word_embeddings', false),
    attention,
    mlpBias: modelType === 'llama' ? r.bool('mlp_bias', false) : false,
    embeddingMultiplier: granite ? r.num('embedding_multiplier', 1) : 1,
    residualMultiplier: granite ? r.num('residual_multiplier', 1) : 1,
    logitsScaling,
    layers,
    dtype: String(raw['torch_dtype'] ?? raw['dtype'] ?? 'float32'),
  };
}

function resolveHeadDim(r: Reader, modelType: ModelType, hidden: number, heads: number): number {
  const fallback = modelType === 'qwen3' && !('head_dim' in r.raw) ? 128 : Math.floor(hidden / heads);
  if (!r.has('head_dim')) {
    if (modelType !== 'qwen3' && hidden % heads !== 0) r.fail(`hidden_size (${hidden}) is not divisible by num_attention_heads (${heads}) and head_dim is not given`);
    return fallback;
  }
  const hd = r.int('head_dim');
  if (modelType === 'granitemoe' && hd * heads !== hidden) r.fail(`GraniteMoE derives head_dim from hidden_size / num_attention_heads (${hidden / heads}); a different "head_dim" (${hd}) is not supported`, 'E_UNSUPPORTED');
  return hd;
}

function resolveRope(r: Reader, modelType: ModelType): { theta: number; scaling: RopeScaling } {
  // transformers 5 writes rope_parameters {rope_type, rope_theta, ...}; 4.x writes rope_theta + rope_scaling.
  const params = r.raw['rope_parameters'];
  const scalingRaw = isRecord(params) ? params : r.raw['rope_scaling'];
  let theta = r.num('rope_theta', THETA_DEFAULT[modelType]);
  if (isRecord(params) && typeof params['rope_theta'] === 'number') theta = params['rope_theta'];
  if (!(theta > 0)) r.fail(`rope_theta must be positive, got ${theta}`);
  if (scalingRaw === undefined || scalingRaw === null) return { theta, scaling: { type: 'default' } };
  if (!isRecord(scalingRaw)) r.fail('"rope_scaling" must be an object or null');
  const type = scalingRaw['rope_type'] ?? scalingRaw['type'] ?? 'default';
  const num = (k: string, def?: number): number => {
    const v = scalingRaw[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (def !== undefined && (v === undefined || v === null)) return def;
    return r.fail(`rope_scaling.${k} must be a number, got ${JSON.stringify(v)}`);
  };
  switch (type) {
    case 'default':
      return { theta, scaling: { type: 'default' } };
    case 'linear':
      return { theta, scaling: { type: 'linear', factor: num('factor') } };
    case 'llama3':
      return {
        theta,
        scaling: { type: 'llama3', factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'), originalMaxPositions: num('original_max_position_embeddings') },
      };
    default:
      return r.fail(`rope_scaling type "${String(type)}" is not supported (supported: default, linear, llama3); running it without would give wrong numbers`, 'E_UNSUPPORTED');
  }
}

function resolveSlidingWindow(r: Reader, modelType: ModelType): number | null {
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

function resolveLayers(r: Reader, modelType: ModelType, numLayers: number): LayerSpec[] {
  if (modelType === 'llama' || modelType === 'qwen3') {
    const inter = r.int('intermediate_size');
    return Array.from({ length: numLayers }, () => ({ kind: 'dense' as const, intermediateSize: inter }));
  }
  const numExperts = modelType === 'mixtral' || modelType === 'granitemoe' ? r.int('num_local_experts') : r.int('num_experts');
  const topK = r.int('num_experts_per_tok');
  if (topK > numExperts) r.fail(`num_experts_per_tok (${topK}) exceeds the number of experts (${numExperts})`);
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
