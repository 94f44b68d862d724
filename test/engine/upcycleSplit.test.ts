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
import { balancedNeuronGroups } from '../../src/engine/upcycle/balancedSplit';
import { denseMlpInputs } from '../../src/engine/upcycle/moeInputs';
import { splitGroups } from '../../src/engine/upcycle/neuronEdits';
import { planUpcycle, UPCYCLE_DEFAULTS } from '../../src/engine/upcycle/upcyclePlan';
import { calibrationChunks } from '../../src/engine/calibration/calibrationChunks';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { loadTokenizer } from '../../src/engine/tokenizer/tokenizer';
import { DATA_CHUNK, DATA_MAX_TOKENS } from '../../src/engine/upcycle/dataInit';
import { sampler } from '../support/randomCheckpoint';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-split-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const dataFile = path.join(root, 'data.txt');
fs.writeFileSync(dataFile, Array.from({ length: 30 }, (_, i) => `${i}: ${['alpha beta gamma', 'SHOUTING 12345', '(){}[]<>;:', 'ünïcödé text'][i % 4]} ${'z'.repeat(i % 5)}`).join('\n'));

/** Neuron j's bytes: row j of [I, H] (gate, up) or column j of [H, I] (down). */
function neuronBytes(raw: Uint8Array, size: number, I: number, H: number, j: number, rows: boolean): string {
  if (rows) return Buffer.from(raw.subarray(j * H * size, (j + 1) * H * size)).toString('hex');
  const parts: string[] = [];
  for (let k = 0; k < H; k++) parts.push(Buffer.from(raw.subarray((k * I + j) * size, (k * I + j + 1) * size)).toString('hex'));
  return parts.join('');
}

describe('upcycle split', () => {
  for (const [source, E, withData] of [['llama', 4, false], ['qwen3', 8, false], ['llama', 2, true], ['qwen3', 4, true]] as const) {
    it(`${source}, E = ${E}, ${withData ? 'balanced k-means on --data' : 'random'}: an exact partition of the dense neurons, byte copies in the recorded order`, async () => {
      const out = path.join(root, `${source}-${E}`);
      const { record, plan } = await writeUpcycled(fixture(source), out, { ...UPCYCLE_DEFAULTS, method: 'split', experts: E, topK: 2, seed: 9, ...(withData ? { data: [dataFile] } : {}) }, { evaluate: true });
      assert.equal(record.settings.partition, withData ? 'balanced-kmeans' : 'random');
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

  it('balanced k-means: planted co-firing groups are found, and every group has exactly I/E neurons even when the plant is unbalanced', () => {
    const s = sampler(4);
    const N = 40;
    const base = Array.from({ length: 3 }, () => Array.from({ length: N }, () => s.normal()));
    const plant = (owner: (n: number) => number, I: number): Float32Array => {
      const p = new Float32Array(I * N);
      for (let n = 0; n < I; n++) for (let t = 0; t < N; t++) p[n * N + t] = base[owner(n)]![t]! * (1 + 0.2 * s.uniform()) + 0.1 * s.normal();
      return p;
    };
    const even = balancedNeuronGroups(plant((n) => n % 3, 12), 12, N, 3, 1);
    assert.deepEqual(even.groups.map((g) => Array.from(g).join(',')).sort(), ['0,3,6,9', '1,4,7,10', '2,5,8,11']);
    // 6 neurons share pattern 0, 3 and 3 the others: capacity 4 forces two of the six elsewhere.
    const skewed = balancedNeuronGroups(plant((n) => (n < 6 ? 0 : n < 9 ? 1 : 2), 12), 12, N, 3, 1);
    assert.deepEqual(skewed.groups.map((g) => g.length), [4, 4, 4]);
    assert.deepEqual([...skewed.groups.flatMap((g) => Array.from(g))].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
    assert.ok(skewed.groups.some((g) => Array.from(g).every((n) => n < 6)), 'one group is four of the six co-firing neurons');
  });

  it('balanced k-means groups co-firing neurons more than a random partition does (qwen3 fixture, cosine of activation patterns)', async () => {
    const out = path.join(root, 'qwen3-cofire');
    const { record } = await writeUpcycled(fixture('qwen3'), out, { ...UPCYCLE_DEFAULTS, method: 'split', experts: 4, topK: 2, data: [dataFile] }, { evaluate: false });
    const src = openCheckpoint(fixture('qwen3'));
    try {
      const { chunks, tokens } = calibrationChunks(loadTokenizer(fixture('qwen3')), readCalibrationSet([dataFile]), DATA_CHUNK, DATA_MAX_TOKENS);
      const I = src.config.layers[0]!.intermediateSize;
      const acts = new Map<number, Float32Array>();
      await denseMlpInputs(src, chunks.map((c) => c.spans.map((x) => x.id)), [0, 1], (L, _x, a) => acts.set(L, a!), { activations: true });
      const random = planUpcycle(src.config, { ...UPCYCLE_DEFAULTS, method: 'split', experts: 4, topK: 2 }, 'config.json');
      for (const L of [0, 1]) {
        const a = acts.get(L)!;
        const col = (n: number): number[] => Array.from({ length: tokens }, (_, t) => a[t * I + n]!);
        const cos = (u: number[], v: number[]): number => u.reduce((s, x, i) => s + x * v[i]!, 0) / Math.sqrt(u.reduce((s, x) => s + x * x, 0) * v.reduce((s, x) => s + x * x, 0));
        const within = (groups: readonly (readonly number[])[]): number => {
          let sum = 0;
          let pairs = 0;
          for (const g of groups) for (let i = 0; i < g.length; i++) for (let j = i + 1; j < g.length; j++) {
            sum += cos(col(g[i]!), col(g[j]!));
            pairs++;
          }
          return sum / pairs;
        };
        const balanced = within(record.layers[L]!.experts.map((x) => x.neurons!));
        const rand = within(splitGroups(random, L).map((g) => Array.from(g)));
        console.log(`layer ${L}: mean within-expert cosine of activation patterns ${balanced.toFixed(3)} (balanced k-means) vs ${rand.toFixed(3)} (random)`);
        assert.ok(balanced > rand + 0.02, `layer ${L}: ${balanced} vs ${rand}`);
      }
    } finally {
      src.close();
    }
  });
});
