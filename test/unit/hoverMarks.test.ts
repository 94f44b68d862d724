// The hover's ⚠ marks need evidence: a short ordinary document gives none, a planted rare expert on a long
// document gives exactly that one, and a loaded profile is the better evidence. Routing is generated the
// way a router makes it: softmax over per-expert biases plus per-token noise, top-k, renormalised weights.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { hoverMarkdown } from '../../src/features/hover/hoverMarkdown';
import { routingMarks, significantlyLow, type RoutingBaseline } from '../../src/features/hover/unusualRouting';
import type { LayerProfile } from '../../src/protocol/expertOps';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

interface Planted {
  readonly layer: number;
  readonly expert: number;
  readonly bias: number;
}

/** T tokens, E experts, top-k, MoE layers 0..L-1; per-expert biases ~N(0, 0.4), token noise ~N(0, noise). */
function routedDocument(T: number, opts: { E?: number; k?: number; L?: number; seed?: number; noise?: number; planted?: Planted } = {}): DocumentRouting {
  const { E = 8, k = 2, L = 4, seed = 1, noise = 1.2, planted } = opts;
  const r = rng(seed);
  const tokens = Array.from({ length: T }, (_, t) => ({ id: 100 + (t % 50), text: ` w${t}`, start: 4 * t, end: 4 * t + 4 }));
  const layers = Array.from({ length: L }, (_, layer) => {
    const bias = Array.from({ length: E }, (_, e) => (planted && planted.layer === layer && planted.expert === e ? planted.bias : 0.4 * gaussian(r)));
    const experts = new Int32Array(T * k);
    const weights = new Float32Array(T * k);
    const entropy = new Float32Array(T);
    for (let t = 0; t < T; t++) {
      const z = bias.map((b) => b + noise * gaussian(r));
      const m = Math.max(...z);
      const ex = z.map((v) => Math.exp(v - m));
      const sum = ex.reduce((a, b) => a + b, 0);
      const p = ex.map((v) => v / sum);
      entropy[t] = -p.reduce((a, q) => a + (q > 0 ? q * Math.log(q) : 0), 0);
      const top = p.map((q, e) => [q, e] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
      const s = top.reduce((a, [q]) => a + q, 0);
      top.forEach(([q, e], j) => {
        experts[t * k + j] = e;
        weights[t * k + j] = q / s;
      });
    }
    return { layer, experts, weights, entropy };
  });
  return { uri: 'file:///w/doc.prompt', version: 1, tokens, layers, numExperts: E, topK: k, complete: true, known: new Uint8Array(T).fill(1) };
}

/** Every (token, layer, short) mark of a document. */
function allMarks(doc: DocumentRouting, baseline?: RoutingBaseline): { t: number; layer: number; short: string }[] {
  return doc.tokens.flatMap((_, t) => doc.layers.flatMap((l) => routingMarks(doc, l, t, baseline).map((m) => ({ t, layer: l.layer, short: m.short }))));
}

/** The rule the hover had before: a chosen expert at ≤ half its fair load, or entropy > 0.85·ln E. */
function oldRuleFires(doc: DocumentRouting, t: number): boolean {
  const { topK: k, numExperts: E } = doc;
  return doc.layers.some((l) => {
    const loads = new Array<number>(E).fill(0);
    for (let i = 0; i < doc.tokens.length * k; i++) loads[l.experts[i]!]!++;
    const fair = (doc.tokens.length * k) / E;
    return l.entropy[t]! / Math.log(E) > 0.85 || [0, 1].some((j) => loads[l.experts[t * k + j]!]! <= 0.5 * fair);
  });
}

function layerProfile(layer: number, tokens: number, count: number[], topK = 2): LayerProfile {
  const E = count.length;
  const zeros = (): number[] => new Array<number>(E).fill(0);
  return { layer, numExperts: E, topK, tokens, count, gateSum: zeros(), probSum: zeros(), eanSum: zeros(), reapSum: zeros(), maxNorm: zeros(), logitSum: zeros(), logitGram: new Array<number>(E * E).fill(0) };
}

describe('hover marks need evidence', () => {
  it('a short ordinary document gives no marks (the old rule marked most of its tokens)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const doc = routedDocument(40, { seed });
      assert.deepEqual(allMarks(doc), [], `seed ${seed}`);
      for (let t = 0; t < doc.tokens.length; t++) assert.doesNotMatch(hoverMarkdown(doc, t, 0), /⚠/);
      const old = doc.tokens.filter((_, t) => oldRuleFires(doc, t)).length;
      assert.ok(old >= 20, `seed ${seed}: the old rule marked ${old} of 40 tokens`);
    }
  });

  it('an ordinary long document gives no rare marks, and high entropy only for its top 5%', () => {
    const doc = routedDocument(2130, { seed: 7 });
    const marks = allMarks(doc);
    assert.deepEqual(marks.filter((m) => m.short.startsWith('rare')), []);
    for (const l of doc.layers) {
      const high = marks.filter((m) => m.layer === l.layer && m.short === 'high entropy').length;
      assert.ok(high <= 0.05 * doc.tokens.length, `layer ${l.layer}: ${high} high-entropy marks`);
    }
  });

  it('a planted rare expert on a long document gives one mark, saying what it compares against', () => {
    const doc = routedDocument(2130, { seed: 11, planted: { layer: 1, expert: 7, bias: -3.5 } });
    const rare = allMarks(doc).filter((m) => m.short.startsWith('rare'));
    assert.ok(rare.length > 0, 'tokens that chose expert 7 in layer 1 are marked');
    assert.deepEqual([...new Set(rare.map((m) => `${m.layer}:${m.short}`))], ['1:rare expert 7'], 'and nothing else is rare');
    const t = rare[0]!.t;
    const md = hoverMarkdown(doc, t, 1);
    const l1 = md.split('\n').find((line) => line.startsWith('| ⚠ **L1'));
    assert.ok(l1 !== undefined && l1.includes('_rare expert 7'), md);
    const loads = Array.from(doc.layers[1]!.experts).filter((e) => e === 7).length;
    const share = ((100 * loads) / 2130).toFixed(1).replace(/\.0$/, '');
    assert.match(md, new RegExp(`- ⚠ L1: rare: expert 7 was chosen for ${share.replace('.', '\\.')}% of this document's 2,130 tokens vs 25% if balanced \\(top-2 of 8\\)`));
  });

  it('high entropy is relative to the document: above its 95th percentile and 0.85·ln E', () => {
    const doc = routedDocument(400, { seed: 5, noise: 4 }); // a confident router: entropies well below 0.85·ln 8
    assert.deepEqual(allMarks(doc), []);
    const l = doc.layers[2]!;
    l.entropy[17] = 0.98 * Math.log(8); // one token where the router hesitates
    const md = hoverMarkdown(doc, 17, 2);
    assert.match(md, /\| ⚠ \*\*L2 ◂\*\* \|.*_high entropy_ \|/);
    assert.match(md, /- ⚠ L2: high entropy: 2\.04 nats, above the 95th percentile of this document's 400 tokens \(\d\.\d\d\) and above 0\.85·ln 8 = 1\.77/);
    assert.equal(allMarks(doc).length, 1);
  });

  it('with a profile, rarity is judged on the profile\'s tokens, even for a short document', () => {
    const doc = routedDocument(40, { seed: 3 });
    const l = doc.layers[0]!;
    const t = Array.from({ length: 40 }, (_, i) => i).find((i) => l.experts[i * 2] === 5 || l.experts[i * 2 + 1] === 5)!;
    const rareIn = (counts: number[]): RoutingBaseline => ({ file: '/w/.moe/run.profile.json', profile: { layers: [layerProfile(0, 100_000, counts)] } });
    // Expert 5 is chosen for 0.3% of the profile's tokens: rare, on overwhelming evidence.
    const md = hoverMarkdown(doc, t, 0, rareIn([30_000, 30_000, 30_000, 30_000, 30_000, 300, 24_700, 25_000]));
    assert.match(md, /- ⚠ L0: rare: expert 5 was chosen for 0\.3% of the 100,000 tokens of profile `run\.profile\.json` vs 25% if balanced \(top-2 of 8\)/);
    // A balanced profile: nothing is rare, whatever this short document does.
    assert.doesNotMatch(hoverMarkdown(doc, t, 0, rareIn(new Array<number>(8).fill(25_000))), /rare/);
    // A profile of another shape (or without the layer) is not evidence: the document decides.
    const other: RoutingBaseline = { file: '/w/p.json', profile: { layers: [layerProfile(0, 100_000, [50_000, 50_000, 50_000, 50_000])] } };
    assert.doesNotMatch(hoverMarkdown(doc, t, 0, other), /⚠/);
  });

  it('a hostile profile file name cannot inject Markdown', () => {
    const doc = routedDocument(40, { seed: 3 });
    const l = doc.layers[0]!;
    const t = Array.from({ length: 40 }, (_, i) => i).find((i) => l.experts[i * 2] === 5 || l.experts[i * 2 + 1] === 5)!;
    const md = hoverMarkdown(doc, t, 0, { file: '/w/x\n\n[y](command:moeWorkbench.selectExpert?[0,1]).json', profile: { layers: [layerProfile(0, 100_000, [30_000, 30_000, 30_000, 30_000, 30_000, 300, 24_700, 25_000])] } });
    assert.match(md, /profile `x↵↵\[y\]\(command:moeWorkbench\.selectExpert\?\[0,1\]\)\.json`/);
  });

  it('the binomial evidence: enough expected tokens and a shortfall beyond chance', () => {
    assert.equal(significantlyLow(0, 40, 0.25), false, 'expected 10 < 20: no evidence');
    assert.equal(significantlyLow(6, 80, 0.25), false, 'more than a quarter of the 20 expected');
    assert.equal(significantlyLow(5, 80, 0.25), true, 'P(X ≤ 5) ≈ 1e-4');
    assert.equal(significantlyLow(250, 2000, 0.25), false, 'half the balanced load is ordinary imbalance');
    assert.equal(significantlyLow(120, 2000, 0.25), true);
  });
});
