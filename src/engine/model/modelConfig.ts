// The engine's normalised view of a Hugging Face config.json: every detail that changes the numbers,
// resolved to explicit values (HF class defaults applied), independent of the family's key names.

export type ModelType = 'mixtral' | 'qwen2_moe' | 'qwen3_moe' | 'olmoe' | 'granitemoe' | 'llama' | 'qwen3';
export const SUPPORTED_MODEL_TYPES: readonly ModelType[] = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'llama', 'qwen3'];

/** How the router's choice turns into expert weights. */
export interface RoutingRule {
  readonly numExperts: number;
  readonly topK: number;
  /** softmax over all experts -> top-k -> divide by the top-k sum (GraniteMoE's top-k-then-softmax is the same). */
  readonly renormalize: boolean;
}

export interface SharedExpertSpec {
  readonly intermediateSize: number;
  /** Qwen2-MoE: output scaled by sigmoid(shared_expert_gate(x)). */
  readonly sigmoidGate: boolean;
}

export type LayerSpec =
  | { readonly kind: 'dense'; readonly intermediateSize: number }
  | { readonly kind: 'moe'; readonly intermediateSize: number; readonly routing: RoutingRule; readonly shared?: SharedExpertSpec };

export type QkNorm = 'none' | 'per_head' | 'full';

export type RopeScaling =
  | { readonly type: 'default' }
  | { readonly type: 'linear'; readonly factor: number }
  | { readonly type: 'llama3'; readonly factor: number; readonly lowFreqFactor: number; readonly highFreqFactor: number; readonly originalMaxPositions: number };

export interface ModelConfig {
  readonly modelType: ModelType;
  /** `architectures[0]`, e.g. MixtralForCausalLM. */
  readonly architecture: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  readonly tieWordEmbeddings: boolean;
  readonly attention: {
    readonly qkvBias: boolean;
    readonly oBias: boolean;
    readonly qkNorm: QkNorm;
    /** OLMoE: clamp q, k, v to [-clip, clip]; null = off. */
    readonly clipQkv: number | null;
    /** Multiplies q·k (1/sqrt(head_dim), or GraniteMoE's attention_multiplier). */
    readonly scale: number;
    /** Mixtral: tokens attend to at most this many previous positions (including themselves); null = all. */
    readonly slidingWindow: number | null;
  };
  readonly mlpBias: boolean;
  /** GraniteMoE multipliers; 1 elsewhere. */
  readonly embeddingMultiplier: number;
  readonly residualMultiplier: number;
  readonly logitsScaling: number;
  readonly layers: readonly LayerSpec[];
  /** Stored dtype from config (`torch_dtype` / `dtype`), informational. */
  readonly dtype: string;
}

/** Indices of the layers with a routed MoE block. */
export function moeLayerIndices(c: ModelConfig): number[] {
  const out: number[] = [];
  c.layers.forEach((l, i) => {
    if (l.kind === 'moe') out.push(i);
  });
  return out;
}

/** The routing rule of the model's MoE layers (they all share one), or undefined for a dense model. */
export function routingOf(c: ModelConfig): RoutingRule | undefined {
  for (const l of c.layers) if (l.kind === 'moe') return l.routing;
  return undefined;
}
