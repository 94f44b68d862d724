// ESFT selection on a real model's routing: scores recomputed here from the forward passes' routing in
// float64 (per sequence, per-token averages), the selection is the minimal prefix, and the parameter count
// is the selected experts'.
// Run: node --import tsx --test test/engine/esftPlan.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { esftPlan } from '../../src/engine/finetune/esftPlan';
import { MoeEngine } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';

describe('esftPlan', () => {
  let engine: MoeEngine;
  before(async () => {
    engine = await MoeEngine.load(fixture('qwen2_moe'));
  });
  after(async () => {
    await engine.dispose();
  });
  const seqs = [Array.from({ length: 30 }, (_, i) => (i * 37 + 11) % 200), Array.from({ length: 7 }, (_, i) => 50 + i)];

  for (const method of ['esft-token', 'esft-gate'] as const) {
    test(`${method}: scores equal the paper's per-token averages of the routing; selection reaches the threshold minimally`, async () => {
      const p = 0.3;
      const plan = await esftPlan(engine, seqs, method, p);
      const routings = await Promise.all(seqs.map((ids) => engine.forward(ids, { routing: true, hidden: false, logits: false })));
      for (const s of plan.scores) {
        const E = s.token.length;
        const want = new Array<number>(E).fill(0);
        for (const r of routings) {
          const lr = r.routing.find((x) => x.layer === s.layer)!;
          const T = lr.experts.rows;
          const K = lr.experts.cols;
          for (let e = 0; e < E; e++) {
            let per = 0;
            for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) if (lr.experts.data[t * K + k] === e) per += method === 'esft-token' ? 1 / K : lr.weights.data[t * K + k]!;
            want[e]! += per / T / routings.length;
          }
        }
        const got = method === 'esft-token' ? s.token : s.gate;
        for (let e = 0; e < E; e++) assert.ok(Math.abs(got[e]! - want[e]!) < 1e-9, `layer ${s.layer} expert ${e}: ${got[e]} vs ${want[e]}`);
        const chosen = plan.selection.get(s.layer)!;
        const sum = chosen.reduce((a, e) => a + got[e]!, 0);
        assert.ok(sum >= p, `layer ${s.layer}: selected mass ${sum} reaches ${p}`);
        const weakest = Math.min(...chosen.map((e) => got[e]!));
        assert.ok(sum - weakest < p, `layer ${s.layer}: without its weakest expert the selection would not reach p`);
        assert.ok(chosen.every((e) => got.every((x, o) => chosen.includes(o) || x <= got[e]!)), 'no unselected expert scores higher than a selected one');
      }
      const c = engine.config;
      const H = c.hiddenSize;
      const want = [...plan.selection].reduce((n, [L, es]) => n + es.length * 3 * H * c.layers[L]!.intermediateSize, 0);
      assert.equal(plan.parameters.trainable, want);
      assert.equal(plan.sequences, 2);
      assert.equal(plan.tokens, 37);
    });
  }

  test('a dense model and empty data are refused', async () => {
    const dense = await MoeEngine.load(fixture('llama'));
    try {
      await assert.rejects(esftPlan(dense, seqs, 'esft-token', 0.2), /has no MoE layer/);
    } finally {
      await dense.dispose();
    }
    await assert.rejects(esftPlan(engine, [], 'esft-token', 0.2), /at least one sequence/);
  });
});
