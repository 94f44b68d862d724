// The engine requests that grow a loaded MoE (issue #11 §2, §4): the preview of add-experts (what each MoE
// layer gets, parameters and bytes before/after, the function rule; tensor headers only) and the write.
// Mirrors src/engine/grow/addExpertsPlan.ts AddExpertsOptions; omitted settings take ADD_EXPERTS_DEFAULTS.
import type { WrittenCheckpoint } from './expertOps';

/** Expert `expert` of decoder layer `layer`. */
export interface GrowSourceRef {
  readonly layer: number;
  readonly expert: number;
}

/** hot: each layer's most-used experts (from `profileFile`); cold: drawn from scratch; a list (the rest hot). */
export type GrowSources = 'hot' | 'cold' | { readonly list: readonly GrowSourceRef[]; readonly rest?: 'hot' };

export interface AddExpertsSettings {
  /** New experts in every MoE layer. */
  readonly count: number;
  readonly from: GrowSources;
  readonly method?: 'copy' | 'noise' | 'drop';
  readonly ratio?: number;
  readonly noiseStd?: number;
  readonly dropMode?: 'paper' | 'reference-code';
  /** Default: copy for copied sources, random for cold. */
  readonly router?: 'copy' | 'random' | 'domain';
  readonly seed?: number;
  /** domain router rows (and hot sources when no profile is given, in the write only). */
  readonly data?: readonly string[];
  /** A profile of the loaded model: hot sources rank its experts by tokens routed to them. */
  readonly profileFile?: string;
}

export interface AddExpertsParams extends AddExpertsSettings {
  readonly out: string;
  /** The model folder the preview was of: refused when another model is loaded now. */
  readonly model?: string;
  /** Measure the logit difference to the source before committing (default true). */
  readonly evaluate?: boolean;
}

/** One new expert: its id in the grown model and where it comes from (null: cold). */
export interface GrowAddedExpert {
  readonly expert: number;
  readonly from: number | null;
  readonly rule: 'hot' | 'list' | 'cold';
  /** hot: tokens the profile routed to the source. */
  readonly sourceTokens?: number;
}

export interface GrowFigures {
  readonly parameters: { readonly before: number; readonly after: number; readonly activeBefore: number; readonly activeAfter: number };
  readonly bytes: { readonly before: number; readonly after: number };
}

export interface AddExpertsPreview extends GrowFigures {
  readonly source: { readonly dir: string; readonly name: string; readonly modelType: string };
  readonly settings: {
    readonly count: number;
    readonly from: 'hot' | 'cold' | 'list' | 'list+hot';
    readonly method: 'copy' | 'noise' | 'drop';
    readonly router: 'copy' | 'random' | 'domain';
    readonly ratio: number;
    readonly noiseStd: number;
    readonly dropMode: 'paper' | 'reference-code';
    readonly seed: number;
    readonly data: readonly string[];
    readonly profileFile?: string;
  };
  readonly numLayers: number;
  readonly moeLayers: readonly number[];
  readonly oldExperts: number;
  readonly newExperts: number;
  readonly topK: number;
  readonly hiddenSize: number;
  readonly intermediate: number;
  /** noise / drop: neurons changed per new expert and matrix. */
  readonly changedNeurons: number;
  readonly layers: readonly { readonly layer: number; readonly added: readonly GrowAddedExpert[] }[];
  /** Whether the grown model computes the source's function at creation, and the rule. */
  readonly functionPreservation: { readonly exact: boolean; readonly rule: string };
}

export interface AddExpertsResult extends GrowFigures {
  readonly written: WrittenCheckpoint;
  /** report.html in the written folder, absolute (report.json, which MoE: Open Report… draws, beside it). */
  readonly reportFile: string;
  readonly layers: AddExpertsPreview['layers'];
  readonly functionPreservation: AddExpertsPreview['functionPreservation'];
  readonly maxAbsLogitDiff?: number;
  readonly top1Agreement?: number;
}

/** The grow methods of the engine protocol (EngineMethods extends this). */
export interface GrowMethods {
  /** What adding experts to the loaded MoE with these settings makes (checked as the write checks them; headers only). */
  addExpertsPreview: { params: AddExpertsSettings; result: AddExpertsPreview };
  /** Adds experts to the loaded MoE, writing a new checkpoint folder (moe_workbench.json records the new experts). */
  addExperts: { params: AddExpertsParams; result: AddExpertsResult };
}
