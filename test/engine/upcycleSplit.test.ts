// LLaMA-MoE neuron splitting (issue #11 §1, methods §4.3): the I dense neurons partitioned into E experts of
// I/E, every dense neuron in exactly one expert, its gate/up rows and down column exact byte copies, in the
// order moe_workbench.json records. Both targets (llama's F16 and qwen3's F32 weights); the result loads.
// Run: node --import tsx --test test/engine/upcycleSplit.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { storageElementBytes, type StorageDtype } from '../../src/engine/model/dtype';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { UPCYCLE_DEFAULTS } from '../../src/engine/upcycle/upcyclePlan';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-split-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Neuron j's bytes: row j of [I, H] (gate, up) or column j of [H, I] (down). */
function neuronBytes(raw: Uint8Array, size: number, I: number, H: number, j: number, rows: boolean): string {
  if (rows) return Buffer.from(raw.subarray(j * H * size, (j + 1) * H * size)).toString('hex');
  const parts: string[] = [];
  for (let k = 0; k < H; k++) parts.push(Buffer.from(raw.subarray((k * I + j) * size, (k * I + j + 1) * size)).toString('hex'));
  return parts.join('');
}

describe('upcycle split', () => {
  for (const [source, E] of [['llama', 4], ['qwen3', 8]] as const) {
    it(`${source}, E = ${E}: an exact partition of the dense neurons, byte copies in the recorded order`, async () => {
      const out = path.join(root, source);
      const { record, plan } = await writeUpcycled(fixture(source), out, { ...UPCYCLE_DEFAULTS, method: 'split', experts: E, topK: 2, seed: 9 }, { evaluate: true });
      const src = openCheckpoint(fixture(source));
      const got = openCheckpoint(out);
      try {
        const I = src.config.layers[0]!.intermediateSize;
        const H = src.config.hiddenSize;
        const g = I / E;
        assert.equal(plan.expertIntermediate, g);
        assert.equal(record.settings.expertIntermediateSize, g);
        assert.ok(got.config.layers.every((l) => l.kind === 'moe' && l.intermediateSize === g));
        const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        if (source === 'llama') assert.equal(cfg['intermediate_size'], g);
        else assert.deepEqual([cfg['moe_intermediate_size'], cfg['intermediate_size']], [g, I]);
        for (let L = 0; L < src.config.numLayers; L++) {
          const lay = expertLayout(got.config, L);
          if (lay.kind !== 'separate') throw new Error('separate layout expected');
          const owner = new Array<number>(I).fill(-1);
          const recorded = record.layers.find((l) => l.layer === L)!.experts;
          for (let e = 0; e < E; e++) {
            const neurons = recorded[e]!.neurons!;
            assert.equal(neurons.length, g);
            for (const d of neurons) {
              assert.equal(owner[d], -1, `L${L}: dense neuron ${d} in experts ${owner[d]} and ${e}`);
              owner[d] = e;
            }
            for (const [p, name, rows] of [['gate_proj', lay.gate(e), true], ['up_proj', lay.up(e), true], ['down_proj', lay.down(e), false]] as const) {
              const dense = `model.layers.${L}.mlp.${p}.weight`;
              const dtype = src.tensors.get(dense)!.entry.dtype as StorageDtype;
              assert.equal(got.tensors.get(name)!.entry.dtype, dtype);
              assert.deepEqual(got.tensors.get(name)!.entry.shape, rows ? [g, H] : [H, g]);
              const size = storageElementBytes(dtype);
              const a = got.tensors.get(name)!.file.readRaw(name);
              const b = src.tensors.get(dense)!.file.readRaw(dense);
              neurons.forEach((d, j) => assert.equal(neuronBytes(a, size, g, H, j, rows), neuronBytes(b, size, I, H, d, rows), `L${L} e${e} ${p}: neuron ${j} = dense ${d}`));
            }
          }
          assert.ok(owner.every((e) => e >= 0), `L${L}: every dense neuron is in an expert`);
        }
      } finally {
        src.close();
        got.close();
      }
      // Not function-preserving (top-k holds only k/E of the neurons), but it loads and runs.
      assert.equal(record.functionPreserving, false);
      assert.ok(Number.isFinite(record.evaluation!.maxAbsLogitDiff));
      const engine = await MoeEngine.load(out);
      await engine.dispose();
    });
  }
});
