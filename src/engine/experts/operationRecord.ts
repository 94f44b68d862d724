// The `moe_workbench.json` a written checkpoint carries: the operation, its parameters, the source
// model's identity, the profile it was planned from (a copy of it travels in the checkpoint), and per layer
// the old ids kept, removed and merged.
import type { ExpertPlan, ExpertProfile, ModelIdentity, OperationRecord } from '../../protocol/expertOps';

export const TOOL = 'moe-workbench 0.1.0';

export function operationRecord(plan: ExpertPlan, source: ModelIdentity, profile?: { file: string; profile: ExpertProfile }): OperationRecord {
  return {
    format: 'moe-workbench.operation',
    version: 1,
    createdAt: new Date().toISOString(),
    tool: TOOL,
    source: { dir: source.dir, sha256: source.sha256 },
    // The original path until writeExpertPlan copies the profile into the checkpoint and points `file` at the copy.
    ...(profile ? { profile: { file: profile.file, originalFile: profile.file, dataSha256: profile.profile.data.sha256, tokens: profile.profile.data.tokens } } : {}),
    plan,
    experts: plan.layers.map((l) => {
      const merged = l.experts.filter((x) => (x.members ?? x.sources).length > 1).map((x) => [...(x.members ?? x.sources.map((s) => s.expert))]);
      return { layer: l.layer, kept: l.experts.map((x) => x.routerRow), removed: [...l.removed], ...(merged.length > 0 ? { merged } : {}) };
    }),
  };
}

/** Per layer: new expert id -> the old id whose router row it kept (to compare routing across the two). */
export function expertMapOf(record: OperationRecord): [number, number[]][] {
  return record.experts.map((l) => [l.layer, [...l.kept]]);
}
