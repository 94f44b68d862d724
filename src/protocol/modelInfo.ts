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
}

/** Where a pruned or merged checkpoint's experts came from, as its moe_workbench.json records. */
export interface ExpertOrigins {
  readonly operation: 'prune' | 'merge';
  /** The source model's folder. */
  readonly source: string;
  /** Per MoE layer: for each expert (index = its id here), its id in the source, or the ids merged into it (router row's first). */
  readonly layers: readonly { readonly layer: number; readonly experts: readonly (readonly number[])[] }[];
}
