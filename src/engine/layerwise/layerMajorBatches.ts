// Groups sequences into layer-major batches (MoeEngine.forwardEach / forwardBatch). A batch's activations
// are held in memory up to the engine's allowance and spilled to disk beyond it (activationSpill.ts), so
// its size is bounded by the allowance plus the spill cap, and by MAX_SEQUENCES; one sequence larger than
// the bound still forms a batch of its own.
import type { GraphOutputs } from '../graph/decoderGraph';
import type { ModelConfig } from '../model/modelConfig';

/** At most this much held activations and outputs in memory per batch (less when the memory budget leaves less). */
export const LAYER_MAJOR_BATCH_BYTES = 256 * 2 ** 20;
/**
 * Sequences per batch. A batch's fixed cost is one pass over the weights (~13 s for a full-size OLMoE
 * streaming); at the default 512-token chunks a batch of 64 is 32,768 tokens, ~15 min of compute there
 * (0.93 s per layer per 512 tokens, 16 layers), so the weights are ≤ 1.5% of it and doubling the batch
 * would save < 0.7%, while progress and queued annotations (run between batches) would wait twice as long.
 */
export const MAX_SEQUENCES = 64;

export function layerMajorBatches<T>(items: readonly T[], bytesOf: (item: T) => number, maxBytes = LAYER_MAJOR_BATCH_BYTES): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    const b = bytesOf(it);
    if (cur.length > 0 && (bytes + b > maxBytes || cur.length >= MAX_SEQUENCES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Bytes one sequence of `tokens` holds through a layer-major batch: its hidden state, and per MoE layer
 * its router logits, expert norms, chosen experts and gate weights; plus `extraPerToken` (e.g. logits).
 */
export function sequenceBytes(c: ModelConfig, tokens: number, extraPerToken = 0): number {
  let perToken = c.hiddenSize * 4 * 2 + extraPerToken;
  for (const l of c.layers) if (l.kind === 'moe') perToken += (2 * l.routing.numExperts + 3 * l.routing.topK) * 4;
  return tokens * perToken;
}

/**
 * What forwardMany holds for one sequence between layers, once every layer has run (an upper bound
 * before): the hidden state, every hidden state when captured, and the routing outputs asked for.
 */
export function heldBytes(c: ModelConfig, tokens: number, outputs: GraphOutputs): number {
  const H = c.hiddenSize;
  let perToken = H * 4 * (outputs.hidden ? c.layers.length + 2 : 1);
  if (outputs.routing) {
    for (const l of c.layers) {
      if (l.kind !== 'moe') continue;
      const { numExperts: E, topK: K } = l.routing;
      // router logits, chosen experts (int64), gate weights, shared expert gate, expert norms.
      perToken += E * 4 + K * 8 + K * 4 + 4 + (outputs.expertNorms ? E * 4 : 0);
    }
  }
  return tokens * perToken;
}
