// Growing a trained MoE (issue #11 §2): the options of add-experts, the checks against the model made before
// anything is read or written, and the resolved plan — per MoE layer, where each new expert (ids E..E+N−1)
// comes from. A refusal names the value and the reason.
import { MoeError } from '../../protocol/moeError';
import { type ModelConfig, moeLayerIndices, routingOf } from '../model/modelConfig';
import type { NeuronEditPlan } from '../upcycle/neuronEdits';
import { type DropMode, MAX_EXPERTS, UPCYCLE_DEFAULTS } from '../upcycle/upcyclePlan';

export type GrowMethod = 'copy' | 'noise' | 'drop';
export const GROW_METHODS: readonly GrowMethod[] = ['copy', 'noise', 'drop'];
export type RouterRowInit = 'copy' | 'random' | 'domain';
export const ROUTER_ROW_INITS: readonly RouterRowInit[] = ['copy', 'random', 'domain'];

/** One listed source: expert `expert` of decoder layer `layer`. */
export interface ListedSource {
  readonly layer: number;
  readonly expert: number;
}

/**
 * Where the new experts come from: `hot` (per layer the most-used experts on the data, cycling when N > E),
 * `cold` (drawn from scratch), or a list giving every MoE layer its N sources (L:E in order, new ids E.. in
 * list order); with `rest: 'hot'` the layers the list leaves out take the hot rule (Duplicate Expert).
 */
export type SourceRule = 'hot' | 'cold' | { readonly list: readonly ListedSource[]; readonly rest?: 'hot' };

export interface AddExpertsOptions {
  /** New experts per MoE layer. */
  readonly count: number;
  readonly from: SourceRule;
  readonly method: GrowMethod;
  /** noise / drop: the fraction of each new expert's neurons that are changed. */
  readonly ratio: number;
  /** noise: standard deviation of the added N(0, σ²). */
  readonly noiseStd: number;
  readonly dropMode: DropMode;
  /** Router rows of the new experts; default copy for copied sources, random for cold. */
  readonly router?: RouterRowInit;
  readonly seed: number;
  /** Calibration files or folders: profiled for hot, their router inputs averaged for domain. */
  readonly data?: readonly string[];
  /** hot: a profile of this model (profileFile.ts) to rank the experts by, instead of profiling --data (the UI has one). */
  readonly profileFile?: string;
}

export const ADD_EXPERTS_DEFAULTS = { from: 'hot', method: 'copy', ratio: UPCYCLE_DEFAULTS.ratio, noiseStd: UPCYCLE_DEFAULTS.noiseStd, dropMode: UPCYCLE_DEFAULTS.dropMode, seed: 0 } as const satisfies Partial<AddExpertsOptions>;

/** Where one new expert came from: an existing expert's id, or null for cold. */
export type NewExpertSource = { readonly expert: number; readonly rule: 'hot' | 'list' } | { readonly expert: null; readonly rule: 'cold' };

export interface AddExpertsPlan {
  readonly options: AddExpertsOptions;
  readonly router: RouterRowInit;
  readonly moeLayers: readonly number[];
  /** Routed experts per layer before (E) and after (E + N). */
  readonly oldExperts: number;
  readonly newExperts: number;
  readonly topK: number;
  readonly renormalize: boolean;
  /** Each expert's intermediate size I. */
  readonly intermediate: number;
  /** noise / drop: neurons changed per new expert and matrix, floor(r·I). */
  readonly changedNeurons: number;
  /** Per MoE layer, the source of new expert E + j at index j. */
  readonly sources: ReadonlyMap<number, readonly NewExpertSource[]>;
}

const fail = (msg: string, file: string, code: 'E_INPUT' | 'E_UNSUPPORTED' = 'E_INPUT'): never => {
  throw new MoeError(code, `${file}: ${msg}`, file);
};

/** Whether the plan needs a profile of the model on the data (some layer takes the hot rule). */
export function needsProfile(o: AddExpertsOptions): boolean {
  return o.from === 'hot' || (typeof o.from === 'object' && o.from.rest === 'hot');
}

const routerOf = (o: AddExpertsOptions): RouterRowInit => o.router ?? (o.from === 'cold' ? 'random' : 'copy');

/** Checks `o` against the MoE model `c` (its config.json is `file`); everything that does not need the data. */
export function checkAddExperts(c: ModelConfig, o: AddExpertsOptions, file: string): void {
  const routing = routingOf(c);
  if (!routing) return fail(`model_type "${c.modelType}" is a dense model: it has no experts to add to; upcycle it into an MoE first`, file);
  const E = routing.numExperts;
  if (!Number.isSafeInteger(o.count) || o.count < 1 || E + o.count > MAX_EXPERTS) fail(`the number of experts to add must be an integer from 1 to ${MAX_EXPERTS - E} (the layers have ${E}), got ${o.count}`, file);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) fail(`the seed must be an integer from 0 to 4294967295, got ${o.seed}`, file);
  if (o.method !== 'copy' && !(o.ratio > 0 && o.ratio <= 1)) fail(`the ratio of changed neurons must be in (0, 1], got ${o.ratio}`, file);
  if (o.method === 'noise' && !(Number.isFinite(o.noiseStd) && o.noiseStd >= 0)) fail(`the noise standard deviation must be a finite number >= 0, got ${o.noiseStd}`, file);
  const router = routerOf(o);
  if (o.from === 'cold' && o.method !== 'copy') fail(`a cold expert is drawn from scratch; ${o.method} edits a copy of a source expert (use hot or an L:E list)`, file);
  if (o.from === 'cold' && router === 'copy') fail('a cold expert has no source whose router row could be copied; use --router random or domain', file);
  const hasData = (o.data?.length ?? 0) > 0;
  const hasProfile = o.profileFile !== undefined;
  if (needsProfile(o) && !hasData && !hasProfile) fail('hot sources are the most-used experts of each layer on data: give the data (--data PATH...), or list the sources (L:E,...), or use cold', file);
  if (hasProfile && !needsProfile(o)) fail('a profile is used by hot sources only', file);
  if (router === 'domain' && !hasData) fail('the domain router init averages the router inputs of data tokens: give the data (--data PATH...)', file);
  if (hasData && !(needsProfile(o) && !hasProfile) && router !== 'domain') fail(hasProfile ? 'data is used by the domain router init only when hot sources come from a profile' : 'data is used by hot sources and the domain router init only', file);
  if (typeof o.from === 'object') checkList(c, o.from, o.count, E, file);
}

function checkList(c: ModelConfig, rule: Exclude<SourceRule, string>, N: number, E: number, file: string): void {
  const moe = moeLayerIndices(c);
  const perLayer = new Map<number, number>();
  for (const { layer, expert } of rule.list) {
    if (!Number.isSafeInteger(layer) || layer < 0 || layer >= c.numLayers) fail(`source ${layer}:${expert}: layer ${layer} does not exist (the model has layers 0 to ${c.numLayers - 1}; MoE layers ${moe.join(', ')})`, file);
    if (c.layers[layer]!.kind !== 'moe') fail(`source ${layer}:${expert}: layer ${layer} is a dense layer and has no experts (MoE layers ${moe.join(', ')})`, file);
    if (!Number.isSafeInteger(expert) || expert < 0 || expert >= E) fail(`source ${layer}:${expert}: expert ${expert} does not exist (layer ${layer} has experts 0 to ${E - 1})`, file);
    perLayer.set(layer, (perLayer.get(layer) ?? 0) + 1);
  }
  if (rule.list.length === 0 && rule.rest !== 'hot') fail('the list of source experts is empty', file);
  for (const [L, n] of perLayer) {
    if (n !== N) fail(`the list gives layer ${L} ${n} source expert${n === 1 ? '' : 's'}, but ${N} expert${N === 1 ? ' is' : 's are'} added to every MoE layer: give each listed layer exactly ${N} (L:E once per new expert, repeats allowed)`, file);
  }
  const missing = moe.filter((L) => !perLayer.has(L));
  if (missing.length > 0 && rule.rest !== 'hot') {
    fail(`the list gives no sources for MoE layer${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: a Hugging Face config holds one expert count for all MoE layers, so every MoE layer gets ${N} new expert${N === 1 ? '' : 's'}; list ${N} for each, or end the list with hot to copy the other layers' most-used experts`, file);
  }
}

/** Experts ranked by use (tokens routed to them, most first; ties to the lower id). */
export function rankByUse(counts: readonly number[]): number[] {
  return counts.map((n, e) => ({ n, e })).sort((a, b) => b.n - a.n || a.e - b.e).map((x) => x.e);
}

/**
 * The plan for `o` on `c`. `usage` (tokens routed to each expert, per MoE layer, from a profile on the data)
 * is needed when some layer takes the hot rule: its N most-used experts, cycling through the ranking when N > E.
 */
export function planAddExperts(c: ModelConfig, o: AddExpertsOptions, file: string, usage?: ReadonlyMap<number, readonly number[]>): AddExpertsPlan {
  checkAddExperts(c, o, file);
  const routing = routingOf(c)!;
  const E = routing.numExperts;
  const moeLayers = moeLayerIndices(c);
  const sources = new Map<number, NewExpertSource[]>();
  for (const L of moeLayers) {
    const listed = typeof o.from === 'object' ? o.from.list.filter((s) => s.layer === L) : [];
    if (listed.length > 0) {
      sources.set(L, listed.map((s) => ({ expert: s.expert, rule: 'list' as const })));
    } else if (o.from === 'cold') {
      sources.set(L, Array.from({ length: o.count }, () => ({ expert: null, rule: 'cold' as const })));
    } else {
      const counts = usage?.get(L);
      if (!counts || counts.length !== E) throw new MoeError('E_INTERNAL', `no profile counts for MoE layer ${L}`);
      const ranked = rankByUse(counts);
      sources.set(L, Array.from({ length: o.count }, (_, j) => ({ expert: ranked[j % E]!, rule: 'hot' as const })));
    }
  }
  const intermediate = c.layers[moeLayers[0]!]!.intermediateSize;
  return {
    options: o,
    router: routerOf(o),
    moeLayers,
    oldExperts: E,
    newExperts: E + o.count,
    topK: routing.topK,
    renormalize: routing.renormalize,
    intermediate,
    changedNeurons: o.method === 'copy' ? 0 : Math.floor(o.ratio * intermediate),
    sources,
  };
}

/** The settings neuronEdits.ts reads, for the plan's source experts. */
export function neuronEditPlan(p: AddExpertsPlan): NeuronEditPlan {
  const { seed, noiseStd, dropMode } = p.options;
  return { denseIntermediate: p.intermediate, changedNeurons: p.changedNeurons, options: { seed, noiseStd, dropMode } };
}
