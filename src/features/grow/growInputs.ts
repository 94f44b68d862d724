// The pure parts of "MoE: Add Experts…", "Duplicate Expert" and "Continue Training New Experts…": checking
// what the user types (how many experts, the source experts), the choices with their one-line explanations
// and the engine settings a choice makes. No vscode import, so all of it is unit-tested in plain Node; the
// engine checks everything again (addExpertsPlan.ts), these checks only give the message while typing.
import { MAX_EXPERTS, UPCYCLE_DEFAULTS } from '../../engine/upcycle/upcyclePlan';
import type { AddExpertsSettings, GrowSourceRef } from '../../protocol/growProtocol';
import { parseInteger } from '../operations/operationInputs';

export type GrowMethodChoice = 'copy' | 'noise' | 'drop';
export type GrowRouterChoice = 'copy' | 'random' | 'domain';
/** hot: each layer's most-used experts; cold: from scratch; list: typed L:E sources for every MoE layer; layer: the chosen layer's experts, the others hot. */
export type GrowSourceChoice = 'hot' | 'cold' | 'list' | 'layer';

/** What the flow needs to know about the loaded model. */
export interface GrowShape {
  readonly name: string;
  readonly modelType: string;
  readonly moeLayers: readonly number[];
  readonly numExperts: number;
}

/** Why experts cannot be added to the loaded model, or undefined when they can. */
export function growRefusal(m: GrowShape): string | undefined {
  if (m.moeLayers.length === 0) return `${m.name} is a dense ${m.modelType} model: it has no experts to add to. Upcycle it into an MoE first ("MoE: Upcycle to MoE…").`;
  if (m.numExperts >= MAX_EXPERTS) return `${m.name} has ${m.numExperts} experts per layer, the most a layer can have (${MAX_EXPERTS}).`;
  return undefined;
}

export const SOURCE_ITEMS: readonly { readonly from: Exclude<GrowSourceChoice, 'layer'>; readonly label: string; readonly detail: string }[] = [
  { from: 'hot', label: 'Hot experts', detail: "Copies of each layer's most-used experts (from a profile): splits the busy experts" },
  { from: 'cold', label: 'Cold', detail: "New experts from scratch: each matrix drawn from the mean and std of the layer's experts" },
  { from: 'list', label: 'Listed experts…', detail: 'Type LAYER:EXPERT sources, the same number for every MoE layer' },
];

export const METHOD_ITEMS: readonly { readonly method: GrowMethodChoice; readonly label: string; readonly detail: string }[] = [
  { method: 'copy', label: 'Copy', detail: 'Byte copies of their sources' },
  { method: 'noise', label: 'Noise', detail: `Copies with N(0, ${UPCYCLE_DEFAULTS.noiseStd}²) added to a fraction of each new expert's neurons, so they start apart` },
  { method: 'drop', label: 'Drop', detail: "Drop-Upcycling: copies with a fraction of each new expert's neurons re-drawn from the weights' statistics" },
];

/** Router rows for new experts; copy only when they have sources. */
export function routerItems(from: GrowSourceChoice): { readonly router: GrowRouterChoice; readonly label: string; readonly detail: string }[] {
  return [
    ...(from === 'cold' ? [] : [{ router: 'copy' as const, label: 'Copy', detail: "Each new row its source's row: the copy ties with its source, so tokens start split between the two" }]),
    { router: 'random', label: 'Random', detail: 'Zero-mean uniform rows with std 0.02: the new experts start rarely chosen' },
    { router: 'domain', label: 'Domain (data)', detail: 'The mean router input of data you pick, at the mean row norm: tokens like the data go to the new experts' },
  ];
}

/** The number of experts to add: 1 up to what the layers can still hold. */
export function validateCount(text: string, numExperts: number): string | undefined {
  const n = parseInteger(text);
  if (n === undefined || n < 1) return 'Type a whole number of experts to add (at least 1).';
  if (numExperts + n > MAX_EXPERTS) return `At most ${MAX_EXPERTS - numExperts} more: a layer holds at most ${MAX_EXPERTS} experts (it has ${numExperts}).`;
  return undefined;
}

/**
 * "3:1, 3:5, 7:0" → the sources, for `count` new experts in each of `moeLayers`: every MoE layer listed
 * exactly `count` times (a Hugging Face config holds one expert count for all layers), experts 0..E−1.
 */
export function parseSourceList(text: string, m: Pick<GrowShape, 'moeLayers' | 'numExperts'>, count: number): { list: GrowSourceRef[] } | { error: string } {
  const items = text.split(/[\s,]+/).filter((x) => x !== '');
  if (items.length === 0) return { error: `Type ${count} source expert${count === 1 ? '' : 's'} per MoE layer as LAYER:EXPERT, e.g. ${m.moeLayers[0]}:0` };
  const list: GrowSourceRef[] = [];
  const per = new Map<number, number>();
  for (const it of items) {
    const r = /^(\d+):(\d+)$/.exec(it);
    if (!r) return { error: `"${it}" is not LAYER:EXPERT (e.g. ${m.moeLayers[0]}:0)` };
    const layer = Number(r[1]);
    const expert = Number(r[2]);
    if (!m.moeLayers.includes(layer)) return { error: `${it}: layer ${layer} is not an MoE layer (MoE layers: ${m.moeLayers.join(', ')})` };
    if (expert >= m.numExperts) return { error: `${it}: layer ${layer} has experts 0..${m.numExperts - 1}` };
    list.push({ layer, expert });
    per.set(layer, (per.get(layer) ?? 0) + 1);
  }
  for (const L of m.moeLayers) {
    const n = per.get(L) ?? 0;
    if (n !== count) return { error: `Layer ${L} has ${n} source${n === 1 ? '' : 's'}; every MoE layer needs ${count} (one expert count for all layers), repeats allowed` };
  }
  return { list };
}

/** "2, 5" → experts of one layer (the chosen layer's sources, repeats allowed), `count` of them. */
export function parseLayerExperts(text: string, layer: number, numExperts: number, count: number): { experts: number[] } | { error: string } {
  const items = text.split(/[\s,]+/).filter((x) => x !== '');
  const experts: number[] = [];
  for (const it of items) {
    const e = parseInteger(it);
    if (e === undefined) return { error: `"${it}" is not an expert number` };
    if (e >= numExperts) return { error: `Layer ${layer} has experts 0..${numExperts - 1}` };
    experts.push(e);
  }
  if (experts.length !== count) return { error: `Type ${count} expert number${count === 1 ? '' : 's'} of layer ${layer} (one per new expert, repeats allowed); ${experts.length} given` };
  return { experts };
}

export interface GrowChoice {
  readonly count: number;
  readonly from: GrowSourceChoice;
  /** list: the typed sources; layer: the chosen layer's sources (the other layers take their hot experts). */
  readonly list?: readonly GrowSourceRef[];
  readonly method: GrowMethodChoice;
  readonly ratio?: number;
  readonly router: GrowRouterChoice;
  /** domain router rows: the data. */
  readonly data?: readonly string[];
  /** hot sources: the profile they are ranked by. */
  readonly profileFile?: string;
  readonly seed?: number;
}

/** Whether the choice needs a profile (some layer takes its most-used experts). */
export const needsProfile = (from: GrowSourceChoice): boolean => from === 'hot' || from === 'layer';

/** The engine's settings for a choice: only what applies (as the CLI's flags). */
export function growSettings(c: GrowChoice): AddExpertsSettings {
  const edits = c.method !== 'copy' && c.from !== 'cold';
  const from: AddExpertsSettings['from'] = c.from === 'hot' || c.from === 'cold' ? c.from : c.from === 'layer' ? { list: [...(c.list ?? [])], rest: 'hot' } : { list: [...(c.list ?? [])] };
  return {
    count: c.count,
    from,
    method: c.from === 'cold' ? 'copy' : c.method,
    ...(edits ? { ratio: c.ratio ?? UPCYCLE_DEFAULTS.ratio } : {}),
    router: c.router,
    ...(c.router === 'domain' && c.data && c.data.length > 0 ? { data: [...c.data] } : {}),
    ...(needsProfile(c.from) && c.profileFile !== undefined ? { profileFile: c.profileFile } : {}),
    ...(c.seed !== undefined ? { seed: c.seed } : {}),
  };
}

/** Duplicate Expert: that one expert in its layer, every other MoE layer its most-used one (hot, from the profile). */
export function duplicateSettings(layer: number, expert: number, method: 'copy' | 'noise', moeLayers: readonly number[], profileFile: string | undefined): AddExpertsSettings {
  const others = moeLayers.some((L) => L !== layer);
  return {
    count: 1,
    from: others ? { list: [{ layer, expert }], rest: 'hot' } : { list: [{ layer, expert }] },
    method,
    ...(method === 'noise' ? { ratio: UPCYCLE_DEFAULTS.ratio } : {}),
    router: 'copy',
    ...(others && profileFile !== undefined ? { profileFile } : {}),
  };
}

/** The sentence Duplicate Expert's dialogs and notification say about the other layers. */
export function duplicateNote(layer: number, expert: number, moeLayers: readonly number[]): string {
  const others = moeLayers.filter((L) => L !== layer);
  if (others.length === 0) return `Expert ${layer}:${expert} is copied (weights and router row).`;
  return `Expert ${layer}:${expert} is copied (weights and router row). A Hugging Face config holds one expert count for all layers, so MoE layer${others.length === 1 ? '' : 's'} ${others.join(', ')} each get a copy of their most-used expert too.`;
}

/** How many experts a model's record lists as added (upcycle or add-experts), from addedExperts()'s map. */
export const newExpertCount = (added: ReadonlyMap<number, readonly number[]> | undefined): number => [...(added?.values() ?? [])].reduce((n, es) => n + es.length, 0);
