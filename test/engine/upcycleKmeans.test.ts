// The k-means router init (issue #11 §1): spherical k-means finds planted directions; on real data the
// router rows are the centroids of the dense model's MLP inputs scaled to the random init's row norm; the MLP
// inputs are the ones the engine's own forward feeds the router (checked through the written model's router
// logits); copies still compute the dense function; refusals before any clustering work.
// Run: node --import tsx --test test/engine/upcycleKmeans.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { calibrationChunks } from '../../src/engine/calibration/calibrationChunks';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeEngine } from '../../src/engine/moeEngine';
import { loadTokenizer } from '../../src/engine/tokenizer/tokenizer';
import { DATA_CHUNK, DATA_MAX_TOKENS } from '../../src/engine/upcycle/dataInit';
import { denseMlpInputs } from '../../src/engine/upcycle/moeInputs';
import { sphericalKmeans } from '../../src/engine/upcycle/sphericalKmeans';
import { UPCYCLE_DEFAULTS, type UpcycleOptions } from '../../src/engine/upcycle/upcyclePlan';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { MoeError } from '../../src/protocol/moeError';
import { assertClose } from '../support/compare';
import { sampler } from '../support/randomCheckpoint';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-km-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const dataFile = path.join(root, 'data.txt');
fs.writeFileSync(dataFile, Array.from({ length: 40 }, (_, i) => `Line ${i}: the quick brown fox ${i % 3 === 0 ? 'jumps over 1234567890' : i % 3 === 1 ? 'SHOUTS IN CAPITALS!' : 'whispers (quietly) {braces}'} — ünïcödé ${'xyz'.repeat(i % 4)}`).join('\n'));
const opts = (o: Partial<UpcycleOptions>): UpcycleOptions => ({ ...UPCYCLE_DEFAULTS, experts: 4, topK: 2, router: 'kmeans', data: [dataFile], ...o });

describe('spherical k-means', () => {
  it('recovers planted directions, every cluster non-empty, same seed → same result', () => {
    const dim = 8;
    const k = 3;
    const s = sampler(1);
    const n = 300;
    const pts = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = i % k;
      for (let j = 0; j < dim; j++) pts[i * dim + j] = (j === c ? 5 : 0) * (1 + 0.5 * s.uniform()) + 0.3 * s.normal();
    }
    const a = sphericalKmeans(pts, n, dim, k, 7);
    assert.deepEqual([...a.sizes].sort(), [100, 100, 100]);
    for (let e = 0; e < k; e++) {
      const row = a.centroids.subarray(e * dim, (e + 1) * dim);
      assert.ok(Math.max(...row) > 0.98, `centroid ${e} is one planted axis: ${Array.from(row).map((v) => v.toFixed(2))}`);
    }
    assert.deepEqual(sphericalKmeans(pts, n, dim, k, 7), a);
  });
});

describe('upcycle --router kmeans', () => {
  it('qwen3 → qwen3_moe copy: rows are scaled centroids of the engine\'s router inputs; logits still the dense ones', async () => {
    const out = path.join(root, 'qwen3');
    const { record } = await writeUpcycled(fixture('qwen3'), out, opts({}), { evaluate: true });
    assert.ok(record.evaluation!.maxAbsLogitDiff <= 1e-5, `copy with a k-means router: ${record.evaluation!.maxAbsLogitDiff}`);
    const tok = loadTokenizer(fixture('qwen3'));
    const { chunks, tokens } = calibrationChunks(tok, readCalibrationSet([dataFile]), DATA_CHUNK, DATA_MAX_TOKENS);
    assert.equal(record.data!.tokens, tokens);
    assert.deepEqual(record.data!.files, [dataFile]);
    const seqs = chunks.map((c) => c.spans.map((s) => s.id));
    const src = openCheckpoint(fixture('qwen3'));
    const got = openCheckpoint(out);
    const inputs = new Map<number, Float32Array>();
    try {
      await denseMlpInputs(src, seqs, [0, 1], (L, x) => inputs.set(L, x));
      const H = src.config.hiddenSize;
      const routers = [0, 1].map((L) => got.readF32(`model.layers.${L}.mlp.gate.weight`));
      for (const [L, r] of routers.entries()) {
        for (let e = 0; e < 4; e++) {
          const norm = Math.hypot(...r.subarray(e * H, (e + 1) * H));
          assert.ok(Math.abs(norm - 0.02 * Math.sqrt(H)) < 1e-5, `L${L} row ${e} norm ${norm}`);
        }
        const sizes = record.layers[L]!.router!.clusterSizes;
        assert.equal(sizes.reduce((a, b) => a + b, 0), tokens);
        assert.ok(sizes.every((x) => x > 0), `L${L}: every expert gets tokens: ${sizes}`);
      }
      // The engine's router logits on the same tokens are these inputs times the rows: the inputs are the real ones.
      const engine = await MoeEngine.load(out);
      try {
        let at = 0;
        for (const ids of seqs) {
          const res = await engine.forward(ids, { routing: true, hidden: false, logits: false });
          for (const L of [0, 1]) {
            const x = inputs.get(L)!;
            const want = new Float32Array(ids.length * 4);
            for (let t = 0; t < ids.length; t++) for (let e = 0; e < 4; e++) {
              let s = 0;
              for (let j = 0; j < H; j++) s += x[(at + t) * H + j]! * routers[L]![e * H + j]!;
              want[t * 4 + e] = s;
            }
            assertClose(res.routing.find((r) => r.layer === L)!.routerLogits.data, want, 1e-5, `L${L} router logits`);
          }
          at += ids.length;
        }
      } finally {
        await engine.dispose();
      }
    } finally {
      src.close();
      got.close();
    }
  });

  it('llama → mixtral (F16): the router is stored in the source dtype; same seed → same bytes', async () => {
    const a = path.join(root, 'llama-a');
    const b = path.join(root, 'llama-b');
    await writeUpcycled(fixture('llama'), a, opts({ method: 'split', experts: 2, topK: 1, seed: 5 }), { evaluate: false });
    await writeUpcycled(fixture('llama'), b, opts({ method: 'split', experts: 2, topK: 1, seed: 5 }), { evaluate: false });
    assert.ok(fs.readFileSync(path.join(a, 'model.safetensors')).equals(fs.readFileSync(path.join(b, 'model.safetensors'))));
    const c = openCheckpoint(a);
    try {
      assert.equal(c.tensors.get('model.layers.1.block_sparse_moe.gate.weight')!.entry.dtype, 'F16');
    } finally {
      c.close();
    }
  });

  it('refusals before any clustering: no data, too few tokens, an output that exists', async () => {
    const out = path.join(root, 'never');
    await assert.rejects(writeUpcycled(fixture('qwen3'), out, opts({ data: [] }), { evaluate: false }), (e: unknown) => e instanceof MoeError && e.code === 'E_INPUT' && /give the data/.test(e.message));
    const tiny = path.join(root, 'tiny.txt');
    fs.writeFileSync(tiny, 'ab');
    await assert.rejects(writeUpcycled(fixture('qwen3'), out, opts({ data: [tiny] }), { evaluate: false }), /clustering into 4 experts needs at least 4 data tokens, but --data .* gives only 2/);
    const full = path.join(root, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'x'), '');
    await assert.rejects(writeUpcycled(fixture('qwen3'), full, opts({}), { evaluate: false }), /already exists and is not empty/);
    await assert.rejects(writeUpcycled(fixture('qwen3'), path.join(fixture('qwen3'), 'moe'), opts({}), { evaluate: false }), /inside the source model folder/);
    assert.equal(fs.existsSync(out), false);
  });
});
