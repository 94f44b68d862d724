// A plan's impact on an open, annotated document: the document's routing (old expert ids, as the editor
// shows it) fed to planImpact. Only tokens whose routing is known count (a long document fills in pass by
// pass); the most affected tokens keep the document's token indices, so they can be revealed. Pure.
import { planImpact, type RoutedTokens } from '../../engine/experts/planImpact';
import type { ExpertPlan, PlanImpact } from '../../protocol/expertOps';
import type { DocumentRouting } from '../annotation/documentRouting';

export interface DocumentImpact {
  readonly uri: string;
  readonly version: number;
  readonly impact: PlanImpact;
  /** UTF-16 spans (document offsets) of the tokens in `impact.worst`, by their document token index. */
  readonly spans: ReadonlyMap<number, { readonly start: number; readonly end: number }>;
  /** Tokens of the document without routing yet (not counted). */
  readonly unknownTokens: number;
}

/** Undefined when the document's routing is not for the plan's model (expert count or layers differ). */
export function documentImpact(plan: ExpertPlan, doc: DocumentRouting, worstCount = 20): DocumentImpact | undefined {
  const planLayers = new Set(plan.layers.map((l) => l.layer));
  if (plan.layers.some((l) => l.numExperts !== doc.numExperts || l.topK !== doc.topK)) return undefined;
  if (!doc.layers.every((l) => planLayers.has(l.layer))) return undefined;
  const known: number[] = [];
  for (let t = 0; t < doc.tokens.length; t++) if (doc.known[t] === 1) known.push(t);
  const k = doc.topK;
  const routed: RoutedTokens = {
    tokens: known.map((t) => doc.tokens[t]!.text),
    starts: known.map((t) => doc.tokens[t]!.start),
    layers: doc.layers.map((l) => {
      const experts = new Int32Array(known.length * k);
      const weights = new Float32Array(known.length * k);
      known.forEach((t, i) => {
        experts.set(l.experts.subarray(t * k, t * k + k), i * k);
        weights.set(l.weights.subarray(t * k, t * k + k), i * k);
      });
      return { layer: l.layer, topK: k, experts, weights };
    }),
  };
  const raw = planImpact(plan, routed, worstCount);
  const worst = raw.worst.map((w) => ({ ...w, index: known[w.index]! }));
  const spans = new Map(worst.map((w) => [w.index, { start: doc.tokens[w.index]!.start, end: doc.tokens[w.index]!.end }] as const));
  return { uri: doc.uri, version: doc.version, impact: { ...raw, worst }, spans, unknownTokens: doc.tokens.length - known.length };
}
