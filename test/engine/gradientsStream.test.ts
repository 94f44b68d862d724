// The streamed gradients file (computeGradients' onGradient writing each tensor into its place) against the
// in-memory path (all gradients returned, then written): the same bytes, on Mixtral (per-expert tensors)
// and GraniteMoE (fused tensors with frozen experts zero). A failure in the middle — the request cancelled
// after the first tensor — leaves no file, no staging folder, and an existing file as it was.
// Run: node --import tsx --test test/engine/gradientsStream.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { throwIfCancelled } from '../../src/engine/engineService';
import { MoeEngine } from '../../src/engine/moeEngine';
import { computeGradients } from '../../src/engine/training/computeGradients';
import { LONGEST_JSON_NUMBER, streamGradientsFile, writeGradientsFile } from '../../src/engine/training/gradientsFile';
import { releaseTrainingSessions } from '../../src/engine/training/sessionCache';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture } from '../support/paths';

const IDS = [3, 71, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-gradstream-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => fs.mkdtempSync(path.join(tmp, `d${n++}-`));

async function withEngine(name: string, f: (engine: MoeEngine) => Promise<void>): Promise<void> {
  const engine = await MoeEngine.load(fixture(name));
  try {
    await f(engine);
  } finally {
    await releaseTrainingSessions(engine);
    await engine.dispose();
  }
}

describe('streamed gradients file', () => {
  // Granite: experts 1 and 3 of layer 0 trainable, so its fused tensors carry frozen (zero) slices.
  const cases: [string, string[]][] = [
    ['mixtral', ['all']],
    ['granitemoe', ['experts=0:1,0:3', 'routers']],
  ];
  for (const [name, train] of cases) {
    it(`${name} (${train.join(' ')}): byte for byte the in-memory path's file`, async () => {
      await withEngine(name, async (engine) => {
        const set = resolveTrainSpecs(train, engine.config);
        const opts = { trainable: set, auxLossCoef: 0.1 };
        const dir = freshDir();
        const metadata = { note: name };
        const whole = await computeGradients(engine, IDS, opts);
        assert.ok(whole.grads.size > 0);
        const inMemory = path.join(dir, 'memory.safetensors');
        await writeGradientsFile(inMemory, engine.config, set, whole, metadata);
        const streamed = path.join(dir, 'streamed.safetensors');
        const order: string[] = [];
        const names = await streamGradientsFile(streamed, engine.config, set, metadata, async (write) => {
          const g = await computeGradients(engine, IDS, {
            ...opts,
            onGradient: async (t, grad) => {
              order.push(t);
              await write(t, grad);
            },
          });
          assert.equal(g.grads.size, 0, 'nothing kept when streamed');
          return { loss: g.loss, auxLoss: g.auxLoss, metadata };
        });
        assert.deepEqual([...order].sort(), [...whole.grads.keys()].sort());
        assert.notDeepEqual(order, names, 'delivered top layer first, not in file order');
        assert.ok(fs.readFileSync(streamed).equals(fs.readFileSync(inMemory)), 'same bytes');
        if (name === 'granitemoe') {
          const f = openSafetensors(streamed);
          try {
            const fused = 'model.layers.0.block_sparse_moe.input_linear.weight';
            const up = f.readF32(fused);
            const E = f.tensors.get(fused)!.shape[0]!;
            const per = up.length / E;
            const nonzero = (e: number): boolean => up.subarray(e * per, (e + 1) * per).some((v) => v !== 0);
            assert.deepEqual(Array.from({ length: E }, (_, e) => nonzero(e)), Array.from({ length: E }, (_, e) => e === 1 || e === 3));
          } finally {
            f.close();
          }
        }
        // A metadata bound longer than the final metadata: more header padding, the same tensors.
        const bounded = path.join(dir, 'bounded.safetensors');
        await streamGradientsFile(bounded, engine.config, set, { lmLoss: String(LONGEST_JSON_NUMBER) }, async (write) => {
          for (const [t, grad] of whole.grads) await write(t, grad);
          return { loss: whole.loss, auxLoss: whole.auxLoss, metadata: { lmLoss: String(whole.lmLoss).slice(0, 3) } };
        });
        const a = openSafetensors(inMemory);
        const b = openSafetensors(bounded);
        try {
          assert.equal(b.metadata['lmLoss'], String(whole.lmLoss).slice(0, 3));
          assert.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
          for (const t of a.tensors.keys()) assert.deepEqual(b.readF32(t), a.readF32(t), t);
        } finally {
          a.close();
          b.close();
        }
        assert.deepEqual(fs.readdirSync(dir).sort(), ['bounded.safetensors', 'memory.safetensors', 'streamed.safetensors']);
      });
    });
  }

  it('cancelled after the first tensor: no file, no staging folder, an existing file untouched', async () => {
    await withEngine('olmoe', async (engine) => {
      const set = resolveTrainSpecs(['experts=0:0,1:2', 'routers'], engine.config);
      const dir = freshDir();
      const out = path.join(dir, 'g.safetensors');
      fs.writeFileSync(out, 'old');
      const stop = new AbortController();
      let writes = 0;
      let sawStaging = false;
      await assert.rejects(
        streamGradientsFile(out, engine.config, set, {}, async (write) => {
          const g = await computeGradients(engine, IDS, {
            trainable: set,
            signal: stop.signal,
            // As the gradients handler does: a cancelled request writes no further tensor.
            onGradient: async (t, grad) => {
              throwIfCancelled(stop.signal);
              await write(t, grad);
              writes++;
              sawStaging = fs.readdirSync(dir).some((e) => e.includes('.partial-'));
              stop.abort();
            },
          });
          return { loss: g.loss, auxLoss: g.auxLoss, metadata: {} };
        }),
        (e: { code: string }) => e.code === 'E_CANCELLED',
      );
      assert.equal(writes, 1, 'the computation stopped after the first tensor');
      assert.ok(sawStaging, 'the tensor was written inside a staging folder');
      assert.deepEqual(fs.readdirSync(dir), ['g.safetensors']);
      assert.equal(fs.readFileSync(out, 'utf8'), 'old');
    });
  });
});
