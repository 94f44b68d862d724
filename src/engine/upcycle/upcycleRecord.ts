// The moe_workbench.json of an upcycled checkpoint: the operation, method and settings, the seed, the
// dense source's identity, and per MoE layer where each expert came from (which dense neurons; how many
// were changed), so the new parts can be found again (e.g. to train only them).
import type { ModelIdentity, SkippedFile } from '../../protocol/expertOps';
import { TOOL } from '../experts/operationRecord';
import { splitGroups } from './neuronEdits';
import type { DataInit, LayerDataInit } from './dataInit';
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
    readonly partition?: string;
    readonly expertIntermediateSize: number;
  };
  /** kmeans router or balanced split: the data whose tokens were clustered. */
  readonly data?: DataInit['data'];
  /** Whether identical experts with renormalised top-k compute the dense function (copy only). */
  readonly functionPreserving: boolean;
  /** Per MoE layer; with data, what its clustering gave (dataInit.ts). */
  readonly layers: readonly ({ readonly layer: number; readonly experts: readonly UpcycledExpert[] } & LayerDataInit)[];
  readonly evaluation?: UpcycleEvaluation;
  readonly skippedFiles?: readonly SkippedFile[];
}

export function upcycleRecord(p: UpcyclePlan, source: ModelIdentity, extra: { evaluation?: UpcycleEvaluation; fromData?: DataInit; skipped: readonly SkippedFile[] }): UpcycleRecord {
  const o = p.options;
  const layers = p.moeLayers.map((L) => {
    const groups = o.method === 'split' ? (extra.fromData?.groups.get(L) ?? splitGroups(p, L)) : undefined;
    const from = `model.layers.${L}.mlp`;
    const experts = Array.from({ length: o.experts }, (_, e): UpcycledExpert => ({
      expert: e,
      from,
      ...(groups ? { neurons: Array.from(groups[e]!) } : {}),
      ...(o.method === 'noise' || o.method === 'drop' ? { changedNeurons: p.changedNeurons } : {}),
    }));
    return { layer: L, experts, ...extra.fromData?.layers.get(L) };
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
      ...(p.partition ? { partition: p.partition } : {}),
      expertIntermediateSize: p.expertIntermediate,
    },
    ...(extra.fromData ? { data: extra.fromData.data } : {}),
    functionPreserving: o.method === 'copy',
    layers,
    ...(extra.evaluation ? { evaluation: extra.evaluation } : {}),
    ...(extra.skipped.length > 0 ? { skippedFiles: [...extra.skipped] } : {}),
  };
}
