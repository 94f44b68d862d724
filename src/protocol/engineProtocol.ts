// The contract between the host (extension or CLI) and the engine worker. Every request has an id and
// settles exactly once with a result or an error (as data); progress may arrive before that.
import type { EvalReport, ExpertPlan, ExpertProfile, OperationRecord, WrittenCheckpoint } from './expertOps';
import type { GrowMethods } from './growProtocol';
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
  /** Per MoE layer, ‖f_e(x)‖₂ of every routed expert output (profiling; runs the experts explicitly). */
  readonly expertNorms?: boolean;
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
  /** [T, E] ‖f_e(x_t)‖₂ for e in the token's top-k, 0 elsewhere (capture.expertNorms). */
  readonly expertNorms?: F32Matrix;
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
  /** A training step's figures (finetune: step, loss, evalLoss, tokensPerSecond, lr, gradNorm). */
  readonly metrics?: Readonly<Record<string, number>>;
}

/** Requests, keyed by method, with their parameters and results (the grow methods in growProtocol.ts). */
export interface EngineMethods extends GrowMethods {
  /** memoryBudget: bytes the engine may hold (weights, layer copies, activations); default: derived from free memory. */
  load: { params: { readonly modelDir: string; readonly memoryBudget?: number }; result: ModelInfo };
  inspect: { params: Record<string, never>; result: ModelInfo };
  tokenize: { params: { readonly text: string }; result: TokenSpan[] };
  forward: { params: { readonly input: PromptInput; readonly capture: Capture }; result: { tokens: TokenSpan[]; result: ForwardResult } };
  exportOnnx: { params: { readonly outDir: string }; result: { files: string[] } };
  unload: { params: Record<string, never>; result: null };
  /** Profiles the loaded model on calibration files/folders and writes the profile (default: next to the model). */
  profile: { params: ProfileParams; result: { file: string; profile: ExpertProfile } };
  /** Reads a profile file and checks that it was computed on the loaded model. */
  readProfile: { params: { readonly file: string }; result: ExpertProfile };
  /** Writes the loaded model with the plan applied as a new checkpoint folder. */
  applyPlan: { params: ApplyPlanParams; result: { written: WrittenCheckpoint; record: OperationRecord } };
  /** Compares a candidate checkpoint with the loaded model (the baseline). */
  evaluate: { params: EvaluateParams; result: EvalReport };
  /** Loss and gradients of the trainable parameters on one sequence, written as a safetensors file. */
  gradients: { params: GradientsParams; result: GradientsResult };
  /** Trains the chosen parameters of the loaded model on data and writes the checkpoint and its adapter. */
  finetune: { params: FinetuneParams; result: FinetuneResult };
  /** What a finetune with these parameters would train, on what data: the preview before training (ESFT scores per layer). */
  finetunePlan: { params: FinetunePlanParams; result: FinetunePlan };
  /** What upcycling the loaded dense model with these settings makes (checked as the write checks them; headers only). */
  upcyclePreview: { params: UpcycleSettings; result: UpcyclePreview };
  /** Upcycles the loaded dense model (llama → mixtral, qwen3 → qwen3_moe) into a new folder, with report.json/html. */
  upcycle: { params: UpcycleParams; result: UpcycleResult };
}

/** Dense → MoE settings (src/engine/upcycle/upcyclePlan.ts UpcycleOptions; omitted ones take UPCYCLE_DEFAULTS). */
export interface UpcycleSettings {
  readonly experts: number;
  readonly topK: number;
  readonly method?: 'copy' | 'noise' | 'drop' | 'split';
  readonly ratio?: number;
  readonly noiseStd?: number;
  readonly dropMode?: 'paper' | 'reference-code';
  readonly router?: 'random' | 'kmeans';
  readonly layers?: 'all' | readonly number[];
  readonly seed?: number;
  readonly data?: readonly string[];
}

export interface UpcycleParams extends UpcycleSettings {
  readonly out: string;
  /** The dense model folder the preview was of: refused when another model is loaded now. */
  readonly model?: string;
  /** Measure the logit difference to the dense model before committing (default true). */
  readonly evaluate?: boolean;
}

/** Parameter counts and bytes of a dense model and its upcycled MoE (bytes: tensor data plus the safetensors headers). */
export interface UpcycleFigures {
  readonly parameters: { readonly before: number; readonly after: number; readonly activeBefore: number; readonly activeAfter: number };
  readonly bytes: { readonly before: number; readonly after: number };
}

export interface UpcyclePreview extends UpcycleFigures {
  readonly source: { readonly dir: string; readonly name: string; readonly modelType: string };
  readonly target: string;
  readonly settings: Required<Omit<UpcycleSettings, 'data' | 'layers'>> & { readonly data: readonly string[] };
  readonly numLayers: number;
  readonly moeLayers: readonly number[];
  readonly hiddenSize: number;
  readonly denseIntermediate: number;
  readonly expertIntermediate: number;
  /** noise / drop: neurons changed per expert and matrix. */
  readonly changedNeurons: number;
  readonly partition?: 'random' | 'balanced-kmeans';
  readonly routerStd: number;
  /** copy: identical experts with renormalised top-k compute the dense MLP. */
  readonly functionPreserving: boolean;
}

export interface UpcycleResult extends UpcycleFigures {
  readonly written: WrittenCheckpoint;
  /** report.html in the written folder, absolute (report.json, which MoE: Open Report… draws, beside it) — as add-experts' and fine-tuning's. */
  readonly reportFile: string;
  readonly maxAbsLogitDiff?: number;
  readonly top1Agreement?: number;
}

export interface ProfileParams {
  readonly data: readonly string[];
  readonly chunkTokens: number;
  readonly maxTokens?: number;
  /** Profile file to write; default `<model>/moe-workbench-profiles/profile-<data hash>-c<chunk>[-max<N>].json`, or the user cache when the model folder is read-only. */
  readonly out?: string;
  /** Instead of `out`: a folder shared by models, where the file is named by the model's and the data's identity (experts/profilePaths.ts). */
  readonly outDir?: string;
  /** Return the profile already at the output path when it matches this model, data and chunk length. */
  readonly reuse?: boolean;
}

export interface ApplyPlanParams {
  readonly plan: ExpertPlan;
  readonly out: string;
  /** The profile the plan came from, recorded in moe_workbench.json. */
  readonly profileFile?: string;
}

export interface EvaluateParams {
  readonly candidateDir: string;
  readonly data: readonly string[];
  readonly chunkTokens: number;
  readonly maxTokens?: number;
  /** Text of the open document: routing change and per-token prediction changes. */
  readonly document?: string;
  /** Per MoE layer of the candidate: new expert id -> old id (the router row it came from). */
  readonly expertMap?: readonly (readonly [number, readonly number[]])[];
}

export interface GradientsParams {
  readonly input: PromptInput;
  /**
   * What is trainable: `--train` specs (src/engine/training/trainSpec.ts: all, experts, experts=L:E,...,
   * routers, shared-experts), their union; empty = experts. Strings, so the engine checks them against the
   * model it has loaded.
   */
  readonly train: readonly string[];
  /** Weight of the load-balancing loss in the total (default 0: the loss is the LM loss). */
  readonly auxLossCoef?: number;
  /** The .safetensors file to write (replaced atomically when it exists). */
  readonly outFile: string;
}

export interface GradientsResult {
  /** The file written (absolute). */
  readonly file: string;
  /** lmLoss + auxLossCoef × auxLoss: what the gradients are of. */
  readonly loss: number;
  /** Unscaled load-balancing loss (Hugging Face load_balancing_loss_func); 0 for a dense model. */
  readonly auxLoss: number;
  /** Mean next-token cross-entropy. */
  readonly lmLoss: number;
  /** The gradient tensors written, by Hub name, in the model's order (the scalars loss and aux_loss besides). */
  readonly tensors: readonly string[];
  readonly tokens: TokenSpan[];
}
export interface FinetuneParams {
  /** Training data (calibration files/folders), or exactly one sequence of token ids. */
  readonly data?: readonly string[];
  readonly ids?: readonly number[];
  readonly outDir: string;
  /** `--train` specs (as gradients); with `select`, the union. Neither: ESFT-Token at p = 0.2. */
  readonly train?: readonly string[];
  readonly select?: 'esft-token' | 'esft-gate';
  readonly threshold?: number;
  readonly steps: number;
  readonly lr: number;
  readonly optimizer: 'adamw' | 'sgd';
  readonly schedule: 'constant' | 'cosine';
  readonly warmup: number;
  readonly weightDecay: number;
  readonly gradClip: number;
  /** Default: 512, or the model's longest sequence when shorter. */
  readonly seqLen?: number;
  /** Default: 4 × seqLen. */
  readonly batchTokens?: number;
  /** Load-balancing loss weight when routers train; default: config.json's router_aux_loss_coef, else 0.001. */
  readonly auxLossCoef?: number;
  readonly seed: number;
  /** Held-out data; default: a deterministic split of the training sequences (every 10th). */
  readonly evalData?: readonly string[];
  readonly noEval?: boolean;
  /** General data: its loss before and after measures forgetting. */
  readonly generalData?: readonly string[];
  /** Held-out loss every this many steps (default: about 10 times per run). */
  readonly evalEvery?: number;
  /** Write only the adapter (at outDir), not the full checkpoint. */
  readonly adapterOnly?: boolean;
  /**
   * The run's state file (weights, optimizer moments, step, data cursor, history): saved after every held-out
   * evaluation and when the run ends; when it exists at the start, the run resumes from it (refused when
   * its data or settings differ), reporting progress stage 'resume' with `done` = the step it resumes at.
   */
  readonly stateFile?: string;
  /** Text of the open editor: after training, its routing and predictions base vs trained (FinetuneResult.document). */
  readonly document?: string;
}

/** Base vs trained on the open document, from the same engine (the trainer's weights as overrides). */
export interface FinetuneDocumentDiff {
  /** Tokens compared (after truncation). */
  readonly tokens: number;
  /** The document was longer than one pass of the model: only its first `tokens` tokens were compared. */
  readonly truncated: boolean;
  /** Positions whose top-1 next-token prediction differs between base and trained. */
  readonly changedPredictions: number;
  /** Per MoE layer, the share of tokens whose top-k expert set changed. */
  readonly routingChanged: readonly { readonly layer: number; readonly share: number }[];
  /** Tokens whose top-k set changed in some layer or whose top-1 prediction changed, in order, at most 200. */
  readonly perToken: readonly {
    readonly index: number;
    readonly text: string;
    /** UTF-16 offsets into the document text. */
    readonly start: number;
    readonly end: number;
    /** MoE layers where this token's top-k set changed. */
    readonly layers: readonly number[];
    /** The top-1 prediction of the next token after this one changed. */
    readonly predictionChanged: boolean;
  }[];
}

export interface FinetunePlanParams {
  readonly data?: readonly string[];
  readonly ids?: readonly number[];
  readonly train?: readonly string[];
  readonly select?: 'esft-token' | 'esft-gate';
  readonly threshold?: number;
  readonly seqLen?: number;
  readonly evalData?: readonly string[];
  readonly noEval?: boolean;
  /** Tokens of the first sequence to return with their chat mask (default 200). */
  readonly previewTokens?: number;
}

export interface FinetunePlan {
  readonly seqLen: number;
  readonly files: readonly string[];
  /** Training sequences (after the held-out split). */
  readonly sequences: number;
  readonly tokens: number;
  /** Next-token targets with loss (chat prompts masked out). */
  readonly trainedTargets: number;
  readonly chatRecords: number;
  /** Same wording as FinetuneResult.heldOut. */
  readonly heldOut: string;
  readonly selection?: { readonly method: 'esft-token' | 'esft-gate'; readonly threshold: number; readonly layers: readonly { readonly layer: number; readonly scores: readonly number[]; readonly selected: readonly number[] }[] };
  /** MoE layer -> routed experts that would train (selection ∪ --train experts), ascending; every MoE layer listed, maybe with []. */
  readonly experts: readonly (readonly [number, readonly number[]])[];
  /** Non-expert tensors that would train (routers, shared experts, ...), HF names. */
  readonly tensors: readonly string[];
  readonly trainableParameters: number;
  readonly totalParameters: number;
  /** Parameters that are not routed experts among the trainable ones. */
  readonly otherParameters: number;
  /** MoE layer -> parameters of one routed expert. */
  readonly expertParameters: readonly (readonly [number, number])[];
  readonly numExperts: number;
  /** The first tokens of the first training sequence; masked = no loss on predicting it (chat prompt). */
  readonly preview: readonly { readonly text: string; readonly masked: boolean }[];
}

export interface FinetuneResult {
  /** The checkpoint folder (absent with adapterOnly). */
  readonly checkpointDir?: string;
  readonly adapterDir: string;
  readonly steps: number;
  readonly trainedTensors: readonly string[];
  readonly trainableParameters: number;
  readonly totalParameters: number;
  /** MoE layer -> trained routed experts. */
  readonly experts: readonly (readonly [number, readonly number[]])[];
  readonly history: readonly { readonly step: number; readonly loss: number; readonly lmLoss: number; readonly evalLoss?: number; readonly lr: number; readonly tokens: number }[];
  readonly evalBefore?: number;
  readonly evalAfter?: number;
  readonly generalBefore?: number;
  readonly generalAfter?: number;
  /** Where the held-out data came from. */
  readonly heldOut: string;
  /** Per MoE layer, the mean Jaccard index of held-out tokens' top-k sets before and after (1 = unchanged). */
  readonly routingDrift: readonly { readonly layer: number; readonly jaccard: number }[];
  readonly tokensPerSecond: number;
  readonly seconds: number;
  /** Set only when the run was stopped (RequestContext.finish) before `steps`: the steps it took. */
  readonly stoppedAt?: number;
  /** Share of held-out positions (trained targets) where base and trained agree on the top-1 next token. */
  readonly top1Agreement?: number;
  /** Mean KL(base ‖ trained) of the next-token distributions over the same positions, in nats. */
  readonly meanKl?: number;
  /** Routing and predictions base vs trained on FinetuneParams.document. */
  readonly document?: FinetuneDocumentDiff;
}
export type EngineMethod = keyof EngineMethods;

/**
 * How the engine schedules a method. `query`: short, answers a person who is waiting (annotation,
 * hover); may run while a job pauses between its steps. `job`: long work over many chunks or tensors
 * that pauses between steps so queries never wait for the whole job. `model`: replaces the loaded model,
 * so it runs alone and everything queued after it waits for it.
 */
export type MethodClass = 'query' | 'job' | 'model';

export const METHOD_CLASS: { readonly [M in EngineMethod]: MethodClass } = {
  load: 'model',
  unload: 'model',
  inspect: 'query',
  tokenize: 'query',
  forward: 'query',
  readProfile: 'query',
  exportOnnx: 'job',
  profile: 'job',
  applyPlan: 'job',
  evaluate: 'job',
  gradients: 'job',
  finetune: 'job',
  finetunePlan: 'job',
  upcyclePreview: 'query',
  upcycle: 'job',
  addExpertsPreview: 'query',
  addExperts: 'job',
};

/** Among waiting queries, `interactive` ones (the visible text) go before `background` ones (the rest of a long document). */
export type RequestPriority = 'interactive' | 'background';

/** Progress stage of a request that is waiting for the engine; `message` says for what. */
export const QUEUED_STAGE = 'queued';

export type HostToWorker =
  /** `stopped`: the host stopped it before sending it; it starts with RequestContext.finish already aborted. */
  | { readonly kind: 'request'; readonly id: number; readonly method: EngineMethod; readonly params: unknown; readonly priority?: RequestPriority; readonly stopped?: boolean }
  | { readonly kind: 'cancel'; readonly id: number }
  /** End the job early but finish it properly (RequestContext.finish): a finetune writes what it trained so far. */
  | { readonly kind: 'stop'; readonly id: number };

export type WorkerToHost =
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly error: MoeErrorData }
  | { readonly kind: 'progress'; readonly id: number; readonly progress: Progress }
  | { readonly kind: 'ready' };
