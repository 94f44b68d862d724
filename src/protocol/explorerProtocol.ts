// The contract between the Expert Explorer webview and the extension host. The webview keeps only UI
// state (vscode.setState); data is pushed by the host on 'ready' and on every change.
import type { ExpertStatistic } from './expertOps';

export type ColourMode = 'expert' | 'entropy' | 'selectedExpert';

export interface ExplorerToken {
  readonly text: string;
  readonly id: number;
}

export interface LayerBalance {
  readonly layer: number;
  /** Tokens routed to each expert (a token counts once per expert in its top-k). */
  readonly load: readonly number[];
  /** Coefficient of variation of the load (population std / mean). */
  readonly cv: number;
  /** (max load − N·k/E) / (N·k/E). */
  readonly maxVio: number;
  /** Mean router entropy in nats, and normalised by log E. */
  readonly meanEntropy: number;
  readonly meanEntropyNormalised: number;
  /** Experts no token was routed to. */
  readonly neverSelected: readonly number[];
}

export interface ExplorerDocument {
  readonly uri: string;
  readonly name: string;
  readonly version: number;
  readonly tokens: readonly ExplorerToken[];
  /** Whether each token's routing is known yet (long documents fill in progressively). */
  readonly known: readonly boolean[];
  /** For the selected layer: per token, [expert, weight] pairs in rank order. */
  readonly routing: readonly (readonly (readonly [number, number])[])[];
  /** Per MoE layer of the document. */
  readonly balance: readonly LayerBalance[];
  readonly complete: boolean;
}

/** A statistic the profile section can show: its id, a short name for the dropdown and its definition. */
export interface ExplorerStatisticOption {
  readonly id: ExpertStatistic;
  readonly name: string;
  readonly label: string;
}

/** The active expert profile, reduced by the host to what the view shows (no Gram matrices, no sample). */
export interface ExplorerProfile {
  /** Base name of the profile file, and its full path. */
  readonly file: string;
  readonly path: string;
  /** Name of the model the profile was computed on. */
  readonly model: string;
  /** Calibration tokens and documents. */
  readonly tokens: number;
  readonly documents: number;
  /** True when the profiling pass stopped before the end of the calibration data. */
  readonly truncated: boolean;
  readonly statistic: ExpertStatistic;
  readonly statisticLabel: string;
  /** Every statistic the user can choose, in menu order. */
  readonly statistics: readonly ExplorerStatisticOption[];
  /** Per MoE layer: the statistic for each expert (index = expert id). Higher = more important. */
  readonly layers: readonly { readonly layer: number; readonly values: readonly number[] }[];
}

export interface ExplorerState {
  readonly model:
    | {
        readonly name: string;
        readonly numExperts: number;
        readonly topK: number;
        readonly moeLayers: readonly number[];
        /** Set for a model with random weights (the demo model): what to tell the user. */
        readonly untrained?: string;
        /** A pruned or merged model: per expert of the selected layer, its id(s) in the source, e.g. "5" or "5+7". */
        readonly origins?: readonly string[];
      }
    | undefined;
  readonly selectedLayer: number | undefined;
  readonly selectedExpert: number | undefined;
  readonly colourMode: ColourMode;
  readonly document: ExplorerDocument | undefined;
  /** A token the user asked to see ("Show in Explorer" in the hover): scroll to and highlight its row. */
  readonly revealedToken?: number;
  /** Why there is nothing to show, when there is nothing. */
  readonly message?: string;
  /** The active expert profile (issue #4), when there is one. */
  readonly profile?: ExplorerProfile;
}

export type HostToExplorer = { readonly type: 'state'; readonly state: ExplorerState };

export type ExplorerToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'revealToken'; readonly index: number }
  | { readonly type: 'selectExpert'; readonly layer: number; readonly expert: number | undefined }
  | { readonly type: 'selectLayer'; readonly layer: number }
  | { readonly type: 'selectStatistic'; readonly statistic: ExpertStatistic };
