// Messages between the host and the training panel (issue #10 §5): the panel shows the plan of a fine-tuning
// run (data, the ESFT selection per layer, editable, and the settings), then the run (live loss curves,
// tokens/s, ETA, Stop and Cancel), then its outcome (losses, routing difference on the current document,
// Open Report, Open Fine-tuned Model). The host holds the whole state (TrainingViewState) and sends it when the
// panel (re)loads; during a run it sends each step. Pure types and checks: no vscode, no DOM.

export type FinetuneOptimizer = 'adamw' | 'sgd';
export type FinetuneSchedule = 'constant' | 'cosine';

/** What the user can set before starting (defaults from the host). */
export interface TrainingSettings {
  readonly steps: number;
  readonly lr: number;
  readonly optimizer: FinetuneOptimizer;
  readonly schedule: FinetuneSchedule;
  readonly warmup: number;
  readonly batchTokens: number;
  readonly seed: number;
  /** Output folder (absolute); the host checks it on Start. */
  readonly outDir: string;
  /** Write only the adapter (at outDir), not the full checkpoint. */
  readonly adapterOnly: boolean;
}

/** One MoE layer of the plan: ESFT scores (when selected by ESFT) and the experts that train. */
export interface PlanLayer {
  readonly layer: number;
  readonly numExperts: number;
  /** ESFT score per expert (token selection ratio or average gate score); absent when experts were listed. */
  readonly scores?: readonly number[];
  /** Selected routed experts, ascending (what the host proposed; the panel edits a copy). */
  readonly selected: readonly number[];
  /** Parameters of one routed expert of this layer. */
  readonly expertParameters: number;
}

/** A token of the data preview; `masked`: a chat prompt token, not trained on (no loss). */
export interface PreviewToken {
  readonly text: string;
  readonly masked: boolean;
}

/** The plan shown before training. */
export interface TrainingPlanView {
  readonly modelName: string;
  readonly modelDir: string;
  /** e.g. "ESFT-Token, threshold p = 0.2" or "listed experts (3:1, 3:5)". */
  readonly selectionLabel: string;
  readonly method?: 'esft-token' | 'esft-gate';
  readonly threshold?: number;
  readonly layers: readonly PlanLayer[];
  /** Trainable parameters that are not routed experts (routers, shared experts), and what they are. */
  readonly otherParameters: number;
  readonly otherTensors: readonly string[];
  readonly totalParameters: number;
  readonly data: {
    readonly files: readonly string[];
    readonly sequences: number;
    readonly tokens: number;
    /** Next-token targets with loss (chat prompt tokens excluded). */
    readonly trainedTargets: number;
    readonly chatRecords: number;
    readonly seqLen: number;
    /** How held-out loss will be measured, e.g. "every 10th training sequence (4 of 40)". */
    readonly heldOut: string;
    /** The first tokens of the first sequence, with the chat mask. */
    readonly preview: readonly PreviewToken[];
  };
  readonly settings: TrainingSettings;
}

/** One step of the run, as the engine reported it. */
export interface StepPoint {
  readonly step: number;
  readonly loss: number;
  readonly evalLoss?: number;
  readonly tokensPerSecond: number;
  readonly lr: number;
  readonly gradNorm?: number;
}

export interface RunView {
  readonly totalSteps: number;
  readonly outDir: string;
  readonly startedAt: number;
  readonly points: readonly StepPoint[];
  /** What the engine is doing now when it is not a step ("scoring experts", "writing …", "evaluating …"). */
  readonly stage?: string;
  /** Milliseconds to the last step, from the rate so far. */
  readonly etaMs?: number;
  /** The user chose Stop: the run ends after the step in progress and writes what it has. */
  readonly stopping?: boolean;
}

/** How the fine-tuned model routes the current document differently from the base model. */
export interface DocumentRoutingView {
  readonly document: string;
  readonly tokens: number;
  readonly changedPredictions: number;
  /** Per MoE layer: share of the document's tokens whose top-k expert set changed. */
  readonly layers: readonly { readonly layer: number; readonly share: number }[];
  /** A few changed tokens: text and the layers where their experts changed. */
  readonly examples: readonly { readonly text: string; readonly layers: readonly number[] }[];
}

export interface OutcomeView {
  readonly steps: number;
  readonly totalSteps: number;
  /** Ended by Stop before its step budget. */
  readonly stopped: boolean;
  readonly checkpointDir?: string;
  readonly adapterDir: string;
  /** report.html of the run: in the checkpoint folder, or the adapter folder of an adapter-only run. */
  readonly reportFile?: string;
  readonly evalBefore?: number;
  readonly evalAfter?: number;
  readonly generalBefore?: number;
  readonly generalAfter?: number;
  readonly top1Agreement?: number;
  readonly meanKl?: number;
  readonly tokensPerSecond: number;
  readonly seconds: number;
  readonly routingDrift: readonly { readonly layer: number; readonly jaccard: number }[];
  readonly document?: DocumentRoutingView;
  /** Why the routing difference on the document is missing (no prompt open, adapter only, failed: …). */
  readonly documentNote?: string;
}

export type TrainingPhase = 'planning' | 'setup' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TrainingViewState {
  readonly phase: TrainingPhase;
  readonly plan?: TrainingPlanView;
  readonly run?: RunView;
  readonly outcome?: OutcomeView;
  /** phase failed: the message; setup: why Start was refused (e.g. the output folder exists). */
  readonly error?: string;
  /** The field the error is about, so the panel can point at it. */
  readonly errorField?: keyof TrainingSettings | 'selection';
  /** Output-channel style notes, newest last. */
  readonly notes?: readonly string[];
}

export type HostToTraining =
  | { readonly type: 'state'; readonly state: TrainingViewState }
  | { readonly type: 'step'; readonly point: StepPoint; readonly etaMs?: number }
  | { readonly type: 'stage'; readonly stage: string };

/** The selection as the user edited it: MoE layer → experts (layers with none may be left out). */
export type EditedSelection = readonly (readonly [number, readonly number[]])[];

export type TrainingToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'start'; readonly selection: EditedSelection; readonly settings: TrainingSettings }
  | { readonly type: 'stop' }
  | { readonly type: 'cancel' }
  | { readonly type: 'openReport' }
  | { readonly type: 'openModel' }
  | { readonly type: 'revealOutput' };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseSettings(v: unknown): TrainingSettings | undefined {
  if (!isObj(v)) return undefined;
  const { steps, lr, optimizer, schedule, warmup, batchTokens, seed, outDir, adapterOnly } = v;
  if (!isNat(steps) || !isNum(lr) || !isNat(warmup) || !isNat(batchTokens) || !isNat(seed)) return undefined;
  if (optimizer !== 'adamw' && optimizer !== 'sgd') return undefined;
  if (schedule !== 'constant' && schedule !== 'cosine') return undefined;
  if (typeof outDir !== 'string' || outDir.length > 4096 || typeof adapterOnly !== 'boolean') return undefined;
  return { steps, lr, optimizer, schedule, warmup, batchTokens, seed, outDir, adapterOnly };
}

function parseSelection(v: unknown): EditedSelection | undefined {
  if (!Array.isArray(v) || v.length > 4096) return undefined;
  const out: [number, number[]][] = [];
  for (const e of v) {
    if (!Array.isArray(e) || e.length !== 2 || !isNat(e[0]) || !Array.isArray(e[1]) || e[1].length > 65536 || !e[1].every(isNat)) return undefined;
    out.push([e[0], [...(e[1] as number[])]]);
  }
  return out;
}

/** A message from the panel, checked field by field (a webview is untrusted input); undefined when malformed. */
export function parseTrainingMessage(data: unknown): TrainingToHost | undefined {
  if (!isObj(data)) return undefined;
  switch (data['type']) {
    case 'ready':
    case 'stop':
    case 'cancel':
    case 'openReport':
    case 'openModel':
    case 'revealOutput':
      return { type: data['type'] };
    case 'start': {
      const selection = parseSelection(data['selection']);
      const settings = parseSettings(data['settings']);
      return selection && settings ? { type: 'start', selection, settings } : undefined;
    }
    default:
      return undefined;
  }
}
