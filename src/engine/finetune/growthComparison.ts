// The Growth section of a fine-tuning of a grown model (issue #11 §3, §4; src/report/growthReport.ts): the
// grow operation's record (upcycle or add-experts, followed through the `previous` of fine-tunings), and the
// before/after figures from what the run already computed — the held-out passes of compareHeldOut (their
// top-k choices give each MoE layer's load: CV and MaxVio via layerBalance, and each new expert's share), the
// held-out losses (perplexity) and the trained masters (each new expert's weight distance to its source).
// No held-out sequence is run again here; the only reads are the new and source experts' weights.
import { layerBalance } from '../../metrics/balance';
import type { FinetuneGrowth, GrowthExpert } from '../../report/growthReport';
import { expertFc1SliceName, expertFc2SliceName } from '../graph/trainableMoeBlock';
import { ADD_EXPERTS_FORMAT } from '../grow/addExpertsRecord';
import { isRecord } from '../model/jsonFile';
import type { MoeEngine } from '../moeEngine';
import { sourceRecord } from '../surgery/sourceRecord';
import { type WeightOverrides, withUnitWeights } from '../training/gradientWeights';
import { UPCYCLE_FORMAT } from '../upcycle/upcycleRecord';
import type { HeldOutComparison } from './modelComparison';

/** One new expert of the grow record: its id, and its source expert in the same layer (null: none to compare with). */
interface NewExpert {
  readonly layer: number;
  readonly expert: number;
  readonly from: string;
  readonly sourceExpert: number | null;
}

interface GrowRecord {
  readonly operation: 'upcycle' | 'add-experts';
  readonly method: string;
  readonly source: { readonly dir: string; readonly sha256: string };
  readonly creation?: FinetuneGrowth['creation'];
  readonly functionRule: string;
  readonly experts: readonly NewExpert[];
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);

/**
 * The upcycle or add-experts record `modelDir` was made by (its own moe_workbench.json, or the one a
 * fine-tuning carries as `previous`), or undefined: no record, another operation, or a malformed one
 * (modelProvenance warns about that when the model is loaded; a report section is not worth failing a run).
 */
export function growRecord(modelDir: string): GrowRecord | undefined {
  let raw = sourceRecord(modelDir);
  while (isRecord(raw) && raw['format'] === 'moe-workbench.tensor-update') raw = raw['previous'];
  if (!isRecord(raw) || (raw['format'] !== UPCYCLE_FORMAT && raw['format'] !== ADD_EXPERTS_FORMAT)) return undefined;
  const upcycle = raw['format'] === UPCYCLE_FORMAT;
  const src = raw['source'];
  const layers = raw['layers'];
  if (!isRecord(src) || typeof src['dir'] !== 'string' || typeof src['sha256'] !== 'string' || !Array.isArray(layers)) return undefined;
  const experts: NewExpert[] = [];
  for (const l of layers) {
    if (!isRecord(l) || !isId(l['layer'])) return undefined;
    const list = l[upcycle ? 'experts' : 'added'];
    if (!Array.isArray(list)) return undefined;
    for (const x of list) {
      if (!isRecord(x) || !isId(x['expert'])) return undefined;
      const from = x['from'];
      if (upcycle) experts.push({ layer: l['layer'], expert: x['expert'], from: typeof from === 'string' ? from : `model.layers.${l['layer']}.mlp`, sourceExpert: null });
      else if (isId(from)) experts.push({ layer: l['layer'], expert: x['expert'], from: `expert ${from}`, sourceExpert: from });
      else experts.push({ layer: l['layer'], expert: x['expert'], from: 'cold', sourceExpert: null });
    }
  }
  const ev = raw['evaluation'];
  const creation = isRecord(ev)
    ? { maxAbsLogitDiff: num(ev['maxAbsLogitDiff']), meanAbsLogitDiff: num(ev['meanAbsLogitDiff']), top1Agreement: num(ev['top1Agreement']), sequences: num(ev['sequences']), tokens: num(ev['tokens']) }
    : undefined;
  const fp = raw['functionPreservation'];
  const functionRule = upcycle
    ? raw['functionPreserving'] === true
      ? 'copies of the dense MLP with renormalised top-k compute the dense function'
      : `${String(raw['method'])} changes the function by design (the experts differ from the dense MLP)`
    : isRecord(fp) && typeof fp['rule'] === 'string'
      ? fp['rule']
      : 'not recorded';
  return { operation: upcycle ? 'upcycle' : 'add-experts', method: String(raw['method']), source: { dir: src['dir'], sha256: src['sha256'] }, ...(creation ? { creation } : {}), functionRule, experts };
}

/** Σ (a − b)² and Σ b² in float64. */
function sumSquares(a: Float32Array, b: Float32Array, acc: { d: number; w: number }): void {
  for (let i = 0; i < a.length; i++) {
    acc.d += (a[i]! - b[i]!) ** 2;
    acc.w += b[i]! ** 2;
  }
}

const relative = (acc: { d: number; w: number }): number => (acc.w > 0 ? Math.sqrt(acc.d / acc.w) : Math.sqrt(acc.d));

/** Per MoE layer, the held-out top-k choices of one side, concatenated over sequences ([n·K] expert ids). */
function layerChoices(topk: readonly ReadonlyMap<number, BigInt64Array>[], layer: number): Int32Array {
  const parts = topk.map((m) => m.get(layer)).filter((x): x is BigInt64Array => x !== undefined);
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[o++] = Number(p[i]!);
  return out;
}

/**
 * The Growth section for a run on the engine's model (before) whose trained weights are `trained` (after), or
 * undefined when the model was not grown. `held`: the run's held-out comparison (undefined with --no-eval).
 */
export async function growthComparison(engine: MoeEngine, trained: WeightOverrides, held: HeldOutComparison | undefined, signal?: AbortSignal): Promise<FinetuneGrowth | undefined> {
  const g = growRecord(engine.info.path);
  if (!g) return undefined;
  const c = engine.config;
  const balance: FinetuneGrowth['balance'][number][] = [];
  const loads = new Map<number, { before: readonly number[]; after: readonly number[]; slots: number }>();
  let heldOutTokens = 0;
  for (const [L, spec] of c.layers.entries()) {
    if (spec.kind !== 'moe' || !held) continue;
    const E = spec.routing.numExperts;
    const K = spec.routing.topK;
    const a = layerChoices(held.before.topk, L);
    const b = layerChoices(held.after.topk, L);
    const n = a.length / K;
    heldOutTokens = n;
    // layerBalance counts tokens by its entropy array; only the load figures are used here.
    const before = layerBalance(L, a, new Float32Array(n), E, K);
    const after = layerBalance(L, b, new Float32Array(b.length / K), E, K);
    balance.push({ layer: L, experts: E, topK: K, before: { cv: before.cv, maxVio: before.maxVio }, after: { cv: after.cv, maxVio: after.maxVio } });
    loads.set(L, { before: before.load, after: after.load, slots: n * K });
  }
  const experts: GrowthExpert[] = [];
  const byLayer = new Map<number, NewExpert[]>();
  for (const e of g.experts) byLayer.set(e.layer, [...(byLayer.get(e.layer) ?? []), e]);
  for (const [L, list] of [...byLayer].sort((x, y) => x[0] - y[0])) {
    if (c.layers[L]?.kind !== 'moe') continue;
    if (signal?.aborted) break;
    await withUnitWeights(engine, L, undefined, async (read) => {
      for (const e of list) {
        const before = { d: 0, w: 0 };
        const after = { d: 0, w: 0 };
        for (const name of [expertFc1SliceName(L, e.expert), expertFc2SliceName(L, e.expert)]) {
          const init = read(name).data;
          const now = trained.get(name)?.data ?? init;
          const ref = e.sourceExpert === null ? init : read(name === expertFc1SliceName(L, e.expert) ? expertFc1SliceName(L, e.sourceExpert) : expertFc2SliceName(L, e.sourceExpert)).data;
          sumSquares(init, ref, before);
          sumSquares(now, ref, after);
        }
        const ld = loads.get(L);
        const share = (x: number): { before: number; after: number } | undefined => (ld && ld.slots > 0 ? { before: ld.before[x]! / ld.slots, after: ld.after[x]! / ld.slots } : undefined);
        const s = share(e.expert);
        const ss = e.sourceExpert === null ? undefined : share(e.sourceExpert);
        experts.push({
          layer: L,
          expert: e.expert,
          from: e.from,
          ...(s ? { share: s } : {}),
          ...(ss ? { sourceShare: ss } : {}),
          weightChange: { reference: e.sourceExpert === null ? 'as created' : 'source expert', before: relative(before), after: relative(after) },
        });
      }
    });
  }
  const perplexity = held && held.before.targets > 0 ? { before: Math.exp(held.before.loss), after: Math.exp(held.after.loss) } : undefined;
  return {
    operation: g.operation,
    method: g.method,
    source: g.source,
    ...(g.creation ? { creation: g.creation } : {}),
    functionRule: g.functionRule,
    ...(perplexity ? { perplexity } : {}),
    heldOutTokens,
    balance,
    experts,
  };
}
