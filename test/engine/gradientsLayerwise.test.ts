// The layer-wise gradient runner (computeGradients: stored activations, none, or room for one layer)
// against the whole model as one differentiated graph
// (wholeGraphGradients): same losses and gradients on the MoE fixtures with the load-balancing loss, the
// z-loss and a loss mask on — which checks the per-layer seeds of the pooled losses (seed_probs =
// aux_coef · E · frac / N, z_scale = z_coef / N) — and backward only from the lowest trainable layer up.
// Both are float32 with the same ops in a different order: gradients agree to 1e-4 of each tensor's
// largest entry (observed <= 7e-7), losses to 1e-5.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { computeGradients, type GradientResult } from '../../src/engine/training/computeGradients';
import { releaseTrainingSessions } from '../../src/engine/training/sessionCache';
import { wholeGraphGradients } from '../../src/engine/training/wholeGraphGradients';
import type { Progress } from '../../src/protocol/engineProtocol';
import { fixture } from '../support/paths';
import { everyParameter } from '../support/referenceGradients';

const IDS = [3, 71, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110, 32, 102, 111, 120];

function compare(layered: GradientResult, whole: GradientResult, label: string): void {
  for (const k of ['loss', 'lmLoss', 'auxLoss'] as const) assert.ok(Math.abs(layered[k] - whole[k]) < 1e-5, `${label} ${k}: ${layered[k]} vs ${whole[k]}`);
  assert.deepEqual([...layered.grads.keys()].sort(), [...whole.grads.keys()].sort());
  for (const [n, g] of layered.grads) {
    const w = whole.grads.get(n)!;
    assert.deepEqual(g.dims, w.dims, n);
    let d = 0;
    let m = 0;
    w.data.forEach((v, i) => {
      d = Math.max(d, Math.abs(v - g.data[i]!));
      m = Math.max(m, Math.abs(v));
    });
    assert.ok(d <= 1e-4 * m, `${label} ${n}: max |diff| ${d}, max |grad| ${m}`);
  }
}

describe('layer-wise gradients equal the whole-graph gradients', () => {
  // The MoE families (the dense ones' layer-wise path is checked against float64 in gradients.test.ts).
  for (const name of ['mixtral', 'qwen2_moe', 'olmoe', 'granitemoe']) {
    it(`${name}: aux 0.3, z 0.02, loss mask`, async () => {
      const engine = await MoeEngine.load(fixture(name));
      try {
        const opts = { trainable: everyParameter(engine.config), auxLossCoef: 0.3, zLossCoef: 0.02, lossMask: Float32Array.from({ length: IDS.length - 1 }, (_, i) => (i % 5 === 0 ? 0 : 1)) };
        const whole = await wholeGraphGradients(engine, IDS, opts);
        // Stored activations (default), none (every layer recomputes its forward), and room for one layer.
        const steps: string[] = [];
        const onProgress = (p: Progress): void => void steps.push(p.message ?? '');
        const recomputed = (): number => steps.splice(0).filter((s) => s.endsWith('backward (forward recomputed)')).length;
        compare(await computeGradients(engine, IDS, { ...opts, onProgress }), whole, 'stored activations');
        const oneLayer = Number(/^layer 0 forward \(kept (\d+) bytes/.exec(steps.find((s) => s.startsWith('layer 0 forward'))!)?.[1]);
        assert.equal(recomputed(), 0, 'no layer recomputed by default');
        if (name !== 'mixtral' && name !== 'qwen2_moe') return; // the other modes on two families (time)
        compare(await computeGradients(engine, IDS, { ...opts, onProgress, activationBytes: 0 }), whole, 'recomputed');
        assert.equal(recomputed(), engine.config.numLayers);
        const sameShape = engine.config.layers.every((l) => JSON.stringify(l) === JSON.stringify(engine.config.layers[0]));
        compare(await computeGradients(engine, IDS, { ...opts, onProgress, activationBytes: oneLayer }), whole, 'room for one layer');
        if (sameShape) assert.equal(recomputed(), engine.config.numLayers - 1, `layers recomputed with room for ${oneLayer} bytes`);
      } finally {
        await releaseTrainingSessions(engine);
        await engine.dispose();
      }
    });
  }

  it('runs backward only from the lowest trainable layer up (mixtral, expert 1:2 trainable)', async () => {
    const engine = await MoeEngine.load(fixture('mixtral'));
    try {
      const steps: string[] = [];
      const onProgress = (p: Progress): void => void steps.push(p.message ?? '');
      await computeGradients(engine, IDS, { trainable: { tensors: new Set(), experts: new Map([[1, new Set([2])]]) }, onProgress });
      const unit = (s: string): string => s.replace(/ \(.*\)$/, '');
      assert.deepEqual(steps.filter((s) => /^layer|^LM head/.test(s)).map(unit), ['layer 0 forward', 'layer 1 forward', 'LM head backward', 'layer 1 backward']);
      assert.ok(steps.some((s) => /^layer 1 forward \(kept \d+ bytes/.test(s)) && !steps.some((s) => s.startsWith('layer 0 forward (kept')), 'only the trainable layer keeps activations');
      steps.length = 0;
      await computeGradients(engine, IDS, { trainable: { tensors: new Set(['model.embed_tokens.weight']), experts: new Map() }, onProgress });
      assert.deepEqual(steps.filter((s) => /backward/.test(s)), ['LM head backward', 'layer 1 backward', 'layer 0 backward']);
      steps.length = 0;
      const headOnly = await computeGradients(engine, IDS, { trainable: { tensors: new Set(['lm_head.weight']), experts: new Map() }, onProgress });
      assert.deepEqual(steps.filter((s) => /backward/.test(s)), ['LM head backward']);
      assert.deepEqual([...headOnly.grads.keys()], ['lm_head.weight']);
    } finally {
      await releaseTrainingSessions(engine);
      await engine.dispose();
    }
  });

  for (const name of ['granitemoe']) {
    it(`${name}: onGradient streams every tensor as its layer finishes, top layer first, the embedding last`, async () => {
      const engine = await MoeEngine.load(fixture(name));
      try {
        const trainable = everyParameter(engine.config);
        const kept = await computeGradients(engine, IDS, { trainable, auxLossCoef: 0.1 });
        const streamed: [string, { dims: readonly number[]; data: Float32Array }][] = [];
        const r = await computeGradients(engine, IDS, { trainable, auxLossCoef: 0.1, onGradient: (n, g) => void streamed.push([n, g]) });
        assert.equal(r.grads.size, 0, 'nothing kept when streaming');
        assert.equal(r.loss, kept.loss);
        assert.deepEqual(streamed.map(([n]) => n).sort(), [...kept.grads.keys()].sort());
        for (const [n, g] of streamed) assert.deepEqual(g.data, kept.grads.get(n)!.data, n);
        const layerOf = (n: string): number => Number(/^model\.layers\.(\d+)\./.exec(n)?.[1] ?? NaN);
        const layers = streamed.map(([n]) => layerOf(n)).filter((L) => !Number.isNaN(L));
        assert.deepEqual(layers, [...layers].sort((a, b) => b - a), 'layers from the top down');
        assert.equal(streamed.at(-1)![0], 'model.embed_tokens.weight');
      } finally {
        await releaseTrainingSessions(engine);
        await engine.dispose();
      }
    });
  }

  for (const name of ['qwen3_moe']) {
    it(`${name}: the same gradients whatever the weight mode (resident, cached with layer 1 kept, streaming)`, async () => {
      const results: GradientResult[] = [];
      for (const mode of [{ weightMode: 'resident' as const }, { weightMode: 'cached' as const, f32Layers: new Set([1]) }, { weightMode: 'streaming' as const }]) {
        const engine = await MoeEngine.load(fixture(name), mode);
        try {
          results.push(await computeGradients(engine, IDS, { trainable: everyParameter(engine.config), auxLossCoef: 0.2 }));
        } finally {
          await releaseTrainingSessions(engine);
          await engine.dispose();
        }
      }
      // The weights reach the graphs as the same float32 values in every mode: bitwise-equal results.
      for (const r of results.slice(1)) {
        assert.equal(r.loss, results[0]!.loss);
        for (const [n, g] of results[0]!.grads) assert.deepEqual(r.grads.get(n)!.data, g.data, n);
      }
    });
  }
});
