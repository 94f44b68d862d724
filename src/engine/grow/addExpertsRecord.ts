// The moe_workbench.json of a grown checkpoint: the operation, method, router rule and seed, the source's
// identity, what copies of a router row mean for the function (the rule, and the measured difference), and per
// MoE layer the new ids with their sources — the shape addedExperts.ts reads back for `--train new-experts`.
import type { ModelIdentity, SkippedFile } from '../../protocol/expertOps';
import { TOOL } from '../experts/operationRecord';
import type { UpcycleEvaluation } from '../upcycle/upcycleEval';
import { ROUTER_STD } from '../upcycle/upcyclePlan';
import type { AddExpertsPlan, GrowMethod, RouterRowInit } from './addExpertsPlan';

export const ADD_EXPERTS_FORMAT = 'moe-workbench.add-experts';

export interface AddedExpert {
  /** Its id in the grown model (E..E+N−1). */
  readonly expert: number;
  /** The existing expert it was made from; null for cold. */
  readonly from: number | null;
  readonly rule: 'hot' | 'list' | 'cold';
  /** hot: tokens the profile routed to the source (of `tokens` in the layer). */
  readonly sourceTokens?: number;
}

export interface AddExpertsData {
  readonly files: readonly string[];
  readonly sha256: string;
  /** Tokens profiled (hot) or averaged (domain). */
  readonly tokens: number;
}

export interface AddExpertsRecord {
  readonly format: typeof ADD_EXPERTS_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly tool: string;
  readonly operation: 'add-experts';
  readonly method: GrowMethod;
  readonly seed: number;
  readonly source: { readonly dir: string; readonly sha256: string; readonly modelType: string };
  readonly settings: {
    readonly count: number;
    readonly from: 'hot' | 'cold' | 'list' | 'list+hot';
    readonly router: RouterRowInit;
    readonly routerStd?: number;
    readonly ratio?: number;
    readonly noiseStd?: number;
    readonly dropMode?: string;
    /** cold: each matrix drawn from N(mean, std²) of that matrix over the layer's existing experts. */
    readonly coldInit?: 'normal, mean and std of the layer\'s existing experts per matrix';
    readonly numExpertsBefore: number;
    readonly numExpertsAfter: number;
    readonly topK: number;
    readonly renormalize: boolean;
  };
  readonly data?: AddExpertsData;
  /** hot from a profile file (not a fresh profile of the data): the file. */
  readonly profile?: { readonly file: string };
  /** domain router rows: the data tokens whose router inputs were averaged (at most DOMAIN_MAX_TOKENS). */
  readonly domain?: { readonly tokens: number };
  /** Whether, and when, the grown model computes the source's function (see functionRule). */
  readonly functionPreservation: { readonly exact: boolean; readonly rule: string };
  readonly layers: readonly { readonly layer: number; readonly tokens?: number; readonly added: readonly AddedExpert[] }[];
  /** The source's logits against the grown model's on seeded sequences (upcycleEval.ts). */
  readonly evaluation?: UpcycleEvaluation;
  /** The source's own moe_workbench.json, if it had one. */
  readonly previous?: unknown;
  readonly skippedFiles?: readonly SkippedFile[];
}

const ordinal = (n: number): string => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;

/**
 * What the new experts do to the function at creation. A copied router row gives the copy its source's logit,
 * so the two tie; with renormalised top-k the output is unchanged wherever the twins are not both chosen.
 */
export function functionRule(p: AddExpertsPlan): { exact: boolean; rule: string } {
  const copies = p.options.method === 'copy' && p.router === 'copy';
  if (!copies) {
    const what = p.options.from === 'cold' ? 'cold experts' : `${p.options.method === 'copy' ? 'copied' : `${p.options.method}-edited`} experts with ${p.router} router rows`;
    return { exact: false, rule: `${what} change the function wherever a new expert is chosen` };
  }
  if (!p.renormalize) {
    return { exact: false, rule: 'without renormalised top-k (norm_topk_prob false) each applied weight is its softmax probability over all E + N experts: a copied row adds its source\'s exp(logit) to every token\'s denominator, so every routed output shrinks; not function-preserving' };
  }
  if (p.topK === 1) {
    return { exact: true, rule: 'renormalised top-1: a copy ties with its source, whichever of the two is chosen computes the same expert with weight 1, so the function is preserved exactly' };
  }
  const k = p.topK;
  const first = k === 2 ? 'is a token\'s first choice' : `ranks among a token's first ${k - 1} choices`;
  return {
    exact: false,
    rule: `renormalised top-${k}: a copy ties with its source, so where the source ${first} the copy is chosen too, pushing out the token's ${ordinal(k)} expert and doubling the source's share; tokens whose first ${k === 2 ? 'choice is' : `${k - 1} choices hold`} no copied source are unchanged (exact preservation needs top-1)`,
  };
}

export interface RecordExtra {
  readonly usage?: ReadonlyMap<number, readonly number[]>;
  readonly tokens?: number;
  readonly data?: AddExpertsData;
  readonly domainTokens?: number;
  readonly profileFile?: string;
  readonly evaluation?: UpcycleEvaluation;
  readonly previous?: unknown;
  readonly skipped: readonly SkippedFile[];
}

export function addExpertsRecord(p: AddExpertsPlan, source: ModelIdentity, extra: RecordExtra): AddExpertsRecord {
  const o = p.options;
  const from = typeof o.from === 'string' ? o.from : o.from.rest === 'hot' ? 'list+hot' : 'list';
  const layers = p.moeLayers.map((L) => {
    const counts = extra.usage?.get(L);
    const added = p.sources.get(L)!.map((s, j): AddedExpert => ({
      expert: p.oldExperts + j,
      from: s.expert,
      rule: s.rule,
      ...(s.rule === 'hot' && counts ? { sourceTokens: counts[s.expert!]! } : {}),
    }));
    return { layer: L, ...(counts && extra.tokens !== undefined ? { tokens: extra.tokens } : {}), added };
  });
  return {
    format: ADD_EXPERTS_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    operation: 'add-experts',
    method: o.method,
    seed: o.seed,
    source: { dir: source.dir, sha256: source.sha256, modelType: source.modelType },
    settings: {
      count: o.count,
      from,
      router: p.router,
      ...(p.router === 'random' ? { routerStd: ROUTER_STD } : {}),
      ...(o.method !== 'copy' ? { ratio: o.ratio } : {}),
      ...(o.method === 'noise' ? { noiseStd: o.noiseStd } : {}),
      ...(o.method === 'drop' ? { dropMode: o.dropMode } : {}),
      ...(o.from === 'cold' ? { coldInit: 'normal, mean and std of the layer\'s existing experts per matrix' as const } : {}),
      numExpertsBefore: p.oldExperts,
      numExpertsAfter: p.newExperts,
      topK: p.topK,
      renormalize: p.renormalize,
    },
    ...(extra.data ? { data: extra.data } : {}),
    ...(extra.profileFile !== undefined ? { profile: { file: extra.profileFile } } : {}),
    ...(extra.domainTokens !== undefined ? { domain: { tokens: extra.domainTokens } } : {}),
    functionPreservation: functionRule(p),
    layers,
    ...(extra.evaluation ? { evaluation: extra.evaluation } : {}),
    ...(extra.previous !== undefined ? { previous: extra.previous } : {}),
    ...(extra.skipped.length > 0 ? { skippedFiles: [...extra.skipped] } : {}),
  };
}
