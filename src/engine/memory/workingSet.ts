// What a forward pass over T tokens holds besides weights. Every figure is float32 and deliberately
// generous where ONNX Runtime's memory planner could reuse a buffer or not: the plan must not be beaten by
// the out-of-memory killer, and a few hundred MiB too many only moves a model to the next mode earlier.
import type { ModelConfig } from '../model/modelConfig';

/** Node, the V8 heap, ONNX Runtime's sessions and code, before any weight or activation. */
export const RUNTIME_RESERVE_BYTES = 256 * 2 ** 20;
/** ONNX Runtime's CPU arena grows in chunks and keeps them: slack over the per-run intermediates. */
const ARENA_SLACK = 0.25;
/**
 * Each ONNX Runtime session keeps its own arena at the peak of its runs, and the engine keeps one session
 * per capture variant: annotation's and profiling's (expert norms) both stay. The expert-norms variant holds
 * no copy of expert weights: each expert's fc1/fc2 is its own input, fed as a view of the store's buffer
 * (it used to Gather them out of fc1/fc2, about two float32 copies of a layer's experts, 3.4 GiB on OLMoE).
 */
const RETAINED_VARIANTS = 2;
/** The engine refuses prompts whose [heads, T, T] float scores would exceed this (MoeEngine.maxAttentionTokens). */
const MAX_ATTENTION_SCORE_BYTES = 2 ** 31;

export interface WorkingSet {
  readonly tokens: number;
  readonly activationBytes: number;
  readonly attentionBytes: number;
  readonly runtimeBytes: number;
}

/** The engine's own cap on a sequence's length: its attention scores materialised whole must fit 2 GiB. */
export function attentionTokenCap(c: ModelConfig): number {
  return Math.min(c.contextLength, Math.floor(Math.sqrt(MAX_ATTENTION_SCORE_BYTES / 4 / c.numHeads)));
}

/** Float32 elements per token of the hidden states kept across layers (every layer's input, and the output). */
export function keptHiddenPerToken(c: ModelConfig): number {
  return (c.numLayers + 1) * c.hiddenSize;
}

export function estimateWorkingSet(c: ModelConfig, tokens: number): WorkingSet {
  const T = tokens;
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // Kept: the input of every layer (layer-major batches and backward read them again) and the final output.
  const kept = T * keptHiddenPerToken(c);
  // One layer's intermediates at a time. Attention: q, k, v; k and v expanded to every query head; the
  // context; o_proj's output; the normed input and the residual sum.
  const attention = T * (q + 2 * kv + 2 * q + q + H + 2 * H);
  let mlp = 0;
  for (const l of c.layers) {
    const I = l.intermediateSize;
    let m: number;
    if (l.kind === 'dense') {
      m = T * (2 * I + I + H);
    } else {
      const { numExperts: E, topK: K } = l.routing;
      // Router logits and probabilities; per routed (token, expert) pair fc1's [2I], the activation [I],
      // fc2's [H] and, on the explicit path, the gathered input [H].
      m = T * 2 * E + T * K * (2 * I + I + 2 * H);
      if (l.shared) m += T * (3 * l.shared.intermediateSize + H + 1);
    }
    mlp = Math.max(mlp, m);
  }
  const layerTemps = Math.max(attention, mlp) + 2 * T * H;
  // Logits [T, V] and their log-softmax.
  const logits = 2 * T * c.vocabSize;
  const activationBytes = 4 * (kept + layerTemps + logits);
  // Scores and probabilities (softmax's input and output live together), whatever the sliding window.
  const attentionBytes = 4 * 2 * c.numHeads * T * T;
  // Per-run intermediates: what one session's arena keeps; the other variant's arena keeps as much again.
  const transient = 4 * (layerTemps + logits) + attentionBytes;
  const runtimeBytes = RUNTIME_RESERVE_BYTES + Math.ceil(ARENA_SLACK * RETAINED_VARIANTS * transient) + (RETAINED_VARIANTS - 1) * transient;
  return { tokens, activationBytes, attentionBytes, runtimeBytes };
}

export function workingBytes(w: WorkingSet): number {
  return w.activationBytes + w.attentionBytes + w.runtimeBytes;
}
