// The fine-tuning trainer on the fixtures: one SGD step is exactly W - lr·∇W (to float32 rounding) for the
// trained tensors, training reads its own weights (a second step sees the first), a learnable pattern's
// held-out loss falls under AdamW, runs are deterministic, a resumed run equals an uninterrupted one, the
// engine's own weights are untouched, and a non-finite loss stops the step without updating anything.
// Run: node --import tsx --test test/engine/expertTrainer.test.ts
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ExpertTrainer, type TrainerSettings } from '../../src/engine/finetune/expertTrainer';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeEngine } from '../../src/engine/moeEngine';
import { computeGradients } from '../../src/engine/training/computeGradients';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture } from '../support/paths';

const pattern = (n: number, offset = 0): number[] => Array.from({ length: n }, (_, i) => [5, 17, 42, 9, 23, 61, 8][(i + offset) % 7]!);

function hfValues(dir: string, names: Iterable<string>): Map<string, Float32Array> {
  const c = openCheckpoint(dir);
  try {
    return new Map([...names].map((n) => [n, c.tensors.get(n)!.file.readF32(n)]));
  } finally {
    c.close();
  }
}

describe('ExpertTrainer', () => {
  for (const [name, specs] of [
    ['mixtral', ['experts=0:1,1:3', 'routers']],
    ['olmoe', ['experts=1:0', 'routers']],
    ['qwen2_moe', ['shared-experts', 'experts=0:2']],
    ['granitemoe', ['experts=0:2']],
  ] as const) {
    test(`${name}: one SGD step is W - lr·∇W for every trained tensor`, async () => {
      const engine = await MoeEngine.load(fixture(name));
      try {
        const trainable = resolveTrainSpecs([...specs], engine.config);
        const ids = pattern(12);
        const g = await computeGradients(engine, ids, { trainable });
        const trainer = await ExpertTrainer.create(engine, { trainable, optimizer: 'sgd', weightDecay: 0, gradClip: 0, auxLossCoef: 0 });
        const r = await trainer.trainStep([{ ids }], 0.1);
        assert.ok(Math.abs(r.loss - g.loss) <= 1e-6 * Math.abs(g.loss), `loss ${r.loss} vs ${g.loss}`);
        const after = trainer.hfTensors();
        const before = hfValues(fixture(name), after.keys());
        const lr = Math.fround(0.1);
        let checked = 0;
        for (const [t, v] of after) {
          const w = before.get(t)!;
          const grad = g.grads.get(t)!.data;
          for (let i = 0; i < w.length; i++) {
            // Fused tensors (Granite) hold only the trained experts' rows: zero gradient rows are frozen rows.
            if (grad[i] === 0 && v.data[i] === 0) continue;
            assert.equal(v.data[i], Math.fround(w[i]! - Math.fround(lr * grad[i]!)), `${t}[${i}]`);
            checked++;
          }
        }
        assert.ok(checked > 100, `${checked} entries checked`);
      } finally {
        await engine.dispose();
      }
    });
  }

  describe('on mixtral', () => {
    let engine: MoeEngine;
    before(async () => {
      engine = await MoeEngine.load(fixture('mixtral'));
    });
    after(async () => {
      await engine.dispose();
    });
    const settings = (): TrainerSettings => ({ trainable: resolveTrainSpecs(['experts', 'routers'], engine.config), optimizer: 'adamw', weightDecay: 0.1, gradClip: 1, auxLossCoef: 0.01 });
    const batch = [{ ids: pattern(24) }, { ids: pattern(16, 3) }];

    test('held-out loss on a learnable pattern falls under AdamW; the engine keeps its own weights', async () => {
      const held = [{ ids: pattern(20, 5) }];
      // Every parameter (as a from-scratch run trains): the pattern is learnable by attention and experts together.
      const trainer = await ExpertTrainer.create(engine, { ...settings(), trainable: resolveTrainSpecs(['all'], engine.config) });
      const start = await trainer.evalLoss(held);
      const forward = await engine.forward(held[0]!.ids, { routing: false, hidden: false, logits: false });
      assert.ok(Math.abs(start.loss - forward.loss) < 1e-5 * Math.abs(forward.loss), `eval ${start.loss} vs forward ${forward.loss}`);
      let last = start.loss;
      for (let s = 0; s < 25; s++) last = (await trainer.trainStep(batch, 2e-2)).lmLoss;
      const end = await trainer.evalLoss(held);
      assert.ok(end.loss < 0.5 * start.loss, `held-out loss ${start.loss} -> ${end.loss} (train ${last})`);
      const again = await engine.forward(held[0]!.ids, { routing: false, hidden: false, logits: false });
      assert.equal(again.loss, forward.loss, 'the engine still runs the model as loaded');
    });

    test('deterministic, and a resumed run equals the uninterrupted one bit for bit', async () => {
      const a = await ExpertTrainer.create(engine, settings());
      for (let s = 0; s < 4; s++) await a.trainStep(batch, 1e-2);
      const b = await ExpertTrainer.create(engine, settings());
      for (let s = 0; s < 2; s++) await b.trainStep(batch, 1e-2);
      const c = await ExpertTrainer.create(engine, settings(), { master: b.masters, optimizer: b.optimizerState() });
      for (let s = 0; s < 2; s++) await c.trainStep(batch, 1e-2);
      assert.equal(c.step, 4);
      for (const [n, t] of a.masters) assert.deepEqual(c.masters.get(n)!.data, t.data, n);
      const d = await ExpertTrainer.create(engine, settings());
      for (let s = 0; s < 4; s++) await d.trainStep(batch, 1e-2);
      for (const [n, t] of a.masters) assert.deepEqual(d.masters.get(n)!.data, t.data, n);
    });

    test('a non-finite loss stops the step with E_NUMERIC and updates nothing', async () => {
      const t = await ExpertTrainer.create(engine, settings());
      await t.trainStep(batch, 1e-2);
      const [first] = [...t.masters.keys()].filter((n) => n.includes('experts.fc1'));
      const snapshot = new Map([...t.masters].map(([n, v]) => [n, v.data.slice()]));
      t.masters.get(first!)!.data.fill(Number.NaN);
      snapshot.get(first!)!.fill(Number.NaN);
      await assert.rejects(t.trainStep(batch, 1e-2), (e: Error & { code?: string }) => e.code === 'E_NUMERIC' && /stopped at step 2: the (loss|gradient norm) is NaN; the weights are those of step 1/.test(e.message));
      assert.equal(t.step, 1);
      for (const [n, v] of t.masters) assert.deepEqual(v.data, snapshot.get(n), n);
    });

    test('bad settings are refused, naming the value', async () => {
      await assert.rejects(ExpertTrainer.create(engine, { ...settings(), weightDecay: -1 }), /--weight-decay .*got -1/);
      await assert.rejects(ExpertTrainer.create(engine, { ...settings(), gradClip: Number.NaN }), /--grad-clip .*got NaN/);
      await assert.rejects(ExpertTrainer.create(engine, { ...settings(), trainable: { tensors: new Set(), experts: new Map() } }), /nothing to train/);
    });
  });
});
