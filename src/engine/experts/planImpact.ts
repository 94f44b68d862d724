// What a plan does to tokens, before anything is written: a token is affected in a layer when one of its
// top-k experts is removed (pruning) or folded into another expert (merging); the figure per token is the
// applied gate weight on those experts (`gateMassLost`/`massLost`: lost to a prune, moved to the merged
// expert by a merge; the reports word it by operation). Works on a profile's sample and on an open
// document's routing.
// Each of the most affected tokens carries its line and a little text around it, so it can be found.
import type { AffectedToken, ExpertPlan, PlanImpact } from '../../protocol/expertOps';

/** Characters of context kept on each side of an affected token. */
export const CONTEXT_CHARS = 24;

export interface RoutedTokens {
  /** Token texts in order; the tokens of one document are consecutive and start at its beginning. */
  readonly tokens: readonly string[];
  /** Per token: which document it is in (absent: all one document). Context never crosses documents. */
  readonly doc?: ArrayLike<number>;
  /** Per document index: its name for the reader, e.g. a file path. */
  readonly docNames?: readonly string[];
  /**
   * Per token: its UTF-16 offset in its document. Tokens that share a span (the bytes of one character)
   * all carry its text; with offsets the context shows it once.
   */
  readonly starts?: ArrayLike<number>;
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
    .map((t): AffectedToken => ({ index: t, text: routed.tokens[t]!, massLost: lost[t]!, layers: layersHit[t]!, ...tokenContext(routed, t) }));
  return { tokens: n, affectedTokens: hit.reduce((a, b) => a + b, 0), perLayer, worst };
}

/** The token's document, 1-based line (newlines in the tokens before it) and the text around it. */
export function tokenContext(routed: Pick<RoutedTokens, 'tokens' | 'doc' | 'docNames' | 'starts'>, t: number): Pick<AffectedToken, 'document' | 'line' | 'before' | 'after'> {
  const { tokens, doc, starts } = routed;
  const same = (i: number): boolean => !doc || doc[i] === doc[t];
  // The text token i adds to its document: none when it repeats the previous token's span.
  const adds = (i: number): string => (starts && i > 0 && same(i - 1) && starts[i]! < starts[i - 1]! + tokens[i - 1]!.length ? '' : tokens[i]!);
  let first = t;
  while (first > 0 && same(first - 1)) first--;
  let line = 1;
  for (let i = first; i < t; i++) for (const ch of adds(i)) if (ch === '\n') line++;
  let before = '';
  for (let i = t - 1; i >= first && before.length < CONTEXT_CHARS; i--) {
    if (starts && starts[i]! + tokens[i]!.length > starts[t]!) continue; // the same character as token t
    before = adds(i) + before;
  }
  let after = '';
  for (let i = t + 1; i < tokens.length && same(i) && after.length < CONTEXT_CHARS; i++) after += adds(i);
  const name = doc ? routed.docNames?.[doc[t]!] : undefined;
  return { ...(name !== undefined ? { document: name } : {}), line, before: before.slice(-CONTEXT_CHARS), after: after.slice(0, CONTEXT_CHARS) };
}
