// From the engine's answers to what the training panel shows (trainingPanelProtocol.ts), and from the
// panel's edits back to a finetune request. Pure: no vscode, so it is unit-tested in plain Node.
import * as path from 'node:path';
import type { FinetuneParams, FinetunePlan, FinetuneResult, Progress } from '../../protocol/engineProtocol';
import type { ModelInfo } from '../../protocol/modelInfo';
import type { DocumentRoutingView, EditedSelection, OutcomeView, StepPoint, TrainingPlanView, TrainingSettings } from '../../protocol/trainingPanelProtocol';

/** The CLI's defaults (src/cli/finetuneCommand.ts), so a run started here equals `moe-workbench finetune` without flags. */
export function defaultSettings(plan: Pick<FinetunePlan, 'seqLen'>, outDir: string): TrainingSettings {
  const steps = 100;
  return { steps, lr: 1e-4, optimizer: 'adamw', schedule: 'cosine', warmup: Math.min(10, Math.floor(steps / 10)), batchTokens: 4 * plan.seqLen, seed: 0, outDir, adapterOnly: false };
}

export function planView(info: ModelInfo, plan: FinetunePlan, settings: TrainingSettings, selectionLabel: string): TrainingPlanView {
  const scores = new Map((plan.selection?.layers ?? []).map((l) => [l.layer, l.scores]));
  const experts = new Map(plan.experts);
  const perExpert = new Map(plan.expertParameters);
  return {
    modelName: info.name,
    modelDir: info.path,
    selectionLabel,
    ...(plan.selection ? { method: plan.selection.method, threshold: plan.selection.threshold } : {}),
    layers: info.moeLayers.map((layer) => {
      const s = scores.get(layer);
      return { layer, numExperts: plan.numExperts, ...(s ? { scores: s } : {}), selected: [...(experts.get(layer) ?? [])].sort((a, b) => a - b), expertParameters: perExpert.get(layer) ?? 0 };
    }),
    otherParameters: plan.otherParameters,
    otherTensors: plan.tensors,
    totalParameters: plan.totalParameters,
    data: { files: plan.files, sequences: plan.sequences, tokens: plan.tokens, trainedTargets: plan.trainedTargets, chatRecords: plan.chatRecords, seqLen: plan.seqLen, heldOut: plan.heldOut, preview: plan.preview },
    settings,
  };
}

/** Why an edited selection cannot be trained on this model; undefined when it can. */
export function checkSelection(selection: EditedSelection, info: Pick<ModelInfo, 'moeLayers' | 'numExperts'>, otherParameters: number): string | undefined {
  let n = 0;
  for (const [layer, experts] of selection) {
    if (!info.moeLayers.includes(layer)) return `layer ${layer} is not an MoE layer of this model (its MoE layers: ${info.moeLayers.join(', ')})`;
    const bad = experts.find((e) => e >= info.numExperts);
    if (bad !== undefined) return `layer ${layer} has no expert ${bad} (it has ${info.numExperts})`;
    n += experts.length;
  }
  return n === 0 && otherParameters === 0 ? 'nothing is selected: choose at least one expert' : undefined;
}

/**
 * The `--train` specs of an edited selection: one `experts=L:E,...` for the routed experts, then the specs
 * of everything else that trains (routers, shared experts), which the panel does not edit.
 */
export function trainSpecs(selection: EditedSelection, otherSpecs: readonly string[]): string[] {
  const items = [...selection]
    .sort((a, b) => a[0] - b[0])
    .flatMap(([layer, experts]) => [...new Set(experts)].sort((a, b) => a - b).map((e) => `${layer}:${e}`));
  return [...(items.length > 0 ? [`experts=${items.join(',')}`] : []), ...otherSpecs];
}

/** The request for the run the panel's Start asks for. */
export function finetuneParams(data: readonly string[], specs: readonly string[], s: TrainingSettings, seqLen: number, document?: string): FinetuneParams {
  return {
    data,
    outDir: s.outDir,
    train: specs,
    steps: s.steps,
    lr: s.lr,
    optimizer: s.optimizer,
    schedule: s.schedule,
    warmup: s.warmup,
    weightDecay: 0.1,
    gradClip: 1,
    seqLen,
    batchTokens: s.batchTokens,
    seed: s.seed,
    ...(s.adapterOnly ? { adapterOnly: true } : {}),
    ...(document !== undefined ? { document } : {}),
  };
}

/** A step's figures from the engine's progress (finetune reports them as `metrics` in the `train` stage). */
export function stepPoint(p: Progress): StepPoint | undefined {
  const m = p.metrics;
  if (p.stage !== 'train' || !m) return undefined;
  const { step, loss, evalLoss, tokensPerSecond, lr, gradNorm } = m;
  if (step === undefined || loss === undefined || tokensPerSecond === undefined || lr === undefined) return undefined;
  return { step, loss, tokensPerSecond, lr, ...(evalLoss === undefined ? {} : { evalLoss }), ...(gradNorm === undefined ? {} : { gradNorm }) };
}

/** Milliseconds to the last step at the pace so far (undefined before the first step). */
export function etaMs(stepsDone: number, totalSteps: number, elapsedMs: number): number | undefined {
  if (stepsDone <= 0 || elapsedMs <= 0) return undefined;
  return Math.max(0, ((totalSteps - stepsDone) * elapsedMs) / stepsDone);
}

type DocumentComparison = NonNullable<FinetuneResult['document']>;

export function documentRoutingView(label: string, d: DocumentComparison, maxExamples = 12): DocumentRoutingView {
  const examples = d.perToken.filter((t) => t.layers.length > 0).slice(0, maxExamples).map((t) => ({ text: t.text, layers: [...t.layers] }));
  return { document: label, tokens: d.tokens, changedPredictions: d.changedPredictions, layers: d.routingChanged.map((l) => ({ layer: l.layer, share: l.share })), examples };
}

export function outcomeView(r: FinetuneResult, totalSteps: number, document?: DocumentRoutingView, documentNote?: string): OutcomeView {
  const opt = <K extends keyof FinetuneResult>(k: K): Partial<Record<K, NonNullable<FinetuneResult[K]>>> => (r[k] === undefined ? {} : ({ [k]: r[k] } as Partial<Record<K, NonNullable<FinetuneResult[K]>>>));
  return {
    steps: r.steps,
    totalSteps,
    stopped: r.stoppedAt !== undefined,
    ...opt('checkpointDir'),
    adapterDir: r.adapterDir,
    // report.html is written into the checkpoint folder, or the adapter folder of an adapter-only run (finetuneJob.ts).
    reportFile: path.join(r.checkpointDir ?? r.adapterDir, 'report.html'),
    ...opt('evalBefore'),
    ...opt('evalAfter'),
    ...opt('generalBefore'),
    ...opt('generalAfter'),
    ...opt('top1Agreement'),
    ...opt('meanKl'),
    tokensPerSecond: r.tokensPerSecond,
    seconds: r.seconds,
    routingDrift: r.routingDrift,
    ...(document ? { document } : {}),
    ...(documentNote ? { documentNote } : {}),
  };
}

/** What the plan trains, for the panel's heading and the log, e.g. "ESFT-Token, threshold p = 0.2". */
export function selectionLabel(method: 'esft-token' | 'esft-gate' | undefined, threshold: number | undefined, specs: readonly string[]): string {
  const esft = method ? `${method === 'esft-token' ? 'ESFT-Token' : 'ESFT-Gate'}, threshold p = ${threshold}` : undefined;
  const listed = specs.length > 0 ? specs.join(' + ') : undefined;
  return [esft, listed].filter((x) => x !== undefined).join(' + ') || 'ESFT-Token, threshold p = 0.2';
}
