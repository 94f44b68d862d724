// The parameters of a prune or merge as the output channel logs them: everything the user chose, so the
// log alone says how a checkpoint was made.
import type { ExpertPlan, MergeRequest, PruneRequest } from '../../protocol/expertOps';
import type { LogValue } from './outputLog';

export interface OperationChoice {
  readonly model: string;
  readonly plan: ExpertPlan;
  readonly profile: string;
  readonly out: string;
  /** Evaluation data; empty when evaluation is skipped. */
  readonly evalData: readonly string[];
  /** The prompt document whose per-token changes the report shows. */
  readonly document?: string;
}

export function operationParams(c: OperationChoice): Record<string, LogValue | undefined> {
  const p = c.plan;
  const specific: Record<string, LogValue | undefined> =
    p.operation === 'prune'
      ? (() => {
          const r = p.parameters as PruneRequest;
          const t = r.target;
          const target = t.kind === 'keep' ? `keep ${t.keep} per layer` : t.kind === 'ratio' ? `prune ${t.ratio} per layer` : `prune ${t.ratio} globally, min ${t.minPerLayer} per layer`;
          return { method: r.method, target, protect: r.protect.length > 0 ? r.protect.map((x) => `${x.layer}:${x.expert}`) : undefined };
        })()
      : { target: `keep ${(p.parameters as MergeRequest).keep} per layer` };
  return {
    model: c.model,
    ...specific,
    profile: c.profile,
    out: c.out,
    eval: c.evalData.length > 0 ? [...c.evalData] : 'skipped',
    document: c.document,
  };
}
