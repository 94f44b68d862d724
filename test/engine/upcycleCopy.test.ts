// Dense → MoE copy-upcycling (issue #11 §1): llama → mixtral and qwen3 → qwen3_moe. The result loads in the
// engine and computes the dense model's logits (renormalised top-k over identical experts), every copied
// tensor is byte-identical, config.json is what transformers' Mixtral / Qwen3-MoE classes expect, and every
// refusal leaves nothing behind.
// Run: node --import tsx --test test/engine/upcycleCopy.test.ts
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openCheckpoint, type Checkpoint } from '../../src/engine/model/checkpoint';
import { f32ToBf16 } from '../../src/engine/model/dtype';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { UPCYCLE_DEFAULTS, type UpcycleOptions } from '../../src/engine/upcycle/upcyclePlan';
import { randomRouter } from '../../src/engine/upcycle/upcycleTensors';
import type { UpcycleRecord } from '../../src/engine/upcycle/upcycleRecord';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { MoeError } from '../../src/protocol/moeError';
import { assertClose } from '../support/compare';
import { fixture } from '../support/paths';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-upcycle-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = path.join(root, `t${n++}`);
  fs.mkdirSync(d);
  return path.join(d, 'out');
};

const opts = (o: Partial<UpcycleOptions>): UpcycleOptions => ({ ...UPCYCLE_DEFAULTS, experts: 4, topK: 2, ...o });
const raw = (c: Checkpoint, name: string): Buffer => Buffer.from(c.tensors.get(name)!.file.readRaw(name));
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;

function withBoth<T>(a: string, b: string, fn: (src: Checkpoint, out: Checkpoint) => T): T {
  const src = openCheckpoint(a);
  const out = openCheckpoint(b);
  try {
    return fn(src, out);
  } finally {
    src.close();
    out.close();
  }
}

async function logits(dir: string, ids: readonly number[]): Promise<Float32Array> {
  const e = await MoeEngine.load(dir);
  try {
    assert.equal(e.info.warnings, undefined, `${dir} loads without warnings (its moe_workbench.json is understood)`);
    return (await e.forward(ids, { routing: false, hidden: false, logits: true })).logits!.data;
  } finally {
    await e.dispose();
  }
}

const promptOf = (name: string): number[] => (readJson(path.join(fixture(name), 'expected.json'))['prompts'] as { input_ids: number[] }[])[0]!.input_ids;

/** Nothing at `out`, and no staging folder beside it. */
function assertNothingWritten(out: string): void {
  assert.equal(fs.existsSync(out), false, `${out} exists`);
  const parent = path.dirname(out);
  if (fs.existsSync(parent)) assert.deepEqual(fs.readdirSync(parent).filter((f) => f.includes('partial')), []);
}

const CASES = [
  { source: 'llama', target: 'mixtral', architecture: 'MixtralForCausalLM', stray: ['attention_bias', 'mlp_bias', 'pretraining_tp'] },
  { source: 'qwen3', target: 'qwen3_moe', architecture: 'Qwen3MoeForCausalLM', stray: ['layer_types'] },
] as const;

describe('upcycle copy', () => {
  for (const k of CASES) {
    it(`${k.source} → ${k.target}: logits equal the dense model's within 1e-5, copies byte-identical, config and record as written`, async () => {
      const out = fresh();
      const { record, written } = await writeUpcycled(fixture(k.source), out, opts({ seed: 7 }), { evaluate: true });
      assert.ok(written.files.includes('tokenizer.json') && written.files.includes('moe_workbench.json'));

      const ids = promptOf(k.source);
      const dense = await logits(fixture(k.source), ids);
      const moe = await logits(out, ids);
      const diff = assertClose(moe, dense, 1e-5, `${k.target} logits vs ${k.source}`);
      console.log(`${k.source} → ${k.target} copy: max |logit diff| ${diff.toExponential(2)} on ${ids.length} tokens; recorded ${record.evaluation!.maxAbsLogitDiff.toExponential(2)}`);
      assert.ok(record.evaluation!.maxAbsLogitDiff <= 1e-5);
      assert.equal(record.evaluation!.top1Agreement, 1);

      withBoth(fixture(k.source), out, (src, got) => {
        assert.equal(got.config.modelType, k.target);
        for (const [name, loc] of src.tensors) {
          if (/\.mlp\.(gate|up|down)_proj\.weight$/.test(name)) {
            assert.equal(got.tensors.has(name), false, `${name} should be gone`);
            continue;
          }
          assert.ok(raw(got, name).equals(raw(src, name)), `${name} differs`);
          assert.equal(got.tensors.get(name)!.entry.dtype, loc.entry.dtype);
        }
        for (let L = 0; L < src.config.numLayers; L++) {
          const lay = expertLayout(got.config, L);
          if (lay.kind !== 'separate') throw new Error('separate layout expected');
          const dense = { gate: `model.layers.${L}.mlp.gate_proj.weight`, up: `model.layers.${L}.mlp.up_proj.weight`, down: `model.layers.${L}.mlp.down_proj.weight` };
          for (let e = 0; e < 4; e++) {
            assert.ok(raw(got, lay.gate(e)).equals(raw(src, dense.gate)), `L${L} e${e} gate`);
            assert.ok(raw(got, lay.up(e)).equals(raw(src, dense.up)), `L${L} e${e} up`);
            assert.ok(raw(got, lay.down(e)).equals(raw(src, dense.down)), `L${L} e${e} down`);
          }
          // Router: the source dtype, zero-mean uniform with std 0.02 (|x| <= 0.02·√3).
          const router = got.tensors.get(lay.router)!.entry;
          assert.equal(router.dtype, src.tensors.get(dense.gate)!.entry.dtype);
          assert.deepEqual(router.shape, [4, src.config.hiddenSize]);
          const r = got.readF32(lay.router);
          const mean = r.reduce((s, x) => s + x, 0) / r.length;
          const std = Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / r.length);
          assert.ok(Math.abs(mean) < 0.003 && Math.abs(std - 0.02) < 0.003, `router mean ${mean}, std ${std}`);
          assert.ok(r.every((x) => Math.abs(x) <= 0.02 * Math.sqrt(3) + 1e-4));
        }
      });

      const cfg = readJson(path.join(out, 'config.json'));
      const src = readJson(path.join(fixture(k.source), 'config.json'));
      assert.equal(cfg['model_type'], k.target);
      assert.deepEqual(cfg['architectures'], [k.architecture]);
      assert.equal(cfg['num_experts_per_tok'], 2);
      assert.equal(cfg['output_router_logits'], false);
      for (const key of k.stray) assert.equal(key in cfg, false, `stray key ${key}`);
      for (const key of ['hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta', 'vocab_size', 'tie_word_embeddings', 'torch_dtype', 'bos_token_id', 'eos_token_id']) {
        assert.deepEqual(cfg[key], src[key], key);
      }
      if (k.target === 'mixtral') {
        assert.equal(cfg['num_local_experts'], 4);
        assert.equal(cfg['intermediate_size'], 128);
        assert.equal(cfg['router_aux_loss_coef'], 0.02);
        assert.equal(cfg['sliding_window'], null);
        assert.equal('num_experts' in cfg, false);
      } else {
        assert.equal(cfg['num_experts'], 4);
        assert.equal(cfg['moe_intermediate_size'], 128);
        assert.equal(cfg['intermediate_size'], 128);
        assert.equal(cfg['norm_topk_prob'], true);
        assert.equal(cfg['decoder_sparse_step'], 1);
        assert.deepEqual(cfg['mlp_only_layers'], []);
        assert.equal('num_local_experts' in cfg, false);
      }

      const rec = readJson(path.join(out, 'moe_workbench.json')) as unknown as UpcycleRecord;
      assert.equal(rec.format, 'moe-workbench.upcycle');
      assert.equal(rec.operation, 'upcycle');
      assert.equal(rec.method, 'copy');
      assert.equal(rec.seed, 7);
      assert.equal(rec.functionPreserving, true);
      assert.equal(rec.source.dir, fixture(k.source));
      assert.match(rec.source.sha256, /^[0-9a-f]{64}$/);
      assert.deepEqual(rec.layers.map((l) => [l.layer, l.experts.map((x) => x.from)]), [0, 1].map((L) => [L, Array(4).fill(`model.layers.${L}.mlp`)]));
    });
  }

  it('qwen3 → qwen3_moe with --layers 1: layer 0 stays a dense MLP (mlp_only_layers [0]), byte-identical, logits still equal', async () => {
    const out = fresh();
    await writeUpcycled(fixture('qwen3'), out, opts({ experts: 3, topK: 1, layers: [1] }), { evaluate: false });
    const cfg = readJson(path.join(out, 'config.json'));
    assert.deepEqual(cfg['mlp_only_layers'], [0]);
    withBoth(fixture('qwen3'), out, (src, got) => {
      assert.deepEqual(got.config.layers.map((l) => l.kind), ['dense', 'moe']);
      for (const p of ['gate_proj', 'up_proj', 'down_proj']) assert.ok(raw(got, `model.layers.0.mlp.${p}.weight`).equals(raw(src, `model.layers.0.mlp.${p}.weight`)));
      assert.equal(got.tensors.has('model.layers.0.mlp.gate.weight'), false);
      assert.ok(got.tensors.has('model.layers.1.mlp.experts.2.down_proj.weight'));
    });
    const ids = promptOf('qwen3');
    assertClose(await logits(out, ids), await logits(fixture('qwen3'), ids), 1e-5, 'qwen3_moe (layer 1 only) logits');
  });

  it('sharded output (small max shard size) loads and computes the dense logits; a cancelled write leaves nothing', async () => {
    const out = fresh();
    const { written } = await writeUpcycled(fixture('llama'), out, opts({}), { evaluate: false, maxShardBytes: 200_000 });
    assert.ok(written.files.includes('model.safetensors.index.json') && written.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length > 1, written.files.join(' '));
    const ids = promptOf('llama');
    assertClose(await logits(out, ids), await logits(fixture('llama'), ids), 1e-5, 'sharded mixtral logits');
    const cancelled = fresh();
    const abort = new AbortController();
    let seen = 0;
    await assert.rejects(
      writeUpcycled(fixture('llama'), cancelled, opts({}), { evaluate: false, signal: abort.signal, onProgress: () => void (++seen === 3 && abort.abort()) }),
      (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED',
    );
    assertNothingWritten(cancelled);
  });

  it('a BF16 source: experts byte-identical, the router stored as BF16; same seed → same bytes, another seed → another router', async () => {
    const src = path.join(root, 'bf16-llama');
    const rawCfg = { ...readJson(path.join(fixture('llama'), 'config.json')), torch_dtype: 'bfloat16' };
    await writeCheckpointForConfig(src, rawCfg, 3, 'BF16');
    const a = fresh();
    const b = fresh();
    const c = fresh();
    await writeUpcycled(src, a, opts({ seed: 1 }), { evaluate: false });
    await writeUpcycled(src, b, opts({ seed: 1 }), { evaluate: false });
    await writeUpcycled(src, c, opts({ seed: 2 }), { evaluate: false });
    assert.ok(fs.readFileSync(path.join(a, 'model.safetensors')).equals(fs.readFileSync(path.join(b, 'model.safetensors'))));
    withBoth(a, c, (x, y) => {
      const name = 'model.layers.0.block_sparse_moe.gate.weight';
      assert.equal(x.tensors.get(name)!.entry.dtype, 'BF16');
      assert.equal(raw(x, name).equals(raw(y, name)), false);
      assert.ok(raw(x, 'model.layers.1.block_sparse_moe.experts.3.w2.weight').equals(raw(y, 'model.layers.1.block_sparse_moe.experts.3.w2.weight')));
    });
    // The BF16 router is the seeded float32 draw rounded to nearest even.
    withBoth(src, a, (s, got) => {
      const draw = randomRouter(1, 0, 4, s.config.hiddenSize);
      const want = new Uint16Array(draw.length);
      f32ToBf16(draw, want);
      assert.ok(raw(got, 'model.layers.0.block_sparse_moe.gate.weight').equals(Buffer.from(want.buffer)));
    });
  });
});

describe('upcycle refusals (nothing written)', () => {
  const refuse = async (src: string, o: Partial<UpcycleOptions>, code: string, re: RegExp, out = fresh()): Promise<void> => {
    await assert.rejects(writeUpcycled(src, out, opts(o), { evaluate: false }), (e: unknown) => {
      assert.ok(e instanceof MoeError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      return true;
    });
    assertNothingWritten(out);
  };

  it('an MoE source, another family, bad E and K', async () => {
    await refuse(fixture('mixtral'), {}, 'E_INPUT', /already a mixture of experts; upcycle needs a dense model/);
    await refuse(fixture('qwen3_moe'), {}, 'E_INPUT', /model_type "qwen3_moe" is already a mixture of experts/);
    const other = path.join(root, 'mistral');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ ...readJson(path.join(fixture('llama'), 'config.json')), model_type: 'mistral' }));
    await refuse(other, {}, 'E_UNSUPPORTED', /model_type "mistral" cannot be upcycled \(supported: llama → mixtral, qwen3 → qwen3_moe\)/);
    await refuse(path.join(root, 'no-such-model'), {}, 'E_MODEL_DIR', /model folder not found/);
    await refuse(fixture('llama'), { topK: 5 }, 'E_INPUT', /top-k must be an integer from 1 to the number of experts \(4\), got 5/);
    await refuse(fixture('llama'), { topK: 0 }, 'E_INPUT', /top-k must be an integer/);
    await refuse(fixture('llama'), { experts: 2.5 }, 'E_INPUT', /number of experts must be an integer from 1 to 4096, got 2.5/);
    await refuse(fixture('llama'), { experts: 0, topK: 0 }, 'E_INPUT', /number of experts/);
    await refuse(fixture('qwen3'), { method: 'split', experts: 3, topK: 1 }, 'E_INPUT', /3 does not divide 128/);
    await refuse(fixture('qwen3'), { router: 'kmeans' }, 'E_INPUT', /the k-means router init clusters the MLP inputs of data tokens: give the data/);
    await refuse(fixture('qwen3'), { layers: [2] }, 'E_INPUT', /layer 2 does not exist \(the model has layers 0 to 1\)/);
  });

  it('what Mixtral cannot hold: a layer subset, mlp_bias, attention_bias', async () => {
    await refuse(fixture('llama'), { layers: [0] }, 'E_UNSUPPORTED', /a layer subset cannot be upcycled to Mixtral, which has no dense layers/);
    const base = readJson(path.join(fixture('llama'), 'config.json'));
    const mlpBias = path.join(root, 'llama-mlp-bias');
    await writeCheckpointForConfig(mlpBias, { ...base, mlp_bias: true }, 1);
    await refuse(mlpBias, {}, 'E_UNSUPPORTED', /"mlp_bias": true — Mixtral experts have no bias/);
    const attnBias = path.join(root, 'llama-attn-bias');
    await writeCheckpointForConfig(attnBias, { ...base, attention_bias: true }, 1);
    await refuse(attnBias, {}, 'E_UNSUPPORTED', /"attention_bias": true — Mixtral attention has no biases/);
  });

  it('an output folder that exists (not empty), or inside the source', async () => {
    const out = fresh();
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await assert.rejects(writeUpcycled(fixture('qwen3'), out, opts({}), { evaluate: false }), /already exists and is not empty/);
    assert.deepEqual(fs.readdirSync(out), ['keep.txt']);
    const src = path.join(root, 'src-copy');
    fs.mkdirSync(src);
    for (const f of fs.readdirSync(fixture('qwen3'))) fs.copyFileSync(path.join(fixture('qwen3'), f), path.join(src, f));
    const before = fs.readdirSync(src).sort();
    await assert.rejects(writeUpcycled(src, path.join(src, 'moe'), opts({}), { evaluate: false }), /inside the source model folder/);
    assert.deepEqual(fs.readdirSync(src).sort(), before);
  });
});
