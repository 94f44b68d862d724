// Operations on experts (issue #4): the profile of a model on a calibration set, plans that say what each
// new expert is made of (pruning keeps some, merging averages groups), the record a written checkpoint
// carries, and the before/after evaluation. Shared by the engine worker, the CLI and the extension.

/** Per MoE layer sums over the calibration tokens (§3.0 of docs/moe-methods.md). Means are derived. */
export interface LayerProfile {
  readonly layer: number;
  readonly numExperts: number;
  readonly topK: number;
  /** Tokens seen by this layer. */
  readonly tokens: number;
  /** n_e = |X_e|: tokens with e among their applied top-k. */
  readonly count: number[];
  /** Σ_{x∈X_e} g_e(x): applied (renormalised where the model renormalises) top-k gate weights. */
  readonly gateSum: number[];
  /** Σ_t softmax(z_t)[e] over all tokens: full-softmax importance. */
  readonly probSum: number[];
  /** Σ_{x∈X_e} ‖f_e(x)‖₂: EAN. */
  readonly eanSum: number[];
  /** Σ_{x∈X_e} g_e(x)·‖f_e(x)‖₂: REAP numerator. */
  readonly reapSum: number[];
  /** max over X_e of ‖f_e(x)‖₂. */
  readonly maxNorm: number[];
  /** Σ_t z_t[e]: router-logit column sums. */
  readonly logitSum: number[];
  /** Σ_t z_t[i]·z_t[j], row-major [E, E]: cosine similarity of router-logit columns (MC-SMoE grouping). */
  readonly logitGram: number[];
}

/** Up to a cap of calibration tokens with their routing, so previews can count affected tokens exactly. */
export interface ProfileSample {
  /** Token texts (decoded), one per sampled token. */
  readonly tokens: string[];
  /** Index into `data.files`-ordered documents, and the UTF-16 start offset in that document's text. */
  readonly doc: number[];
  readonly offset: number[];
  /** Per MoE layer (same order as `layers`): base64 of Uint16 expert ids [n, k] and Float32 weights [n, k]. */
  readonly experts: string[];
  readonly weights: string[];
}

export interface ModelIdentity {
  /** sha256 over config.json, every safetensors header and the router weights. */
  readonly sha256: string;
  readonly name: string;
  readonly dir: string;
  readonly modelType: string;
}

export interface ExpertProfile {
  readonly format: 'moe-workbench.profile';
  readonly version: 1;
  readonly createdAt: string;
  readonly model: ModelIdentity;
  readonly data: {
    readonly files: string[];
    /** The documents: source file and 1-based line for .jsonl records. */
    readonly documents: { readonly source: string; readonly line?: number }[];
    readonly sha256: string;
    readonly chunkTokens: number;
    readonly chunks: number;
    readonly tokens: number;
    /** True when maxTokens stopped the pass before the end of the data. */
    readonly truncated: boolean;
  };
  readonly runMs: number;
  readonly layers: LayerProfile[];
  readonly sample: ProfileSample;
}

/** Statistics that can be shown per expert or used as a pruning score (higher = more important). */
export type ExpertStatistic = 'frequency' | 'gate' | 'gateMean' | 'importance' | 'reap' | 'ean' | 'normMean' | 'maxNorm';
/** The pruning criteria of the issue (§3.1–3.4), plus full-softmax importance (§3.2). */
export type PruneMethod = 'frequency' | 'gate' | 'reap' | 'ean' | 'importance';
export const PRUNE_METHODS: readonly PruneMethod[] = ['reap', 'frequency', 'gate', 'ean', 'importance'];

export type PruneTarget =
  | { readonly kind: 'keep'; readonly keep: number }
  | { readonly kind: 'ratio'; readonly ratio: number }
  | { readonly kind: 'global'; readonly ratio: number; readonly minPerLayer: number };

export interface ExpertRef {
  readonly layer: number;
  readonly expert: number;
}

export interface PruneRequest {
  readonly method: PruneMethod;
  readonly target: PruneTarget;
  readonly protect: readonly ExpertRef[];
}

export interface MergeRequest {
  /** Experts per layer after merging. */
  readonly keep: number;
}

/** One expert of the new checkpoint: a weighted average of old experts, routed by one old router row. */
export interface PlannedExpert {
  /** Old experts averaged into this one (weight > 0; one source with weight 1 = kept as is). */
  readonly sources: readonly { readonly expert: number; readonly weight: number }[];
  readonly routerRow: number;
  /** Merges: every old expert of the group, including members with zero usage (and so zero weight). */
  readonly members?: readonly number[];
}

export interface LayerPlan {
  readonly layer: number;
  /** Experts before. */
  readonly numExperts: number;
  readonly topK: number;
  /** The new experts in their new order (index = new id). */
  readonly experts: PlannedExpert[];
  /** Old ids that are in no new expert. */
  readonly removed: number[];
  /** Per old expert: its score under the plan's method (for reports). */
  readonly scores: number[];
}

export interface ExpertPlan {
  readonly operation: 'prune' | 'merge';
  /** Method and target in words, e.g. "REAP, keep 6 per layer". */
  readonly description: string;
  readonly parameters: PruneRequest | MergeRequest;
  readonly layers: LayerPlan[];
}

/** What `moe_workbench.json` in a written checkpoint holds. */
export interface OperationRecord {
  readonly format: 'moe-workbench.operation';
  readonly version: 1;
  readonly createdAt: string;
  readonly tool: string;
  readonly source: { readonly dir: string; readonly sha256: string };
  readonly profile?: RecordedProfile;
  readonly plan: ExpertPlan;
  /** Per MoE layer: old ids kept (new id = position) and removed. */
  readonly experts: { readonly layer: number; readonly kept: number[]; readonly removed: number[]; readonly merged?: number[][] }[];
  /** Files of the source folder that were not copied because copying them would not be safe (links out of the folder, FIFOs, ...). */
  readonly skippedFiles?: readonly SkippedFile[];
}

/**
 * The profile a plan came from. `file` is the copy inside the checkpoint folder (relative to it), so what is
 * recorded cannot change when the original is rewritten; `sha256` is of its bytes, the same as the
 * original's when it was used.
 */
export interface RecordedProfile {
  readonly file: string;
  readonly sha256?: string;
  /** Where the profile was read from (absolute). */
  readonly originalFile?: string;
  readonly dataSha256: string;
  readonly tokens: number;
}

export interface SkippedFile {
  readonly name: string;
  readonly reason: string;
}

export interface WrittenCheckpoint {
  readonly dir: string;
  readonly files: string[];
  readonly bytes: number;
  /** Source files left out (also in moe_workbench.json). */
  readonly skipped?: readonly SkippedFile[];
  /** Staging folders of killed earlier writes that were found beside the output and removed. */
  readonly removedStale?: readonly string[];
}

/** Impact of a plan on routed tokens, before anything is written. */
export interface PlanImpact {
  readonly tokens: number;
  /** Tokens with at least one removed expert in their top-k in some layer. */
  readonly affectedTokens: number;
  readonly perLayer: { readonly layer: number; readonly affected: number; readonly gateMassLost: number }[];
  /** The most affected tokens, by gate mass lost summed over layers. */
  readonly worst: AffectedToken[];
}

/** One of a plan's most affected tokens, with where it is (reports before issue #8 have no position). */
export interface AffectedToken {
  /** Position among the routed tokens (the sample's or the document's token index). */
  readonly index: number;
  readonly text: string;
  /** Applied gate weight of its removed or merged experts, summed over layers. */
  readonly massLost: number;
  readonly layers: number[];
  /** The document it is in (a calibration file, "file:line" for a .jsonl record), when known. */
  readonly document?: string;
  /** 1-based line of the token within its document's text. */
  readonly line?: number;
  /** Up to a few dozen characters of text just before and after the token, in the same document. */
  readonly before?: string;
  readonly after?: string;
}

export interface EvalSide {
  readonly dir: string;
  readonly name: string;
  readonly perplexity: number;
  readonly bytesOnDisk: number;
  readonly totalParams: number;
  readonly activeParams: number;
  readonly numExperts: number;
}

export interface TokenChange {
  readonly index: number;
  readonly text: string;
  /** Next-token prediction (top-1) of each model after this token. */
  readonly before: string;
  readonly after: string;
  readonly kl: number;
}

export interface EvalReport {
  readonly tokens: number;
  readonly chunks: number;
  readonly baseline: EvalSide;
  readonly candidate: EvalSide;
  /** Share of positions where both models' top-1 next token agree. */
  readonly top1Agreement: number;
  /** Mean KL(baseline ‖ candidate) of next-token distributions, nats. */
  readonly meanKl: number;
  /** On the document, when one was given. */
  readonly document?: {
    readonly tokens: number;
    readonly changedPredictions: number;
    /** Per MoE layer: share of tokens whose set of top-k experts (in original ids) changed. */
    readonly routingChanged: { readonly layer: number; readonly share: number }[];
    readonly perToken: TokenChange[];
  };
  readonly runMs: number;
}

/** Everything a finished operation reports: what was planned and written, and what it cost. */
export interface OperationReport {
  readonly title: string;
  readonly createdAt: string;
  readonly record: OperationRecord;
  readonly written: WrittenCheckpoint;
  /** The profile statistic the plan ranked by, per layer and old expert (the saliency bars). */
  readonly statistic: ExpertStatistic;
  readonly evaluation?: EvalReport;
  /** Impact on the calibration sample, computed before writing. */
  readonly impact?: PlanImpact;
  /** Why evaluation was skipped or what it ran on, e.g. "calibration data (not held out)". */
  readonly notes: string[];
}
