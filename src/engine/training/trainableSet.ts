// Which parameters a gradient computation or a training step updates, resolved against one model. The CLI's
// `--train` specs (trainSpec.ts) and the extension's fine-tuning UI both produce one; the training graph
// builder and the gradient runner consume it. Frozen parameters get no weight-gradient computation.

/** One routed expert of one MoE decoder layer. */
export interface ExpertRef {
  readonly layer: number;
  readonly expert: number;
}

export interface TrainableSet {
  /**
   * Whole Hugging Face tensors that are trainable, by their Hub names (embeddings, norms, attention
   * projections, routers, shared experts, biases). Never the routed experts' tensors: those are in `experts`.
   */
  readonly tensors: ReadonlySet<string>;
  /** Routed experts that are trainable: decoder layer → expert ids. Layers absent here train no routed expert. */
  readonly experts: ReadonlyMap<number, ReadonlySet<number>>;
}

/** True when nothing is trainable. */
export function isEmptyTrainableSet(s: TrainableSet): boolean {
  if (s.tensors.size > 0) return false;
  for (const es of s.experts.values()) if (es.size > 0) return false;
  return true;
}

/**
 * The lowest decoder layer holding a trainable parameter: layers below it run forward only. -1 when the
 * token embedding is trainable; `numLayers` when only the final norm or the LM head are.
 */
export function lowestTrainableLayer(s: TrainableSet, numLayers: number): number {
  let low = numLayers;
  for (const name of s.tensors) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) low = Math.min(low, Number(m[1]));
    else if (name === 'model.embed_tokens.weight') return -1;
  }
  for (const [L, es] of s.experts) if (es.size > 0) low = Math.min(low, L);
  return low;
}
