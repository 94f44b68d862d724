// Groups sequences into layer-major batches (MoeEngine.forwardBatch): a batch holds every sequence's
// activations and outputs until its last layer has run, so its size is bounded in bytes; one sequence
// larger than the bound still forms a batch of its own.
import type { ModelConfig } from '../model/modelConfig';

/** At most this much held activations and outputs per batch (less when the memory budget leaves less). */
export const LAYER_MAJOR_BATCH_BYTES = 256 * 2 ** 20;
/** Beyond this many sequences a batch saves nothing measurable (each unit is prepared once already). */
const MAX_SEQUENCES = 64;

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
