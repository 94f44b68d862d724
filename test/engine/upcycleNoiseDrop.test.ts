// Noise upcycling and Drop-Upcycling (issue #11 §1, methods §4.2): which neurons change (a fraction r,
// whole neurons — gate/up rows and the down column of one index — in paper mode), what the new values look
// like (added N(0, σ²); re-drawn from the replaced slice's mean and std), and that the same seed gives the
// same bytes. Neurons are found from the written tensors alone: a row that equals no dense row was changed.
// Run: node --import tsx --test test/engine/upcycleNoiseDrop.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpoint, type Checkpoint } from '../../src/engine/model/checkpoint';
import { UPCYCLE_DEFAULTS, type UpcycleOptions } from '../../src/engine/upcycle/upcyclePlan';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-nd-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(root, `out${n++}`);
const E = 4;
const opts = (o: Partial<UpcycleOptions>): UpcycleOptions => ({ ...UPCYCLE_DEFAULTS, experts: E, topK: 2, ...o });

/** Neuron j of a matrix as a list of numbers: row j of gate/up [I, H], column j of down [H, I]. */
function neuron(w: Float32Array, I: number, H: number, j: number, rows: boolean): number[] {
  return rows ? Array.from(w.subarray(j * H, (j + 1) * H)) : Array.from({ length: H }, (_, k) => w[k * I + j]!);
}

interface Mat {
  readonly dense: Float32Array;
  readonly rows: boolean;
}

/** For each neuron j of the expert's matrix, the dense neuron it equals exactly, or -1 (changed). */
function matchNeurons(expert: Float32Array, m: Mat, I: number, H: number): number[] {
  const index = new Map<string, number>();
  for (let j = 0; j < I; j++) index.set(neuron(m.dense, I, H, j, m.rows).join(','), j);
  return Array.from({ length: I }, (_, j) => index.get(neuron(expert, I, H, j, m.rows).join(',')) ?? -1);
}

function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) };
}

const PROJ = ['gate_proj', 'up_proj', 'down_proj'] as const;

describe('noise and drop upcycling (qwen3 → qwen3_moe, float32, I = 128, r = 0.5)', () => {
  let src: Checkpoint;
  let I: number;
  let H: number;
  before(() => {
    src = openCheckpoint(fixture('qwen3'));
    I = src.config.layers[0]!.intermediateSize;
    H = src.config.hiddenSize;
  });
  after(() => src.close());
  const mats = (L: number): Mat[] => PROJ.map((p, i) => ({ dense: src.readF32(`model.layers.${L}.mlp.${p}.weight`), rows: i !== 2 }));
  const expertOf = (c: Checkpoint, L: number, e: number): Float32Array[] => PROJ.map((p) => c.readF32(`model.layers.${L}.mlp.experts.${e}.${p}`.concat('.weight')));

  it('noise: the same r·I whole neurons of gate, up and down get N(0, 0.02²) added; the rest are exact copies; experts differ', async () => {
    const out = fresh();
    const { record } = await writeUpcycled(fixture('qwen3'), out, opts({ method: 'noise', seed: 5 }), { evaluate: true });
    assert.deepEqual(record.settings, { experts: E, topK: 2, router: 'random', routerStd: 0.02, ratio: 0.5, noiseStd: 0.02, expertIntermediateSize: I });
    assert.equal(record.layers[0]!.experts[0]!.changedNeurons, 64);
    assert.equal(record.functionPreserving, false);
    assert.ok(record.evaluation!.maxAbsLogitDiff > 1e-4, 'noise changes the function');
    const c = openCheckpoint(out);
    try {
      for (const L of [0, 1]) {
        const dense = mats(L);
        const sets: string[] = [];
        for (let e = 0; e < E; e++) {
          const w = expertOf(c, L, e);
          const changed = w.map((x, m) => {
            const match = matchNeurons(x, dense[m]!, I, H);
            // An unchanged neuron is its own dense neuron (no permutation in noise mode).
            match.forEach((d, j) => assert.ok(d === -1 || d === j, `L${L} e${e} m${m}: neuron ${j} equals dense neuron ${d}`));
            return match.flatMap((d, j) => (d === -1 ? [j] : []));
          });
          assert.equal(changed[0]!.length, 64, `L${L} e${e}: 64 of 128 neurons changed`);
          assert.deepEqual(changed[1], changed[0], 'up rows = gate rows');
          assert.deepEqual(changed[2], changed[0], 'down columns = gate rows');
          sets.push(changed[0]!.join(','));
          for (let m = 0; m < 3; m++) {
            const diffs = changed[m]!.flatMap((j) => neuron(w[m]!, I, H, j, dense[m]!.rows).map((x, k) => x - neuron(dense[m]!.dense, I, H, j, dense[m]!.rows)[k]!));
            assert.ok(diffs.every((d) => d !== 0), 'every entry of a changed neuron moves');
            const s = meanStd(diffs);
            assert.ok(Math.abs(s.mean) < 0.002 && Math.abs(s.std - 0.02) < 0.002, `L${L} e${e} m${m}: noise mean ${s.mean}, std ${s.std} over ${diffs.length}`);
          }
        }
        assert.equal(new Set(sets).size, E, 'each expert has its own neurons');
      }
    } finally {
      c.close();
    }
  });

  for (const mode of ['paper', 'reference-code'] as const) {
    it(`drop (${mode}): one shared permutation, r·I neurons re-drawn ${mode === 'paper' ? 'at the same indices in gate, up and down' : 'at separate indices per matrix'} from the replaced slice's mean and std`, async () => {
      const out = fresh();
      const { record } = await writeUpcycled(fixture('qwen3'), out, opts({ method: 'drop', dropMode: mode, seed: 11 }), { evaluate: false });
      assert.equal(record.settings.dropMode, mode);
      const c = openCheckpoint(out);
      let sameSets = 0;
      try {
        for (const L of [0, 1]) {
          const dense = mats(L);
          for (let e = 0; e < E; e++) {
            const w = expertOf(c, L, e);
            const match = w.map((x, m) => matchNeurons(x, dense[m]!, I, H));
            const changed = match.map((mm) => mm.flatMap((d, j) => (d === -1 ? [j] : [])));
            for (let m = 0; m < 3; m++) {
              assert.equal(changed[m]!.length, 64, `L${L} e${e} m${m}: 64 neurons re-drawn`);
              // The kept neurons are dense neurons moved by one permutation shared by the three matrices.
              for (let j = 0; j < I; j++) {
                const ds = match.map((mm) => mm[j]!).filter((d) => d !== -1);
                assert.ok(ds.every((d) => d === ds[0]), `L${L} e${e}: neuron ${j} comes from dense neurons ${ds.join(', ')}`);
              }
              // The replaced slice: the dense neurons that are no longer anywhere in this matrix.
              const kept = new Set(match[m]!.filter((d) => d !== -1));
              const replaced = Array.from({ length: I }, (_, d) => d).filter((d) => !kept.has(d));
              const before = meanStd(replaced.flatMap((d) => neuron(dense[m]!.dense, I, H, d, dense[m]!.rows)));
              const after = meanStd(changed[m]!.flatMap((j) => neuron(w[m]!, I, H, j, dense[m]!.rows)));
              assert.ok(Math.abs(after.mean - before.mean) < 0.1 * before.std, `L${L} e${e} m${m}: mean ${after.mean} vs slice ${before.mean}`);
              assert.ok(Math.abs(after.std / before.std - 1) < 0.06, `L${L} e${e} m${m}: std ${after.std} vs slice ${before.std}`);
            }
            if (mode === 'paper') {
              assert.deepEqual(changed[1], changed[0]);
              assert.deepEqual(changed[2], changed[0]);
            }
            if (changed[1]!.join() === changed[0]!.join() && changed[2]!.join() === changed[0]!.join()) sameSets++;
          }
        }
      } finally {
        c.close();
      }
      assert.equal(sameSets, mode === 'paper' ? 2 * E : 0);
    });
  }

  it('same seed → the same bytes; another seed → other weights (noise and drop)', async () => {
    for (const method of ['noise', 'drop'] as const) {
      const [a, b, c] = [fresh(), fresh(), fresh()];
      await writeUpcycled(fixture('llama'), a, opts({ method, seed: 3 }), { evaluate: false });
      await writeUpcycled(fixture('llama'), b, opts({ method, seed: 3 }), { evaluate: false });
      await writeUpcycled(fixture('llama'), c, opts({ method, seed: 4 }), { evaluate: false });
      const bytes = (d: string): Buffer => fs.readFileSync(path.join(d, 'model.safetensors'));
      assert.ok(bytes(a).equals(bytes(b)), `${method}: same seed, same bytes`);
      assert.equal(bytes(a).equals(bytes(c)), false, `${method}: another seed`);
    }
  });
});
