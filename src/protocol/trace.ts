// The routing trace: the one format every part of the product exchanges (CLI --json, webviews, saved
// profiles). Documented in docs/trace-format.md. Fields may be added, never renamed.

export interface TraceToken {
  readonly id: number;
  readonly text: string;
  /** UTF-16 offsets into the input text (as VS Code positions count); equal when the token has no text. */
  readonly start: number;
  readonly end: number;
}

export interface TraceLayer {
  /** Decoder layer index (dense layers of a MoE model are not listed). */
  readonly layer: number;
  /** Per token, the chosen expert ids in rank order (descending router probability). */
  readonly experts: number[][];
  /** Per token, the weight each chosen expert's output is multiplied by, in the same order. */
  readonly weights: number[][];
  /** Per token, the raw router logits over all experts. */
  readonly routerLogits: number[][];
  /** Per token, the entropy (nats) of the softmax over all experts. */
  readonly entropy: number[];
  /** Qwen2-MoE only: per token, sigmoid(shared_expert_gate(x)). */
  readonly sharedExpertGate?: number[];
}

export interface TraceModel {
  readonly name: string;
  readonly path: string;
  readonly architecture: string;
  readonly numLayers: number;
  readonly numExperts: number;
  readonly topK: number;
  readonly moeLayers: number[];
}

export interface RoutingTrace {
  readonly model: TraceModel;
  readonly tokens: TraceToken[];
  readonly layers: TraceLayer[];
  /** Only when asked for (--logits): per token, the logits over the vocabulary. */
  readonly logits?: number[][];
  /** logprobs[i] = log p(tokens[i+1] | tokens[0..i]); length = tokens - 1. */
  readonly logprobs: number[];
  /** Mean next-token cross-entropy (nats); perplexity = exp(loss). Absent for a single token. */
  readonly loss?: number;
}
