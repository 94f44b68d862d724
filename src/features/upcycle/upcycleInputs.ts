// The pure parts of "MoE: Upcycle to MoE…": which loaded models can be upcycled, the methods and router
// inits with their one-line explanations, validating what the user types (E, K, ratios, layers, seed) and
// the settings sent to the engine. No vscode import, so all of it is unit-tested in plain Node. The engine
// checks everything again (upcyclePlan.ts): these checks only give the message while the user types.
import { MAX_EXPERTS, UPCYCLE_DEFAULTS, UPCYCLE_TARGETS } from '../../engine/upcycle/upcyclePlan';
import type { UpcycleSettings } from '../../protocol/engineProtocol';
import { parseInteger, parseRatio } from '../operations/operationInputs';

export type UpcycleMethodChoice = NonNullable<UpcycleSettings['method']>;
export type RouterChoice = NonNullable<UpcycleSettings['router']>;

/** What the flow needs to know about the loaded model. */
export interface DenseShape {
  readonly name: string;
  readonly modelType: string;
  readonly moeLayers: readonly number[];
}

const supportedList = (): string =>
  Object.entries(UPCYCLE_TARGETS)
    .map(([s, t]) => `${s} → ${t}`)
    .join(', ');

/** Why the loaded model cannot be upcycled, or undefined when it can. */
export function upcycleRefusal(m: DenseShape): string | undefined {
  if (m.moeLayers.length > 0) return `${m.name} is a ${m.modelType} model that already has experts (${m.moeLayers.length} MoE layers): upcycling turns a dense model into an MoE. Supported: ${supportedList()}.`;
  if (!(m.modelType in UPCYCLE_TARGETS)) return `${m.name} is a ${m.modelType} model, which cannot be upcycled. Supported: ${supportedList()}.`;
  return undefined;
}

export const METHOD_ITEMS: readonly { readonly method: UpcycleMethodChoice; readonly label: string; readonly detail: string }[] = [
  { method: 'copy', label: 'Copy', detail: 'Sparse upcycling: every expert an exact copy of the dense MLP; with renormalised top-k the model computes exactly the dense function' },
  { method: 'noise', label: 'Noise', detail: "Copies with Gaussian noise added to a fraction of each expert's neurons, so the experts start apart" },
  { method: 'drop', label: 'Drop', detail: "Drop-Upcycling: copies with a fraction of each expert's neurons re-drawn from the weights' statistics" },
  { method: 'split', label: 'Split', detail: "LLaMA-MoE: the dense neurons partitioned into E experts of I/E neurons each; active parameters shrink" },
];

export const ROUTER_ITEMS: readonly { readonly router: RouterChoice; readonly label: string; readonly detail: string }[] = [
  { router: 'random', label: 'Random', detail: 'Zero-mean uniform router rows with std 0.02 (Drop-Upcycling\'s init): tokens start spread evenly' },
  { router: 'kmeans', label: 'K-means on data', detail: "Rows from k-means centroids of each layer's MLP inputs on your data: tokens start routed by content" },
];

export function validateExperts(text: string, method: UpcycleMethodChoice, denseIntermediate: number): string | undefined {
  const e = parseInteger(text);
  if (e === undefined || e < 1) return 'Type a whole number of experts (at least 1).';
  if (e > MAX_EXPERTS) return `At most ${MAX_EXPERTS} experts per layer.`;
  if (method === 'split' && (e > denseIntermediate || denseIntermediate % e !== 0)) {
    return `Split divides the ${denseIntermediate} neurons of intermediate_size into equal groups: ${e} does not divide ${denseIntermediate} (try ${divisorsNear(denseIntermediate, e).join(' or ')}).`;
  }
  return undefined;
}

/** The divisors of `n` closest to `e` (at most two), for a split's hint. */
export function divisorsNear(n: number, e: number): number[] {
  const ds: number[] = [];
  for (let d = 1; d <= n && d <= MAX_EXPERTS; d++) if (n % d === 0) ds.push(d);
  return ds.sort((a, b) => Math.abs(a - e) - Math.abs(b - e) || a - b).slice(0, 2).sort((a, b) => a - b);
}

export function validateTopK(text: string, experts: number): string | undefined {
  const k = parseInteger(text);
  if (k === undefined || k < 1) return 'Type a whole number of experts per token (at least 1).';
  if (k > experts) return `Top-k is at most the number of experts (${experts}).`;
  return undefined;
}

export function validateChangedRatio(text: string): string | undefined {
  const r = parseRatio(text);
  if (r === undefined) return 'Type the share of each expert\'s neurons to change, e.g. 0.5 or 50%.';
  if (!(r > 0 && r <= 1)) return 'The share must be above 0 and at most 1 (100%).';
  return undefined;
}

export function validateNoiseStd(text: string): string | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i.test(t) || !Number.isFinite(Number(t))) return 'Type a standard deviation, a number ≥ 0 such as 0.02.';
  return undefined;
}

export function validateSeed(text: string): string | undefined {
  const s = parseInteger(text);
  if (s === undefined || s > 0xffffffff) return 'Type a whole number from 0 to 4294967295.';
  return undefined;
}

/** "all" or comma-separated decoder layers ("0, 2-4" ranges too) → the layers, or why not. */
export function parseLayers(text: string, numLayers: number): { layers: 'all' | number[] } | { error: string } {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'all') return { layers: 'all' };
  const out = new Set<number>();
  for (const part of t.split(/[,\s]+/).filter((p) => p !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return { error: `"${part}" is not a layer number or a range like 2-5.` };
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return { error: `"${part}": a range goes up, e.g. ${b}-${a}.` };
    if (b >= numLayers) return { error: `Layer ${b} does not exist: the model has layers 0 to ${numLayers - 1}.` };
    for (let i = a; i <= b; i++) out.add(i);
  }
  const layers = [...out].sort((x, y) => x - y);
  return layers.length === numLayers ? { layers: 'all' } : { layers };
}

/** Only Qwen3-MoE can keep some layers dense (mlp_only_layers); Mixtral has no dense layers. */
export const canChooseLayers = (modelType: string): boolean => UPCYCLE_TARGETS[modelType] === 'qwen3_moe';

export interface UpcycleChoice {
  readonly method: UpcycleMethodChoice;
  readonly experts: number;
  readonly topK: number;
  readonly ratio?: number;
  readonly noiseStd?: number;
  readonly dropMode?: 'paper' | 'reference-code';
  readonly router: RouterChoice;
  /** split: group the neurons by balanced k-means over their activations on the data. */
  readonly balancedSplit?: boolean;
  readonly data?: readonly string[];
  readonly layers: 'all' | readonly number[];
  readonly seed: number;
}

/** Whether the choice needs data: the k-means router and the balanced split cluster data tokens. */
export const needsData = (c: Pick<UpcycleChoice, 'router' | 'method' | 'balancedSplit'>): boolean => c.router === 'kmeans' || (c.method === 'split' && c.balancedSplit === true);

/** The engine's settings for a choice: only what applies to the method (as the CLI's flags). */
export function upcycleSettings(c: UpcycleChoice): UpcycleSettings {
  const usesRatio = c.method === 'noise' || c.method === 'drop';
  return {
    experts: c.experts,
    topK: c.topK,
    method: c.method,
    ...(usesRatio ? { ratio: c.ratio ?? UPCYCLE_DEFAULTS.ratio } : {}),
    ...(c.method === 'noise' ? { noiseStd: c.noiseStd ?? UPCYCLE_DEFAULTS.noiseStd } : {}),
    ...(c.method === 'drop' ? { dropMode: c.dropMode ?? UPCYCLE_DEFAULTS.dropMode } : {}),
    router: c.router,
    layers: c.layers,
    seed: c.seed,
    ...(needsData(c) && c.data && c.data.length > 0 ? { data: [...c.data] } : {}),
  };
}

/** The default E: 8, or for a split the divisor of I nearest 8. */
export function defaultExperts(method: UpcycleMethodChoice, denseIntermediate: number): number {
  if (method !== 'split') return 8;
  const near = divisorsNear(denseIntermediate, 8);
  return near.sort((a, b) => Math.abs(a - 8) - Math.abs(b - 8) || a - b)[0] ?? 1;
}
