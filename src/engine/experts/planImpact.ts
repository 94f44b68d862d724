// What a plan does to tokens, before anything is written: a token is affected in a layer when one of its
// top-k experts is removed (pruning) or folded into another expert (merging); the gate mass it loses there
// is the applied weight of those experts. Works on a profile's sample and on an open document's routing.
import type { ExpertPlan, PlanImpact } from '../../protocol/expertOps';

export interface RoutedTokens {
  readonly tokens: readonly string[];
  /** Per MoE layer: decoder layer index, top-k, and [n, k] expert ids and applied weights (old ids). */
  readonly layers: readonly { readonly layer: number; readonly topK: number; readonly experts: ArrayLike<number>; readonly weights: ArrayLike<number> }[];
}

/** Old experts whose function changes under the plan, per layer. */
export function changedExperts(plan: ExpertPlan): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const l of plan.layers) {
    const changed = new Set<number>(l.removed);
    for (const x of l.experts) {
      const members = x.members ?? x.sources.map((s) => s.expert);
      if (members.length > 1) for (const m of members) if (m !== x.routerRow) changed.add(m);
    }
    out.set(l.layer, changed);
  }
  return out;
}

export function planImpact(plan: ExpertPlan, routed: RoutedTokens, worstCount = 20): PlanImpact {
  const changed = changedExperts(plan);
  const n = routed.tokens.length;
  const lost = new Float64Array(n);
  const hit = new Uint8Array(n);
  const layersHit: number[][] = Array.from({ length: n }, () => []);
  const perLayer = routed.layers.map((l) => {
    const gone = changed.get(l.layer) ?? new Set<number>();
    let affected = 0;
    let mass = 0;
    for (let t = 0; t < n; t++) {
      let m = 0;
      let any = false;
      for (let k = 0; k < l.topK; k++) {
        if (gone.has(l.experts[t * l.topK + k]!)) {
          any = true;
          m += l.weights[t * l.topK + k]!;
        }
      }
      if (any) {
        affected++;
        mass += m;
        lost[t]! += m;
        hit[t] = 1;
        layersHit[t]!.push(l.layer);
      }
    }
    return { layer: l.layer, affected, gateMassLost: n > 0 ? mass / n : 0 };
  });
  const worst = Array.from({ length: n }, (_, t) => t)
    .filter((t) => hit[t])
    .sort((a, b) => lost[b]! - lost[a]! || a - b)
    .slice(0, worstCount)
    .map((t) => ({ index: t, text: routed.tokens[t]!, massLost: lost[t]!, layers: layersHit[t]! }));
  return { tokens: n, affectedTokens: hit.reduce((a, b) => a + b, 0), perLayer, worst };
}
