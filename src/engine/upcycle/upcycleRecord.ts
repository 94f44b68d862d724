// The moe_workbench.json of an upcycled checkpoint: the operation, method and settings, the seed, the
// dense source's identity, and per MoE layer where each expert came from (which dense neurons; how many
// were changed), so the new parts can be found again (e.g. to train only them).
import type { ModelIdentity, SkippedFile } from '../../protocol/expertOps';
import { TOOL } from '../experts/operationRecord';
import { splitGroups } from './neuronEdits';
import type { KmeansRouters } from './kmeansRouter';
import type { UpcycleEvaluation } from './upcycleEval';
import { ROUTER_STD, type UpcycleMethod, type UpcyclePlan } from './upcyclePlan';

export const UPCYCLE_FORMAT = 'moe-workbench.upcycle';

export interface UpcycledExpert {
  readonly expert: number;
  /** The dense MLP it was made from, e.g. "model.layers.3.mlp". */
  readonly from: string;
  /** split: the dense neuron indices it holds (rows of gate/up, columns of down, in this order). */
  readonly neurons?: readonly number[];
  /** noise: neurons with noise added; drop: neurons re-initialised per matrix. */
  readonly changedNeurons?: number;
}

export interface UpcycleRecord {
  readonly format: typeof UPCYCLE_FORMAT;
  readonly version: 1;
  readonly createdAt: string;
  readonly tool: string;
  readonly operation: 'upcycle';
  readonly method: UpcycleMethod;
  readonly seed: number;
  readonly source: { readonly dir: string; readonly sha256: string; readonly modelType: string };
  readonly target: { readonly modelType: string };
  readonly settings: {
    readonly experts: number;
    readonly topK: number;
    readonly router: string;
    readonly routerStd?: number;
    readonly ratio?: number;
    readonly noiseStd?: number;
    readonly dropMode?: string;
    readonly expertIntermediateSize: number;
  };
  /** kmeans: the data whose tokens were clustered. */
  readonly data?: KmeansRouters['data'];
  /** Whether identical experts with renormalised top-k compute the dense function (copy only). */
  readonly functionPreserving: boolean;
  /** router (kmeans): tokens per expert under the new router on the clustered tokens, and k-means iterations. */
  readonly layers: readonly { readonly layer: number; readonly experts: readonly UpcycledExpert[]; readonly router?: { readonly clusterSizes: readonly number[]; readonly iterations: number } }[];
  readonly evaluation?: UpcycleEvaluation;
  readonly skippedFiles?: readonly SkippedFile[];
}

export function upcycleRecord(p: UpcyclePlan, source: ModelIdentity, extra: { evaluation?: UpcycleEvaluation; kmeans?: KmeansRouters; skipped: readonly SkippedFile[] }): UpcycleRecord {
  const o = p.options;
  const layers = p.moeLayers.map((L) => {
    const groups = o.method === 'split' ? splitGroups(p, L) : undefined;
    const from = `model.layers.${L}.mlp`;
    const experts = Array.from({ length: o.experts }, (_, e): UpcycledExpert => ({
      expert: e,
      from,
      ...(groups ? { neurons: Array.from(groups[e]!) } : {}),
      ...(o.method === 'noise' || o.method === 'drop' ? { changedNeurons: p.changedNeurons } : {}),
    }));
    const router = extra.kmeans?.layers.get(L);
    return { layer: L, experts, ...(router ? { router } : {}) };
  });
  return {
    format: UPCYCLE_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    operation: 'upcycle',
    method: o.method,
    seed: o.seed,
    source: { dir: source.dir, sha256: source.sha256, modelType: source.modelType },
    target: { modelType: p.target },
    settings: {
      experts: o.experts,
      topK: o.topK,
      router: o.router,
      ...(o.router === 'random' ? { routerStd: ROUTER_STD } : {}),
      ...(o.method === 'noise' || o.method === 'drop' ? { ratio: o.ratio } : {}),
      ...(o.method === 'noise' ? { noiseStd: o.noiseStd } : {}),
      ...(o.method === 'drop' ? { dropMode: o.dropMode } : {}),
      expertIntermediateSize: p.expertIntermediate,
    },
    ...(extra.kmeans ? { data: extra.kmeans.data } : {}),
    functionPreserving: o.method === 'copy',
    layers,
    ...(extra.evaluation ? { evaluation: extra.evaluation } : {}),
    ...(extra.skipped.length > 0 ? { skippedFiles: [...extra.skipped] } : {}),
  };
}
