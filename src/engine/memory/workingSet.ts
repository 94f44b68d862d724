// What a forward pass over T tokens holds besides weights, fitted to peaks measured on real runs
// (scripts/bench/measurePeaks.ts: random-weight BF16 checkpoints at the widths of OLMoE-1B-7B, Qwen1.5-MoE
// and Qwen3-30B-A3B, annotation and profiling at T = 128..4096, RssAnon sampled every 20 ms) and then
// padded by WORKING_MARGIN: the plan must not be beaten by the out-of-memory killer.
//
// Most of it is ONNX Runtime's CPU arenas, not tensors the engine holds. Each session keeps an arena at the
// peak of its runs, grown in chunks and never given back, and the engine keeps one layer session per capture
// variant (annotation's and profiling's, RETAINED_VARIANTS) and one head session shared by both. A layer
// run's peak is its attention scores ([heads, T, T] floats: the Add's input and output, then the Softmax's
// input and output, live in pairs) plus its other intermediates; the head's is the logits [T, V], their
// slice and their log-softmax. The arenas measured hold ARENA_FACTOR times those demands (chunks sized for
// shorter sequences stay when a longer one needs larger ones): the runs measured went from short to long
// sequences in one process, the worst case, as an editor session that annotates ever longer files.
import type { ModelConfig } from '../model/modelConfig';

/** Node, the V8 heap, ONNX Runtime's sessions and code, before any weight or activation. */
export const RUNTIME_RESERVE_BYTES = 256 * 2 ** 20;
/** Layer sessions kept per layer shape: annotation's and profiling's (expert norms) variants. */
const RETAINED_VARIANTS = 2;
/** [heads, T, T] score tensors live at once in a layer run (the input and output of Add, then of Softmax). */
const LIVE_SCORES = 2;
/** [T, V] tensors live at once in the head: logits, the slice of all but the last row, its log-softmax. */
const LIVE_LOGITS = 3;
/** Arena bytes kept per byte of a run's peak demand: the attention scores, the rest (fitted, see above). */
const ARENA_FACTOR_SCORES = 2.2;
const ARENA_FACTOR_LINEAR = 1.1;
/** Safety margin over the fitted working set (the weights and buffers are counted exactly). */
export const WORKING_MARGIN = 0.2;
/** The engine refuses prompts whose [heads, T, T] float scores would exceed this (MoeEngine.maxAttentionTokens). */
const MAX_ATTENTION_SCORE_BYTES = 2 ** 31;

export interface WorkingSet {
  readonly tokens: number;
  /** Held by the engine itself: hidden states kept across layers, one layer's input and output, outputs. */
  readonly activationBytes: number;
  /** ONNX Runtime's arenas for the attention scores of the retained layer sessions. */
  readonly attentionBytes: number;
  /** The reserve, the arenas for every other intermediate (layer temporaries, logits), and the margin. */
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

/** Float32 elements of one decoder layer run's intermediates besides the scores, the largest layer's. */
function layerTemporaries(c: ModelConfig, T: number): number {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // Attention: q, k, v; k and v expanded to every query head; the context; o_proj's output; the normed
  // input and the residual sum.
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
  return Math.max(attention, mlp) + 2 * T * H;
}

export function estimateWorkingSet(c: ModelConfig, tokens: number): WorkingSet {
  const T = tokens;
  const margin = 1 + WORKING_MARGIN;
  // Held in JS: the input of every layer (layer-major batches and backward read them again) and the output.
  const activationBytes = Math.ceil(margin * 4 * T * keptHiddenPerToken(c));
  const scores = 4 * c.numHeads * T * T;
  const attentionBytes = Math.ceil(margin * ARENA_FACTOR_SCORES * RETAINED_VARIANTS * LIVE_SCORES * scores);
  const linear = 4 * (RETAINED_VARIANTS * layerTemporaries(c, T) + LIVE_LOGITS * T * c.vocabSize);
  const runtimeBytes = RUNTIME_RESERVE_BYTES + Math.ceil(margin * ARENA_FACTOR_LINEAR * linear);
  return { tokens, activationBytes, attentionBytes, runtimeBytes };
}

export function workingBytes(w: WorkingSet): number {
  return w.activationBytes + w.attentionBytes + w.runtimeBytes;
}
