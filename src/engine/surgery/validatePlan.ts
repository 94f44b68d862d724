// Checks an expert plan (pruning / merging) against the model it is applied to, before anything touches the
// disk: every MoE layer is planned, ids are in range and used once, weights are usable, enough experts stay
// for top-k, and every layer keeps the same number (a Hugging Face config holds one expert count).
import type { ExpertPlan, LayerPlan, PruneRequest } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';
import { type ModelConfig, type ModelType, moeLayerIndices, routingOf } from '../model/modelConfig';

/** The config.json key holding the number of routed experts, per family. */
export function expertCountKey(modelType: ModelType): 'num_local_experts' | 'num_experts' {
  return modelType === 'mixtral' || modelType === 'granitemoe' ? 'num_local_experts' : 'num_experts';
}

function bad(msg: string): MoeError {
  return new MoeError('E_INPUT', `expert plan: ${msg}`);
}

const isIndex = (v: unknown, n: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < n;

/** One plan layer on its own: ids in range, each old expert used at most once, weights finite and > 0. */
function checkLayer(lp: LayerPlan, E: number, topK: number): void {
  const where = `layer ${lp.layer}`;
  if (lp.numExperts !== E) throw bad(`${where} was planned for ${lp.numExperts} experts, but the model has ${E}; the plan belongs to another model`);
  if (lp.topK !== topK) throw bad(`${where} was planned for top-${lp.topK} routing, but the model routes each token to ${topK} experts (num_experts_per_tok); the plan belongs to another model`);
  if (!Array.isArray(lp.experts)) throw bad(`${where}: "experts" is not a list`);
  const usedBy = new Map<number, number>();
  lp.experts.forEach((x, j) => {
    const what = `${where}, new expert ${j}`;
    if (!Array.isArray(x?.sources) || x.sources.length === 0) throw bad(`${what} has no source experts`);
    for (const s of x.sources) {
      if (!isIndex(s?.expert, E)) throw bad(`${what}: source expert ${JSON.stringify(s?.expert)} does not exist (the layer has experts 0..${E - 1})`);
      if (typeof s.weight !== 'number' || !Number.isFinite(s.weight) || s.weight <= 0) {
        throw bad(`${what}: source expert ${s.expert} has weight ${typeof s.weight === 'number' ? String(s.weight) : JSON.stringify(s.weight)}; weights must be finite and > 0`);
      }
      const prev = usedBy.get(s.expert);
      if (prev !== undefined) {
        throw bad(prev === j ? `${what} lists old expert ${s.expert} twice` : `${where}: old expert ${s.expert} is used by new experts ${prev} and ${j}; each old expert can go into one new expert only`);
      }
      usedBy.set(s.expert, j);
    }
    // Merges may name members that carry no weight (never used on the calibration data): absorbed, not removed.
    for (const m of Array.isArray(x.members) ? x.members : []) {
      if (!isIndex(m, E)) throw bad(`${what}: member ${JSON.stringify(m)} does not exist (the layer has experts 0..${E - 1})`);
      const prev = usedBy.get(m);
      if (prev !== undefined && prev !== j) throw bad(`${where}: old expert ${m} is used by new experts ${prev} and ${j}; each old expert can go into one new expert only`);
      usedBy.set(m, j);
    }
    if (!x.sources.some((s) => s.expert === x.routerRow)) {
      throw bad(`${what}: router row ${JSON.stringify(x.routerRow)} is not one of its source experts (${x.sources.map((s) => s.expert).join(', ')})`);
    }
  });
  const n = lp.experts.length;
  if (n < topK) {
    throw bad(
      `${where} would keep ${n} expert${n === 1 ? '' : 's'}, fewer than num_experts_per_tok = ${topK}: every token is routed to ${topK} experts, ` +
        `so at least ${topK} must remain`,
    );
  }
  const unused = Array.from({ length: E }, (_, e) => e).filter((e) => !usedBy.has(e));
  const removed = Array.isArray(lp.removed) ? [...lp.removed].sort((a, b) => a - b) : undefined;
  if (removed === undefined || removed.length !== unused.length || removed.some((e, i) => e !== unused[i])) {
    throw bad(`${where}: "removed" lists [${String(lp.removed)}], but the experts in no new expert are [${unused.join(', ')}]`);
  }
}

/**
 * Validates `plan` for `config` and returns it keyed by layer, plus the new (uniform) expert count. Every MoE
 * layer of the model must have a plan layer: a missing layer is refused, not kept unchanged, so a planner that
 * forgot a layer is caught (a layer meant to stay as it is lists every expert once, as a single source).
 * Throws MoeError('E_INPUT') naming the layer and the problem.
 */
export function validatePlan(config: ModelConfig, plan: ExpertPlan): { readonly layers: ReadonlyMap<number, LayerPlan>; readonly numExperts: number } {
  const routing = routingOf(config);
  const moe = moeLayerIndices(config);
  if (routing === undefined || moe.length === 0) throw bad(`${config.architecture} is a dense model: it has no experts to prune or merge`);
  if (!plan || !Array.isArray(plan.layers)) throw bad('"layers" is not a list');
  const byLayer = new Map<number, LayerPlan>();
  for (const lp of plan.layers) {
    const L = lp?.layer;
    if (!Number.isInteger(L) || config.layers[L]?.kind !== 'moe') {
      throw bad(`layer ${JSON.stringify(L)} is not an MoE layer of ${config.architecture} (its MoE layers are ${moe.join(', ')})`);
    }
    if (byLayer.has(L)) throw bad(`layer ${L} is planned twice`);
    checkLayer(lp, routing.numExperts, routing.topK);
    byLayer.set(L, lp);
  }
  const missing = moe.filter((L) => !byLayer.has(L));
  if (missing.length > 0) {
    throw bad(`MoE layer${missing.length === 1 ? '' : 's'} ${missing.join(', ')} of ${config.architecture} ${missing.length === 1 ? 'has' : 'have'} no plan; a plan must cover every MoE layer`);
  }
  const counts = moe.map((L) => byLayer.get(L)!.experts.length);
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  if (lo !== hi) {
    const target = (plan.parameters as Partial<PruneRequest> | undefined)?.target;
    const who = target?.kind === 'global' ? 'a global target' : 'the plan';
    const per = moe.map((L, i) => `layer ${L}: ${counts[i]}`).join(', ');
    throw bad(
      `${who} leaves ${lo}–${hi} experts per layer (${per}), but ${config.architecture}'s config.json has one ${expertCountKey(config.modelType)} ` +
        `for all layers, so transformers could not load the result; use a per-layer target (--keep N or --ratio R)`,
    );
  }
  return { layers: byLayer, numExperts: lo };
}
