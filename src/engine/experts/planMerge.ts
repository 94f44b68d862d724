// MC-SMoE-style merging (docs/moe-methods.md §3.10) to `keep` experts per layer: the most used experts
// are the group centres; every other expert joins the centre whose router-logit column is most similar
// (cosine over the calibration tokens); each group becomes the usage-weighted average of its members'
// weights, routed by the centre's router row. Pure.
import type { ExpertPlan, ExpertProfile, LayerPlan, LayerProfile, MergeRequest } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { checkFiniteScores } from './expertStatistics';

export function planMerge(profile: ExpertProfile, req: MergeRequest): ExpertPlan {
  if (!Number.isInteger(req.keep) || req.keep < 1) throw new MoeError('E_INPUT', `keep must be a positive integer, got ${req.keep}`);
  const layers = profile.layers.map((l) => mergeLayer(l, req.keep));
  return { operation: 'merge', description: `MC-SMoE merge to ${req.keep} experts per layer (router-logit similarity, frequency-weighted)`, parameters: req, layers };
}

/** Cosine similarity of router-logit columns i and j from the Gram matrix. */
export function logitSimilarity(l: LayerProfile, i: number, j: number): number {
  const E = l.numExperts;
  const d = Math.sqrt(l.logitGram[i * E + i]! * l.logitGram[j * E + j]!);
  return d > 0 ? l.logitGram[i * E + j]! / d : 0;
}

function mergeLayer(l: LayerProfile, keep: number): LayerPlan {
  const E = l.numExperts;
  if (keep < l.topK) throw new MoeError('E_INPUT', `merging to ${keep} experts would leave layer ${l.layer} with fewer than the ${l.topK} each token is routed to (num_experts_per_tok): keep at least ${l.topK}`);
  if (keep > E) throw new MoeError('E_INPUT', `merging to ${keep}: layer ${l.layer} has only ${E} experts`);
  checkFiniteScores(l.layer, l.count, 'selection count');
  // Grouping compares router-logit columns: a NaN similarity would put the expert in the first group.
  const gramRows = Array.from({ length: E }, (_, e) => (l.logitGram.slice(e * E, (e + 1) * E).every((v) => typeof v === 'number' && Number.isFinite(v)) ? 0 : NaN));
  checkFiniteScores(l.layer, gramRows, 'router-logit similarity to the other experts (its logitGram row)');
  const total = l.count.reduce((a, b) => a + b, 0);
  const usage = l.count.map((n) => (total > 0 ? n / total : 0));
  const centres = usage
    .map((_, e) => e)
    .sort((a, b) => usage[b]! - usage[a]! || a - b)
    .slice(0, keep)
    .sort((a, b) => a - b);
  const groups = new Map<number, number[]>(centres.map((c) => [c, [c]]));
  for (let e = 0; e < E; e++) {
    if (groups.has(e)) continue;
    let best = centres[0]!;
    let bestSim = -Infinity;
    for (const c of centres) {
      const s = logitSimilarity(l, e, c);
      if (s > bestSim) {
        best = c;
        bestSim = s;
      }
    }
    groups.get(best)!.push(e);
  }
  const experts = centres.map((c) => {
    const members = groups.get(c)!.sort((a, b) => a - b);
    const used = members.filter((e) => usage[e]! > 0);
    // A group nobody used is averaged uniformly (MC-SMoE's ε makes it 0/0 otherwise).
    const sources = used.length > 0 ? used.map((e) => ({ expert: e, weight: usage[e]! })) : members.map((e) => ({ expert: e, weight: 1 }));
    return members.length === 1 ? { sources: [{ expert: c, weight: 1 }], routerRow: c } : { sources, routerRow: c, members };
  });
  return { layer: l.layer, numExperts: E, topK: l.topK, experts, removed: [], scores: usage };
}
