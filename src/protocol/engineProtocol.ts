// The contract between the host (extension or CLI) and the engine worker. Every request has an id and
// settles exactly once with a result or an error (as data); progress may arrive before that.
import type { MoeErrorData } from './moeError';
import type { ModelInfo } from './modelInfo';
import type { F32Matrix, I32Matrix } from './tensors';

export interface TokenSpan {
  readonly id: number;
  /** The token's text as it appears in the input ('' for a token with no source text). */
  readonly text: string;
  /** UTF-16 offsets into the input text. */
  readonly start: number;
  readonly end: number;
}

/** What a forward pass captures beyond log-probabilities. Routing off is the fast path. */
export interface Capture {
  readonly routing: boolean;
  readonly hidden: boolean;
  readonly logits: boolean;
}

export interface LayerRouting {
  readonly layer: number;
  /** [T, E] raw router logits. */
  readonly routerLogits: F32Matrix;
  /** [T, k] chosen experts in rank order. */
  readonly experts: I32Matrix;
  /** [T, k] the weights as applied to the experts' outputs. */
  readonly weights: F32Matrix;
  /** [T] entropy (nats) of softmax(router logits). */
  readonly entropy: Float32Array;
  /** [T] Qwen2-MoE: sigmoid(shared_expert_gate(x)). */
  readonly sharedExpertGate?: Float32Array;
}

export interface HiddenStates {
  /** [T, H] input of layer 0. */
  readonly embeddings: F32Matrix;
  /** Output of each decoder layer (residual stream), [T, H] each. */
  readonly layers: F32Matrix[];
  /** [T, H] after the final norm. */
  readonly finalNorm: F32Matrix;
}

export interface ForwardResult {
  readonly ids: Int32Array;
  /** [T-1] log p(ids[i+1] | ids[..i]). */
  readonly logprobs: Float32Array;
  /** Mean of -logprobs; NaN for a single token. */
  readonly loss: number;
  readonly routing: LayerRouting[];
  readonly hidden?: HiddenStates;
  readonly logits?: F32Matrix;
  /** Milliseconds spent in session.run. */
  readonly runMs: number;
}

export type PromptInput = { readonly text: string } | { readonly ids: readonly number[] };

export interface Progress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly message?: string;
}

/** Requests, keyed by method, with their parameters and results. */
export interface EngineMethods {
  load: { params: { readonly modelDir: string }; result: ModelInfo };
  inspect: { params: Record<string, never>; result: ModelInfo };
  tokenize: { params: { readonly text: string }; result: TokenSpan[] };
  forward: { params: { readonly input: PromptInput; readonly capture: Capture }; result: { tokens: TokenSpan[]; result: ForwardResult } };
  exportOnnx: { params: { readonly outDir: string }; result: { files: string[] } };
  unload: { params: Record<string, never>; result: null };
}
export type EngineMethod = keyof EngineMethods;

export type HostToWorker =
  | { readonly kind: 'request'; readonly id: number; readonly method: EngineMethod; readonly params: unknown }
  | { readonly kind: 'cancel'; readonly id: number };

export type WorkerToHost =
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly error: MoeErrorData }
  | { readonly kind: 'progress'; readonly id: number; readonly progress: Progress }
  | { readonly kind: 'ready' };
