// Routing drift of a fine-tuning (issue #10 §4): per MoE layer, the mean over held-out tokens of the
// Jaccard index |A ∩ B| / |A ∪ B| of a token's top-k expert sets before (A) and after (B). 1 = unchanged.

export interface LayerDrift {
  readonly layer: number;
  /** Mean Jaccard index over tokens. */
  readonly jaccard: number;
  /** Share of tokens whose set changed at all. */
  readonly changed: number;
  readonly tokens: number;
}

/** `before[i]` and `after[i]`: sequence i's chosen experts per MoE layer, [T, K] row-major. */
export function routingDrift(before: readonly ReadonlyMap<number, BigInt64Array>[], after: readonly ReadonlyMap<number, BigInt64Array>[], topK: ReadonlyMap<number, number>): LayerDrift[] {
  const out: LayerDrift[] = [];
  for (const [layer, K] of [...topK].sort((a, b) => a[0] - b[0])) {
    let sum = 0;
    let changed = 0;
    let tokens = 0;
    for (let i = 0; i < Math.min(before.length, after.length); i++) {
      const a = before[i]!.get(layer);
      const b = after[i]!.get(layer);
      if (!a || !b || a.length !== b.length) continue;
      for (let t = 0; t * K < a.length; t++) {
        const A = new Set(Array.from(a.subarray(t * K, (t + 1) * K), Number));
        const B = new Set(Array.from(b.subarray(t * K, (t + 1) * K), Number));
        let inter = 0;
        for (const e of A) if (B.has(e)) inter++;
        const j = inter / (A.size + B.size - inter);
        sum += j;
        if (j < 1) changed++;
        tokens++;
      }
    }
    out.push({ layer, jaccard: tokens === 0 ? Number.NaN : sum / tokens, changed: tokens === 0 ? Number.NaN : changed / tokens, tokens });
  }
  return out;
}
