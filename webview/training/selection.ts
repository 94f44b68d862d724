// The panel's copy of the expert selection: toggled chip by chip, reset to what the host proposed (the ESFT
// selection), turned into the Start message, and the trainable parameters it means. Pure (no DOM).
import type { EditedSelection, TrainingPlanView } from '../../src/protocol/trainingPanelProtocol';

/** MoE layer → selected routed experts. Never mutated: every edit returns a new draft. */
export type SelectionDraft = ReadonlyMap<number, ReadonlySet<number>>;

export function selectionFromPlan(plan: Pick<TrainingPlanView, 'layers'>): SelectionDraft {
  return new Map(plan.layers.map((l) => [l.layer, new Set(l.selected.filter((e) => Number.isInteger(e) && e >= 0 && e < l.numExperts))]));
}

/** The draft with `expert` of `layer` flipped; unchanged when the plan has no such layer or expert. */
export function toggleExpert(plan: Pick<TrainingPlanView, 'layers'>, draft: SelectionDraft, layer: number, expert: number): SelectionDraft {
  const pl = plan.layers.find((l) => l.layer === layer);
  if (!pl || !Number.isInteger(expert) || expert < 0 || expert >= pl.numExperts) return draft;
  const experts = new Set(draft.get(layer) ?? []);
  if (experts.has(expert)) experts.delete(expert);
  else experts.add(expert);
  const next = new Map(draft);
  next.set(layer, experts);
  return next;
}

/** The Start message's selection: layers ascending, experts ascending, layers with none left out. */
export function editedSelection(draft: SelectionDraft): EditedSelection {
  return [...draft.entries()]
    .filter(([, experts]) => experts.size > 0)
    .sort((a, b) => a[0] - b[0])
    .map(([layer, experts]) => [layer, [...experts].sort((a, b) => a - b)] as const);
}

export function selectedCount(draft: SelectionDraft): number {
  let n = 0;
  for (const experts of draft.values()) n += experts.size;
  return n;
}

export function sameSelection(a: SelectionDraft, b: SelectionDraft): boolean {
  const x = editedSelection(a);
  const y = editedSelection(b);
  return x.length === y.length && x.every(([layer, e], i) => y[i]![0] === layer && y[i]![1].length === e.length && e.every((v, j) => y[i]![1][j] === v));
}

export interface TrainableParameters {
  /** Selected routed experts' parameters plus the other trainable ones (routers, shared experts). */
  readonly trainable: number;
  readonly total: number;
  /** trainable / total; 0 when the total is unknown. */
  readonly share: number;
  readonly experts: number;
}

export function trainableParameters(plan: Pick<TrainingPlanView, 'layers' | 'otherParameters' | 'totalParameters'>, draft: SelectionDraft): TrainableParameters {
  let trainable = plan.otherParameters;
  let experts = 0;
  for (const l of plan.layers) {
    const n = draft.get(l.layer)?.size ?? 0;
    trainable += n * l.expertParameters;
    experts += n;
  }
  const total = plan.totalParameters;
  return { trainable, total, share: total > 0 ? trainable / total : 0, experts };
}

/** Nothing would train: no routed expert and no other trainable tensor. */
export function selectionEmpty(plan: Pick<TrainingPlanView, 'otherParameters'>, draft: SelectionDraft): boolean {
  return selectedCount(draft) === 0 && plan.otherParameters <= 0;
}

/**
 * Identifies a plan, so the user's edits survive a state message about the same plan (Start refused with an
 * error) and are replaced when the host proposes another one.
 */
export function planKey(plan: TrainingPlanView): string {
  return JSON.stringify([plan.modelDir, plan.selectionLabel, plan.data.files, plan.data.sequences, plan.layers.map((l) => [l.layer, l.selected])]);
}
