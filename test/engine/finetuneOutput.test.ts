// Fine-tuned checkpoints and adapters reload and equal what the trainer holds: trained tensors rounded to
// the source dtype (fused Granite tensors: trained experts' rows new, the others the source's bytes), every
// other tensor byte-identical, the adapter applied gives the same bytes, and an F32 model's reloaded loss
// equals the trainer's.
// Run: node --import tsx --test test/engine/finetuneOutput.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { applyExpertAdapter } from '../../src/engine/finetune/expertAdapter';
import { ExpertTrainer } from '../../src/engine/finetune/expertTrainer';
import { writeFinetunedAdapter, writeFinetunedCheckpoint } from '../../src/engine/finetune/finetuneOutput';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { f32ToBf16 } from '../../src/engine/model/dtype';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-out-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const ids = Array.from({ length: 20 }, (_, i) => [3, 14, 15, 92, 65][i % 5]!);

const bytesOf = (v: Float32Array, dtype: string): Buffer => {
  if (dtype === 'F32') return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const u = new Uint16Array(v.length);
  f32ToBf16(v, u);
  return Buffer.from(u.buffer);
};

describe('fine-tuning output', () => {
  for (const name of ['granitemoe', 'olmoe']) {
    test(`${name}: checkpoint and adapter hold exactly the trained values; the rest is byte-identical`, async () => {
      const engine = await MoeEngine.load(fixture(name));
      try {
        const L = engine.config.layers.findIndex((l) => l.kind === 'moe');
        const trainable = resolveTrainSpecs([`experts=${L}:1,${L}:2`, 'routers'], engine.config);
        const trainer = await ExpertTrainer.create(engine, { trainable, optimizer: 'adamw', weightDecay: 0.1, gradClip: 1, auxLossCoef: 0.01 });
        for (let s = 0; s < 2; s++) await trainer.trainStep([{ ids }], 1e-2);
        const trained = trainer.hfTensors();
        const out = path.join(root, `${name}-full`);
        await writeFinetunedCheckpoint(fixture(name), trainable, trained, out, { format: 'moe-workbench.tensor-update', operation: 'finetune' });
        const adapter = path.join(root, `${name}-adapter`);
        const manifest = await writeFinetunedAdapter(fixture(name), trainable, trained, adapter, { steps: 2 });
        assert.deepEqual(manifest.tensors.map((t) => t.name).sort(), [...trained.keys()].sort());
        const applied = path.join(root, `${name}-applied`);
        await applyExpertAdapter(fixture(name), adapter, applied);

        const src = openCheckpoint(fixture(name));
        const got = openCheckpoint(out);
        const app = openCheckpoint(applied);
        const lay = expertLayout(engine.config, L);
        try {
          let changed = 0;
          for (const [t, loc] of src.tensors) {
            const g = Buffer.from(got.tensors.get(t)!.file.readRaw(t));
            assert.ok(g.equals(Buffer.from(app.tensors.get(t)!.file.readRaw(t))), `${t}: the applied adapter gives the same bytes`);
            const v = trained.get(t);
            const orig = Buffer.from(loc.file.readRaw(t));
            if (!v) {
              assert.ok(g.equals(orig), `${t} is byte-identical`);
              continue;
            }
            changed++;
            const want = bytesOf(v.data, loc.entry.dtype);
            if (lay.kind === 'fused' && (t === lay.gateUp || t === lay.down)) {
              const per = g.length / (engine.config.layers[L] as { routing: { numExperts: number } }).routing.numExperts;
              for (let e = 0; e * per < g.length; e++) {
                const block = g.subarray(e * per, (e + 1) * per);
                assert.ok(block.equals((e === 1 || e === 2 ? want : orig).subarray(e * per, (e + 1) * per)), `${t} expert ${e}`);
              }
            } else {
              assert.ok(g.equals(want), `${t} holds the trained values in ${loc.entry.dtype}`);
            }
          }
          assert.equal(changed, trained.size);
        } finally {
          src.close();
          got.close();
          app.close();
        }
        if (name === 'granitemoe') {
          // F32: no rounding, so the reloaded model computes exactly what the trainer computes.
          const reloaded = await MoeEngine.load(out);
          try {
            const r = await reloaded.forward(ids, { routing: false, hidden: false, logits: false });
            const e = await trainer.evalLoss([{ ids }]);
            assert.ok(Math.abs(r.loss - e.loss) < 1e-5 * Math.abs(e.loss), `reloaded ${r.loss} vs trainer ${e.loss}`);
            const before = await engine.forward(ids, { routing: false, hidden: false, logits: false });
            assert.ok(r.loss < before.loss, `trained ${r.loss} < source ${before.loss}`);
          } finally {
            await reloaded.dispose();
          }
        }
      } finally {
        await engine.dispose();
      }
    });
  }
});
