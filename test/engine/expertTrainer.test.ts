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
import { clipGradients } from '../../src/engine/finetune/gradientClip';
import { Optimizer } from '../../src/engine/finetune/optimizer';
import { checkInputs, computeGradients, defaultActivationBytes, trainableGraphWeights } from '../../src/engine/training/computeGradients';
import { layerwiseGradients } from '../../src/engine/training/layerwiseGradients';
import { lowestTrainableLayer } from '../../src/engine/training/trainableSet';
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

    test('steps equal the pipeline before the fused path (float32 sums into fresh arrays, clipGradients in place, then the optimizer), bit for bit', async () => {
      // One sequence per step (its gradient taken as is), then two (sums in buffers kept across steps).
      const s = { ...settings(), gradClip: 0.05 };
      const trainer = await ExpertTrainer.create(engine, s);
      const names = trainableGraphWeights(s.trainable);
      const master = new Map([...trainer.masters].map(([n, t]) => [n, { dims: [...t.dims], data: t.data.slice() }]));
      const opt = new Optimizer('adamw');
      const batches = [[batch[0]!], [batch[1]!], [batch[0]!], batch, batch, [{ ids: pattern(9, 2) }, ...batch]];
      for (const [k, b] of batches.entries()) {
        const masks = b.map((q) => checkInputs(engine, q.ids, { trainable: s.trainable, lossMask: new Float32Array(q.ids.length - 1).fill(1), auxLossCoef: s.auxLossCoef, zLossCoef: 0 }));
        const total = masks.reduce((n, m) => n + m.reduce((x, y) => x + y, 0), 0);
        const acc = new Map<string, Float32Array>();
        for (const [i, q] of b.entries()) {
          const w = Math.fround(masks[i]!.reduce((x, y) => x + y, 0) / total);
          await layerwiseGradients(engine, {
            ids: q.ids,
            lossMask: masks[i]!,
            auxCoef: s.auxLossCoef,
            zCoef: 0,
            wrt: new Set(names),
            lowest: lowestTrainableLayer(s.trainable, engine.config.numLayers),
            activationBytes: defaultActivationBytes(engine, q.ids.length),
            overrides: master,
            step: () => {},
            done: async (grads) => {
              for (const [name, g] of grads) {
                let a = acc.get(name);
                if (!a) acc.set(name, (a = new Float32Array(g.length)));
                for (let j = 0; j < g.length; j++) a[j] = Math.fround(a[j]! + Math.fround(w * g[j]!));
              }
            },
          });
        }
        const grads = names.map((n) => acc.get(n) ?? new Float32Array(master.get(n)!.data.length));
        const clip = clipGradients(grads, s.gradClip);
        opt.apply(names.map((name, j) => ({ name, param: master.get(name)!.data, grad: grads[j]!, weightDecay: master.get(name)!.dims.length >= 2 ? s.weightDecay : 0 })), 1e-2);
        const r = await trainer.trainStep(b, 1e-2);
        assert.ok(r.clipScale < 1, `step ${k + 1} is clipped (norm ${r.gradNorm})`);
        assert.equal(r.gradNorm, clip.norm, `step ${k + 1} norm`);
        assert.equal(r.clipScale, clip.scale);
        for (const [n, t] of master) {
          const got = trainer.masters.get(n)!.data;
          assert.deepEqual(new Uint32Array(got.buffer, got.byteOffset, got.length), new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length), `step ${k + 1} ${n}`);
        }
      }
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
