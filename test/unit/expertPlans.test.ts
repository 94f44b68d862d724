// Planning from a profile (issue #4): per-layer and global pruning targets, protection, refusals below
// top-k, MC-SMoE grouping by router-logit similarity with usage weights, and the impact on routed tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expertStatistic } from '../../src/engine/experts/expertStatistics';
import { planImpact } from '../../src/engine/experts/planImpact';
import { logitSimilarity, planMerge } from '../../src/engine/experts/planMerge';
import { planPrune } from '../../src/engine/experts/planPrune';
import type { ExpertProfile, LayerProfile } from '../../src/protocol/expertOps';
import { MoeError } from '../../src/protocol/moeError';

function layer(L: number, count: number[], opts: Partial<LayerProfile> = {}): LayerProfile {
  const E = count.length;
  const gram = new Array<number>(E * E).fill(0);
  for (let e = 0; e < E; e++) gram[e * E + e] = 1;
  return {
    layer: L,
    numExperts: E,
    topK: 2,
    tokens: count.reduce((a, b) => a + b, 0) / 2,
    count,
    gateSum: count.map((c) => c * 0.5),
    probSum: count.map((c) => c * 0.1),
    eanSum: count.map((c, e) => c * (e + 1)),
    reapSum: count.map((c, e) => c * 0.5 * (e + 1)),
    maxNorm: count.map((_, e) => e + 1),
    logitSum: new Array<number>(E).fill(0),
    logitGram: gram,
    ...opts,
  };
}

function profile(layers: LayerProfile[]): ExpertProfile {
  return {
    format: 'moe-workbench.profile',
    version: 1,
    createdAt: '',
    model: { sha256: 'x', name: 'm', dir: '/m', modelType: 'mixtral' },
    data: { files: [], documents: [], sha256: 'd', chunkTokens: 8, chunks: 1, tokens: 10, truncated: false },
    runMs: 1,
    layers,
    sample: { tokens: [], doc: [], offset: [], experts: [], weights: [] },
  };
}

const ERR = (re: RegExp) => (e: MoeError) => e instanceof MoeError && e.code === 'E_INPUT' && re.test(e.message);

describe('expert statistics', () => {
  it('derive means from sums, 0 for never-selected experts', () => {
    const l = layer(0, [4, 0, 2, 2]);
    assert.deepEqual(expertStatistic(l, 'frequency'), [1, 0, 0.5, 0.5]);
    assert.deepEqual(expertStatistic(l, 'reap'), [0.5, 0, 1.5, 2]);
    assert.deepEqual(expertStatistic(l, 'normMean'), [1, 0, 3, 4]);
    assert.deepEqual(expertStatistic(l, 'ean'), [4, 0, 6, 8]);
  });
});

describe('planPrune', () => {
  const p = profile([layer(0, [10, 1, 7, 3, 0, 5]), layer(1, [2, 9, 4, 6, 8, 1])]);
  it('keeps the top-N by score per layer, in old-id order', () => {
    const plan = planPrune(p, { method: 'frequency', target: { kind: 'keep', keep: 4 }, protect: [] });
    assert.deepEqual(plan.layers.map((l) => l.experts.map((x) => x.routerRow)), [[0, 2, 3, 5], [1, 2, 3, 4]]);
    assert.deepEqual(plan.layers.map((l) => l.removed), [[1, 4], [0, 5]]);
    assert.ok(plan.layers.every((l) => l.experts.every((x) => x.sources.length === 1 && x.sources[0]!.weight === 1)));
    assert.match(plan.description, /frequency, keep 4 per layer/);
  });
  it('ranks by the method: REAP differs from frequency', () => {
    // REAP = 0.5·(e+1) for every selected expert: highest ids win, unselected expert 4 scores 0.
    const plan = planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [] });
    assert.deepEqual(plan.layers[0]!.experts.map((x) => x.routerRow), [2, 3, 5]);
  });
  it('prunes round(ratio·E) per layer', () => {
    const plan = planPrune(p, { method: 'gate', target: { kind: 'ratio', ratio: 0.25 }, protect: [] }); // round(1.5) = 2
    assert.ok(plan.layers.every((l) => l.experts.length === 4));
  });
  it('protects experts whatever their score', () => {
    const plan = planPrune(p, { method: 'frequency', target: { kind: 'keep', keep: 3 }, protect: [{ layer: 0, expert: 4 }] });
    assert.deepEqual(plan.layers[0]!.experts.map((x) => x.routerRow), [0, 2, 4]);
  });
  it('global ratio removes the lowest normalised scores across layers, keeping a minimum per layer', () => {
    const q = profile([layer(0, [50, 50, 1, 1, 1, 1]), layer(1, [10, 10, 10, 10, 10, 10])]);
    const plan = planPrune(q, { method: 'frequency', target: { kind: 'global', ratio: 4 / 12, minPerLayer: 2 }, protect: [] });
    assert.deepEqual(plan.layers.map((l) => l.experts.length), [2, 6]);
    const floor = planPrune(q, { method: 'frequency', target: { kind: 'global', ratio: 0.5, minPerLayer: 3 }, protect: [] });
    assert.deepEqual(floor.layers.map((l) => l.experts.length), [3, 3]);
  });
  it('refuses targets below top-k, bad ratios, unknown protected experts', () => {
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 1 }, protect: [] }), ERR(/leave 1 experts in layer 0, fewer than the 2/));
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'ratio', ratio: 0.9 }, protect: [] }), ERR(/fewer than the 2/));
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'ratio', ratio: 1 }, protect: [] }), ERR(/\[0, 1\)/));
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [{ layer: 7, expert: 0 }] }), ERR(/layer 7 is not an MoE layer/));
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 3 }, protect: [{ layer: 0, expert: 6 }] }), ERR(/experts 0\.\.5/));
    assert.throws(() => planPrune(p, { method: 'reap', target: { kind: 'keep', keep: 2 }, protect: [0, 1, 2].map((e) => ({ layer: 0, expert: e })) }), ERR(/3 protected experts but only 2/));
  });
});

describe('planMerge (MC-SMoE)', () => {
  it('groups around the most used experts by router-logit similarity, weights by usage', () => {
    // Columns: 0 and 2 point the same way, 1 and 3 the same way; 0 and 1 are the most used.
    const E = 4;
    const cols = [
      [1, 0],
      [0, 1],
      [0.9, 0.1],
      [0.2, 0.8],
    ];
    const gram = new Array<number>(E * E);
    for (let i = 0; i < E; i++) for (let j = 0; j < E; j++) gram[i * E + j] = cols[i]![0]! * cols[j]![0]! + cols[i]![1]! * cols[j]![1]!;
    const l = layer(0, [40, 30, 20, 10], { logitGram: gram });
    assert.ok(logitSimilarity(l, 0, 2) > logitSimilarity(l, 1, 2));
    const plan = planMerge(profile([l]), { keep: 2 });
    const [a, b] = plan.layers[0]!.experts;
    assert.deepEqual(a!.members, [0, 2]);
    assert.equal(a!.routerRow, 0);
    assert.deepEqual(a!.sources.map((s) => [s.expert, s.weight]), [[0, 0.4], [2, 0.2]]);
    assert.deepEqual(b!.members, [1, 3]);
    assert.throws(() => planMerge(profile([l]), { keep: 1 }), ERR(/fewer than the 2/));
  });
});

describe('planImpact', () => {
  it('counts tokens with a removed or absorbed expert in their top-k, and the gate mass they lose', () => {
    const p = profile([layer(0, [10, 1, 7, 3]), layer(3, [1, 9, 4, 6])]);
    const plan = planPrune(p, { method: 'frequency', target: { kind: 'keep', keep: 3 }, protect: [] }); // removes 1 in layer 0, 0 in layer 3
    const impact = planImpact(plan, {
      tokens: ['a', 'b', 'c'],
      layers: [
        { layer: 0, topK: 2, experts: [0, 1, 2, 3, 0, 2], weights: [0.7, 0.3, 0.6, 0.4, 0.5, 0.5] },
        { layer: 3, topK: 2, experts: [1, 2, 0, 3, 3, 1], weights: [0.5, 0.5, 0.9, 0.1, 0.8, 0.2] },
      ],
    });
    assert.equal(impact.tokens, 3);
    assert.equal(impact.affectedTokens, 2); // a (layer 0), b (layer 3)
    assert.deepEqual(impact.perLayer.map((l) => l.affected), [1, 1]);
    assert.deepEqual(impact.worst.map((w) => [w.text, w.massLost, w.layers]), [['b', 0.9, [3]], ['a', 0.3, [0]]]);
  });
});
