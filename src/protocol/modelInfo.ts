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
}
