// What the demo model does per domain (issue #12), measured on held-out text: bits per character, expert
// use (top-1 counts per MoE layer), the mutual information between domain and top-1 expert, and load balance.
import { MoeEngine } from '../../src/engine/moeEngine';
import { layerBalance } from '../../src/metrics/balance';
import { routingOf } from '../../src/engine/model/modelConfig';

export interface DomainText {
  readonly domain: string;
  /** Documents of held-out text. */
  readonly docs: readonly string[];
}

export interface DomainResult {
  readonly domain: string;
  readonly tokens: number;
  /** Characters covered by the predicted tokens (each chunk's text after its first token). */
  readonly chars: number;
  /** Mean next-token cross-entropy, nats. */
  readonly loss: number;
  readonly bitsPerChar: number;
  /** [MoE layer][expert] how often the expert was a token's top-1 choice, over the first `miTokens` tokens. */
  readonly top1: number[][];
}

export interface DomainStats {
  readonly domains: DomainResult[];
  readonly moeLayers: number[];
  /** Tokens per domain entering the mutual information (the same for every domain, so H(domain) = log2 D). */
  readonly miTokens: number;
  /** Per MoE layer: I(domain; top-1 expert) in bits. */
  readonly mutualInformation: number[];
  /** Per MoE layer, over every measured token of all domains. */
  readonly balance: { readonly cv: number; readonly maxVio: number }[];
}

/** Runs `modelDir` over each domain's documents in chunks of at most `chunkTokens`, at most `maxTokens` per domain. */
export async function measureDomains(modelDir: string, texts: readonly DomainText[], opts: { chunkTokens?: number; maxTokens?: number; threads?: number } = {}): Promise<DomainStats> {
  const chunkTokens = opts.chunkTokens ?? 512;
  const maxTokens = opts.maxTokens ?? 65536;
  const engine = await MoeEngine.load(modelDir, opts.threads === undefined ? {} : { threads: opts.threads });
  try {
    const rule = routingOf(engine.config);
    if (!rule) throw new Error(`${modelDir} has no MoE layer`);
    const E = rule.numExperts;
    const k = rule.topK;
    const perDomain: { domain: string; tokens: number; chars: number; nats: number; top1Seq: Int32Array[][] }[] = [];
    const balanceExperts: Int32Array[][] = [];
    let moeLayers: number[] = [];
    for (const t of texts) {
      let tokens = 0;
      let chars = 0;
      let nats = 0;
      const top1Seq: Int32Array[][] = [];
      for (const doc of t.docs) {
        if (tokens >= maxTokens) break;
        const spans = engine.tokenizer.encode(doc, { addSpecialTokens: false });
        for (let s = 0; s + 1 < spans.length && tokens < maxTokens; s += chunkTokens) {
          const chunk = spans.slice(s, Math.min(spans.length, s + chunkTokens, s + 1 + maxTokens - tokens));
          if (chunk.length < 2) break;
          const r = await engine.forward(chunk.map((x) => x.id), { routing: true, hidden: false, logits: false });
          moeLayers = r.routing.map((l) => l.layer);
          for (const lp of r.logprobs) nats -= lp;
          tokens += chunk.length - 1;
          chars += chunk[chunk.length - 1]!.end - chunk[0]!.end;
          const perLayer = r.routing.map((l) => {
            const top = new Int32Array(chunk.length);
            for (let i = 0; i < chunk.length; i++) top[i] = l.experts.data[i * k]!;
            return top;
          });
          top1Seq.push(perLayer);
          balanceExperts.push(r.routing.map((l) => Int32Array.from(l.experts.data)));
        }
      }
      perDomain.push({ domain: t.domain, tokens, chars, nats, top1Seq });
    }
    const miTokens = Math.min(...perDomain.map((d) => d.top1Seq.reduce((a, s) => a + (s[0]?.length ?? 0), 0)));
    const domains: DomainResult[] = perDomain.map((d) => {
      const top1 = moeLayers.map((_, li) => {
        const counts = new Array<number>(E).fill(0);
        let left = miTokens;
        for (const seq of d.top1Seq) {
          const row = seq[li]!;
          for (let i = 0; i < row.length && left > 0; i++, left--) counts[row[i]!]!++;
        }
        return counts;
      });
      return { domain: d.domain, tokens: d.tokens, chars: d.chars, loss: d.nats / d.tokens, bitsPerChar: d.nats / Math.LN2 / d.chars, top1 };
    });
    const mutualInformation = moeLayers.map((_, li) => mutualInformationBits(domains.map((d) => d.top1[li]!)));
    const balance = moeLayers.map((layer, li) => {
      const all = balanceExperts.map((seq) => seq[li]!);
      const experts = new Int32Array(all.reduce((a, x) => a + x.length, 0));
      let o = 0;
      for (const x of all) {
        experts.set(x, o);
        o += x.length;
      }
      const b = layerBalance(layer, experts, new Float32Array(experts.length / k), E, k);
      return { cv: b.cv, maxVio: b.maxVio };
    });
    return { domains, moeLayers, miTokens, mutualInformation, balance };
  } finally {
    await engine.dispose();
  }
}

/** I(D; X) in bits from a contingency table counts[d][x]. */
export function mutualInformationBits(counts: readonly (readonly number[])[]): number {
  const n = counts.reduce((a, row) => a + row.reduce((b, c) => b + c, 0), 0);
  if (n === 0) return 0;
  const pd = counts.map((row) => row.reduce((a, c) => a + c, 0) / n);
  const px = counts[0]!.map((_, x) => counts.reduce((a, row) => a + row[x]!, 0) / n);
  let mi = 0;
  counts.forEach((row, d) =>
    row.forEach((c, x) => {
      if (c > 0) mi += (c / n) * Math.log2(c / n / (pd[d]! * px[x]!));
    }),
  );
  return mi;
}
