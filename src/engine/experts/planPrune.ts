// Which experts a pruning keeps: per layer by score (keep N, or a ratio as round(ratio·E) pruned, as the
// reference methods do), or a global ratio across layers with a per-layer minimum (scores normalised to
// each layer's total so layers compare). Protected experts are always kept. Pure.
import type { ExpertPlan, ExpertProfile, LayerPlan, LayerProfile, PruneRequest } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { METHOD_LABELS, METHOD_STATISTIC, checkFiniteScores, expertStatistic } from './expertStatistics';

export function planPrune(profile: ExpertProfile, req: PruneRequest): ExpertPlan {
  const stat = METHOD_STATISTIC[req.method];
  if (!stat) throw new MoeError('E_INPUT', `unknown pruning method "${String(req.method)}" (use reap, frequency, gate, ean or importance)`);
  const protectedBy = new Map<number, Set<number>>();
  for (const p of req.protect) {
    const l = profile.layers.find((x) => x.layer === p.layer);
    if (!l) throw new MoeError('E_INPUT', `protected expert ${p.layer}:${p.expert}: layer ${p.layer} is not an MoE layer of this model`);
    if (!Number.isInteger(p.expert) || p.expert < 0 || p.expert >= l.numExperts) throw new MoeError('E_INPUT', `protected expert ${p.layer}:${p.expert}: layer ${p.layer} has experts 0..${l.numExperts - 1}`);
    if (!protectedBy.has(p.layer)) protectedBy.set(p.layer, new Set());
    protectedBy.get(p.layer)!.add(p.expert);
  }
  const scores = profile.layers.map((l) => expertStatistic(l, stat));
  profile.layers.forEach((l, i) => checkFiniteScores(l.layer, scores[i]!, `${METHOD_LABELS[req.method]} score`));
  const keepCounts = keepPerLayer(profile.layers, scores, req, protectedBy);
  const layers: LayerPlan[] = profile.layers.map((l, i) => {
    const prot = protectedBy.get(l.layer) ?? new Set<number>();
    if (prot.size > keepCounts[i]!) throw new MoeError('E_INPUT', `layer ${l.layer}: ${prot.size} protected experts but only ${keepCounts[i]} are kept: protect fewer or keep more`);
    const s = scores[i]!;
    const order = rank(s, prot);
    const kept = order.slice(0, keepCounts[i]).sort((a, b) => a - b);
    const keptSet = new Set(kept);
    return {
      layer: l.layer,
      numExperts: l.numExperts,
      topK: l.topK,
      experts: kept.map((e) => ({ sources: [{ expert: e, weight: 1 }], routerRow: e })),
      removed: s.map((_, e) => e).filter((e) => !keptSet.has(e)),
      scores: s,
    };
  });
  return { operation: 'prune', description: `${METHOD_LABELS[req.method]}, ${targetText(req)}`, parameters: req, layers };
}

/** Experts by decreasing score, protected first; ties keep the lower id. */
function rank(s: readonly number[], prot: ReadonlySet<number>): number[] {
  return s.map((_, e) => e).sort((a, b) => +prot.has(b) - +prot.has(a) || s[b]! - s[a]! || a - b);
}

function targetText(req: PruneRequest): string {
  const t = req.target;
  if (t.kind === 'keep') return `keep ${t.keep} per layer`;
  if (t.kind === 'ratio') return `prune ${fmtPct(t.ratio)} per layer`;
  return `prune ${fmtPct(t.ratio)} globally, at least ${t.minPerLayer} per layer`;
}
const fmtPct = (r: number): string => `${Math.round(r * 1000) / 10}%`;

function keepPerLayer(layers: readonly LayerProfile[], scores: readonly number[][], req: PruneRequest, prot: ReadonlyMap<number, ReadonlySet<number>>): number[] {
  const t = req.target;
  const check = (l: LayerProfile, keep: number, how: string): number => {
    if (keep < l.topK) throw new MoeError('E_INPUT', `${how} would leave ${keep} experts in layer ${l.layer}, fewer than the ${l.topK} each token is routed to (num_experts_per_tok): keep at least ${l.topK}`);
    if (keep > l.numExperts) throw new MoeError('E_INPUT', `${how}: layer ${l.layer} has only ${l.numExperts} experts`);
    return keep;
  };
  if (t.kind === 'keep') {
    if (!Number.isInteger(t.keep) || t.keep < 1) throw new MoeError('E_INPUT', `keep must be a positive integer, got ${t.keep}`);
    return layers.map((l) => check(l, t.keep, `keep ${t.keep}`));
  }
  if (!(t.ratio >= 0 && t.ratio < 1)) throw new MoeError('E_INPUT', `the pruning ratio must be in [0, 1), got ${t.ratio}`);
  if (t.kind === 'ratio') return layers.map((l) => check(l, l.numExperts - Math.round(t.ratio * l.numExperts), `pruning ${fmtPct(t.ratio)}`));

  // Global: remove the lowest normalised scores across all layers, never below the layer's floor.
  const floor = layers.map((l) => Math.max(t.minPerLayer, l.topK, prot.get(l.layer)?.size ?? 0));
  layers.forEach((l, i) => check(l, Math.min(floor[i]!, l.numExperts), `a minimum of ${t.minPerLayer} per layer`));
  const total = layers.reduce((n, l) => n + l.numExperts, 0);
  let toRemove = Math.round(t.ratio * total);
  const keep = layers.map((l) => l.numExperts);
  const candidates: { i: number; e: number; s: number }[] = [];
  layers.forEach((l, i) => {
    const sum = scores[i]!.reduce((a, b) => a + b, 0);
    scores[i]!.forEach((v, e) => {
      if (!prot.get(l.layer)?.has(e)) candidates.push({ i, e, s: sum > 0 ? v / sum : 0 });
    });
  });
  candidates.sort((a, b) => a.s - b.s || a.i - b.i || a.e - b.e);
  for (const c of candidates) {
    if (toRemove === 0) break;
    if (keep[c.i]! <= floor[c.i]!) continue;
    keep[c.i]!--;
    toRemove--;
  }
  return keep;
}
