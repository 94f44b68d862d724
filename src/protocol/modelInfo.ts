/** What `inspect` reports about a loaded checkpoint. */
export interface ModelInfo {
  readonly name: string;
  readonly path: string;
  /** config.json `model_type`, e.g. "mixtral". */
  readonly modelType: string;
  /** config.json `architectures[0]` when present, e.g. "MixtralForCausalLM". */
  readonly architecture: string;
  readonly numLayers: number;
  /** Decoder layer indices that have a routed MoE block. Empty for dense models. */
  readonly moeLayers: number[];
  readonly numExperts: number;
  readonly topK: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly expertIntermediateSize: number;
  readonly sharedExpertIntermediateSize: number;
  readonly contextLength: number;
  /** Human description of the routing rule, e.g. "softmax -> top-2 -> renormalise". */
  readonly routing: string;
  /** Storage dtypes seen in the safetensors files, e.g. ["BF16"]. */
  readonly dtypes: string[];
  readonly totalParams: number;
  /** Parameters that one token uses (embedding row + attention + top-k experts + shared + lm_head). */
  readonly activeParams: number;
  readonly bytesOnDisk: number;
  readonly files: string[];
  /** Set when config.json says the weights were never trained (the bundled demo model and what is made from it). */
  readonly untrained?: { readonly note: string };
  /** For a checkpoint this tool pruned or merged: the ids its experts had in the source model. */
  readonly expertOrigins?: ExpertOrigins;
  /** The tool's own side files that could not be used (a malformed moe_workbench.json): the model loaded without them. */
  readonly warnings?: readonly string[];
  /** How the engine holds the weights within its memory budget, and why (issue #9); absent from older engines. */
  readonly memory?: ModelMemory;
}

/**
 * resident: every weight held as float32 (fastest). cached: weights held in their stored dtype, some layers
 * also as float32, the others converted when they run. streaming: weights not held, each layer read from
 * disk when it runs (the page cache, which the budget does not count, keeps what it can).
 */
export type MemoryMode = 'resident' | 'cached' | 'streaming';

/** The estimated peak of the engine's own memory (heap and buffers), in bytes, by what holds it. */
export interface MemoryEstimate {
  /** Weights held in their stored dtype (cached mode). */
  readonly storedBytes: number;
  /** Float32 copies kept between runs (every unit in resident mode, the cached layers otherwise). */
  readonly f32CacheBytes: number;
  /** Two float32 buffers the size of the largest converted unit: the one running and the next, prefetched. */
  readonly layerBufferBytes: number;
  /** Hidden states (every layer's input kept), one layer's intermediates, logits, for `tokens` tokens. */
  readonly activationBytes: number;
  /** Attention scores and probabilities, [heads, T, T] floats each, for `tokens` tokens. */
  readonly attentionBytes: number;
  /** ONNX Runtime and Node: a fixed reserve plus arena slack over the intermediates. */
  readonly runtimeBytes: number;
  readonly peakBytes: number;
  /** The sequence length the activation and attention figures are for. */
  readonly tokens: number;
}

export interface ModelMemory {
  readonly mode: MemoryMode;
  readonly budgetBytes: number;
  /** Decoder layers that keep a float32 copy between runs (all of them when resident). */
  readonly f32Layers: number;
  readonly numLayers: number;
  /** The longest sequence one forward pass takes within the budget. */
  readonly maxTokens: number;
  readonly estimate: MemoryEstimate;
  /** A sentence for the user: the mode and why. */
  readonly reason: string;
}

/** Where a pruned or merged checkpoint's experts came from, as its moe_workbench.json records. */
export interface ExpertOrigins {
  readonly operation: 'prune' | 'merge';
  /** The source model's folder. */
  readonly source: string;
  /** Per MoE layer: for each expert (index = its id here), its id in the source, or the ids merged into it (router row's first). */
  readonly layers: readonly { readonly layer: number; readonly experts: readonly (readonly number[])[] }[];
}
