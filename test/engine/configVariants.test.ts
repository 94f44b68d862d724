// The engine against the reference forward pass (validated on the HF fixtures in referenceForward.test.ts)
// on random checkpoints of configurations the fixtures do not cover: dense layers inside MoE models,
// sliding windows, clip_qkv, RoPE scaling, biases, odd head dims, 16-bit weights, top-k = all experts.
// Each variant also checks, on the reference alone, that the feature it exists for changes the outputs
// (otherwise agreement would prove nothing), and checks the config resolution it relies on.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { StorageDtype } from '../../src/engine/model/dtype';
import type { LayerSpec, ModelConfig } from '../../src/engine/model/modelConfig';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { MoeEngine } from '../../src/engine/moeEngine';
import { assertClose, maxAbsDiff } from '../support/compare';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';
import { referenceForward, referenceInvFreq, routerGap, type RefOutput, type WeightGetter } from '../support/referenceForward';

// Both sides compute from the same (possibly 16-bit-rounded) weights, so 1e-4 holds for every dtype.
const ATOL = 1e-4;
/** Tokens whose top k+1 router logits are closer than this are a near-tie: their routing is not compared. */
const TIE_GAP = 1e-4;
const T = 20;

interface Variant {
  readonly name: string;
  readonly dtype: StorageDtype;
  readonly config: Record<string, unknown>;
  /** Resolved independently from the raw config, to catch a parser that agrees with itself. */
  readonly expect: { readonly moeLayers: readonly number[]; readonly headDim: number; readonly numKvHeads?: number; readonly ropeTheta?: number; readonly eps?: number };
  /** The same config without the feature under test: the reference must then give different logits. */
  readonly without?: (c: ModelConfig) => ModelConfig;
  /** Extra checks on the reference run. */
  readonly check?: (c: ModelConfig, out: RefOutput) => void;
}

// A large rms_norm_eps: with the usual 1e-5/1e-6, a norm that used the wrong eps would stay within 1e-4.
const base = { hidden_act: 'silu', hidden_size: 32, vocab_size: 260, max_position_embeddings: 64, rms_norm_eps: 0.05, rope_theta: 10000 };
const omit = (o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([key]) => !keys.includes(key)));

const withoutRenorm = (c: ModelConfig): ModelConfig => ({
  ...c,
  layers: c.layers.map((l): LayerSpec => (l.kind === 'moe' ? { ...l, routing: { ...l.routing, renormalize: false } } : l)),
});
const withoutRopeScaling = (c: ModelConfig): ModelConfig => ({ ...c, ropeScaling: { type: 'default' } });

const variants: Variant[] = [
  {
    name: 'qwen2_moe: decoder_sparse_step 2 + mlp_only_layers (dense layers inside), norm_topk_prob',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['Qwen2MoeForCausalLM'],
      model_type: 'qwen2_moe',
      num_hidden_layers: 6,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 40,
      moe_intermediate_size: 16,
      shared_expert_intermediate_size: 24,
      num_experts: 6,
      num_experts_per_tok: 2,
      decoder_sparse_step: 2,
      mlp_only_layers: [0, 3],
      norm_topk_prob: true,
      use_sliding_window: false,
      sliding_window: 4,
    },
    // MoE iff not in mlp_only_layers and (i+1) % 2 == 0: 1, 3 (excluded), 5.
    expect: { moeLayers: [1, 5], headDim: 8 },
    without: withoutRenorm,
  },
  {
    name: 'qwen3_moe: norm_topk_prob, top-k 3, head_dim 12 != hidden/heads, attention_bias, dense layer 0',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 12,
      attention_bias: true,
      intermediate_size: 40,
      moe_intermediate_size: 16,
      num_experts: 8,
      num_experts_per_tok: 3,
      mlp_only_layers: [0],
      norm_topk_prob: true,
    },
    expect: { moeLayers: [1, 2], headDim: 12 },
    without: withoutRenorm,
  },
  {
    name: 'mixtral: sliding_window 5 < prompt, one KV head, head_dim 12',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 12,
      intermediate_size: 24,
      num_local_experts: 4,
      num_experts_per_tok: 2,
      sliding_window: 5,
      rope_theta: 1e6,
    },
    expect: { moeLayers: [0, 1], headDim: 12 },
    without: (c) => ({ ...c, attention: { ...c.attention, slidingWindow: null } }),
  },
  {
    name: 'olmoe: clip_qkv that clips part of q/k/v, norm_topk_prob',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['OlmoeForCausalLM'],
      model_type: 'olmoe',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 24,
      num_experts: 8,
      num_experts_per_tok: 2,
      clip_qkv: 0.5,
      norm_topk_prob: true,
    },
    expect: { moeLayers: [0, 1], headDim: 8 },
    without: (c) => ({ ...c, attention: { ...c.attention, clipQkv: null } }),
    check: (_c, out) => {
      // The clamp must bite on a good share of values, yet not on all (then it would be a constant).
      const share = out.clip.clipped / out.clip.total;
      assert.ok(share > 0.2 && share < 0.9, `clip_qkv clamps ${(share * 100).toFixed(1)}% of q/k/v values`);
    },
  },
  {
    name: 'granitemoe: other multipliers, untied lm_head, attention_bias, rms_norm_eps absent (1e-6)',
    dtype: 'F32',
    config: {
      ...omit(base, 'rms_norm_eps'),
      architectures: ['GraniteMoeForCausalLM'],
      model_type: 'granitemoe',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      intermediate_size: 24,
      num_local_experts: 5,
      num_experts_per_tok: 2,
      embedding_multiplier: 3,
      residual_multiplier: 0.5,
      attention_multiplier: 0.2,
      logits_scaling: 2.5,
      attention_bias: true,
      tie_word_embeddings: false,
    },
    expect: { moeLayers: [0, 1], headDim: 8, eps: 1e-6 },
    without: (c) => ({ ...c, residualMultiplier: 1 }),
  },
  {
    name: 'llama: attention_bias + mlp_bias, llama3 rope scaling with all three frequency bands',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      intermediate_size: 48,
      attention_bias: true,
      mlp_bias: true,
      // Wavelengths 2*pi*100^(i/8): 6.3 (< 32/4: kept), 11.2..19.9 (smoothed), 35.3.. (> 32/1: divided by 8).
      rope_theta: 100,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 },
    },
    expect: { moeLayers: [], headDim: 16 },
    without: withoutRopeScaling,
    check: (c) => {
      const wavelens = Array.from(referenceInvFreq({ ...c, ropeScaling: { type: 'default' } }), (f) => (2 * Math.PI) / f);
      const bands = [wavelens.some((w) => w < 8), wavelens.some((w) => w >= 8 && w <= 32), wavelens.some((w) => w > 32)];
      assert.deepEqual(bands, [true, true, true], `wavelengths ${wavelens.map((w) => w.toFixed(1)).join(', ')}`);
    },
  },
  {
    name: 'llama: linear rope scaling factor 2, tied embeddings, F16 weights',
    dtype: 'F16',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      intermediate_size: 48,
      tie_word_embeddings: true,
      rope_scaling: { type: 'linear', factor: 2 },
    },
    expect: { moeLayers: [], headDim: 8 },
    without: withoutRopeScaling,
  },
  {
    name: 'qwen3 dense: head_dim absent (128), BF16 weights',
    dtype: 'BF16',
    config: {
      ...base,
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      intermediate_size: 48,
      tie_word_embeddings: false,
    },
    expect: { moeLayers: [], headDim: 128 },
  },
  {
    name: 'mixtral: top-k = number of experts, num_key_value_heads absent (class default 8), BF16 weights',
    dtype: 'BF16',
    config: {
      ...base,
      architectures: ['MixtralForCausalLM'],
      model_type: 'mixtral',
      num_hidden_layers: 2,
      num_attention_heads: 8,
      intermediate_size: 24,
      num_local_experts: 4,
      num_experts_per_tok: 4,
    },
    expect: { moeLayers: [0, 1], headDim: 4, numKvHeads: 8 },
  },
  {
    name: 'qwen3_moe, transformers 5 keys: rope_parameters (linear, theta 500), dtype, num_key_value_heads absent (4)',
    dtype: 'F32',
    config: {
      ...omit(base, 'rope_theta'),
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      dtype: 'float32',
      num_hidden_layers: 2,
      num_attention_heads: 8,
      head_dim: 8,
      moe_intermediate_size: 16,
      num_experts: 6,
      num_experts_per_tok: 2,
      rope_parameters: { rope_type: 'linear', rope_theta: 500, factor: 4 },
    },
    expect: { moeLayers: [0, 1], headDim: 8, numKvHeads: 4, ropeTheta: 500 },
    without: withoutRopeScaling,
  },
  {
    name: 'qwen3_moe whose decoder_sparse_step exceeds the layer count: no MoE layer at all',
    dtype: 'F32',
    config: {
      ...base,
      architectures: ['Qwen3MoeForCausalLM'],
      model_type: 'qwen3_moe',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 40,
      moe_intermediate_size: 16,
      num_experts: 4,
      num_experts_per_tok: 2,
      decoder_sparse_step: 3,
    },
    expect: { moeLayers: [], headDim: 8 },
  },
  {
    name: 'qwen2_moe: top-k = number of experts, qkv_bias false, no renormalisation, F16 weights',
    dtype: 'F16',
    config: {
      ...base,
      architectures: ['Qwen2MoeForCausalLM'],
      model_type: 'qwen2_moe',
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      intermediate_size: 40,
      moe_intermediate_size: 16,
      shared_expert_intermediate_size: 24,
      num_experts: 4,
      num_experts_per_tok: 4,
      qkv_bias: false,
    },
    expect: { moeLayers: [0, 1], headDim: 8 },
  },
];

/** Deterministic ids in the byte-level tokenizer's range. */
function randomIds(seed: number): number[] {
  let x = seed * 2654435761 + 1;
  return Array.from({ length: T }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % 256;
  });
}

variants.forEach((v, vi) => {
  describe(`config variant: ${v.name}`, () => {
    it('engine matches the reference (logits, hidden states, router logits, routing)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-variant-'));
      let engine: MoeEngine | undefined;
      try {
        const config = await writeCheckpointForConfig(dir, v.config, 1000 + vi, v.dtype);
        assert.equal(config.headDim, v.expect.headDim, 'resolved head_dim');
        assert.deepEqual(config.layers.flatMap((l, i) => (l.kind === 'moe' ? [i] : [])), v.expect.moeLayers, 'resolved MoE layers');
        if (v.expect.numKvHeads !== undefined) assert.equal(config.numKvHeads, v.expect.numKvHeads, 'resolved num_key_value_heads');
        if (v.expect.ropeTheta !== undefined) assert.equal(config.ropeTheta, v.expect.ropeTheta, 'resolved rope theta');
        if (v.expect.eps !== undefined) assert.equal(config.rmsNormEps, v.expect.eps, 'resolved rms_norm_eps');
        const ids = randomIds(vi + 1);
        const st = openSafetensors(path.join(dir, 'model.safetensors'));
        const weight: WeightGetter = (n) => st.readF32(n);
        let ref: RefOutput;
        let featureEffect = NaN;
        try {
          ref = referenceForward(config, weight, ids);
          v.check?.(config, ref);
          if (v.without) {
            const off = referenceForward(v.without(config), weight, ids);
            const { diff } = maxAbsDiff(ref.logits.data, off.logits.data);
            assert.ok(diff > 1000 * ATOL, `the feature under test moves the logits by only ${diff}`);
            featureEffect = diff;
          }
        } finally {
          st.close();
        }

        engine = await MoeEngine.load(dir);
        const r = await engine.forward(ids, { routing: true, hidden: true, logits: true });
        const diffs: Record<string, number> = {};
        const cmp = (a: ArrayLike<number>, b: ArrayLike<number>, label: string): void => {
          diffs[label] = assertClose(a, b, ATOL, label);
        };
        cmp(r.hidden!.embeddings.data, ref.embeddings.data, 'embeddings');
        assert.equal(r.hidden!.layers.length, ref.hidden.length, 'number of hidden states');
        r.hidden!.layers.forEach((h, L) => cmp(h.data, ref.hidden[L]!.data, `hidden.${L}`));
        cmp(r.hidden!.finalNorm.data, ref.finalNorm.data, 'final_norm');
        cmp(r.logits!.data, ref.logits.data, 'logits');
        assert.deepEqual(r.routing.map((l) => l.layer), v.expect.moeLayers, 'engine MoE layers');
        let skipped = 0;
        r.routing.forEach((l, li) => {
          const rr = ref.routing[li]!;
          cmp(l.routerLogits.data, rr.routerLogits.data, `router_logits.${l.layer}`);
          const k = rr.topkIdx.cols;
          assert.equal(l.experts.cols, k, `top-k width of layer ${l.layer}`);
          for (let t = 0; t < T; t++) {
            if (routerGap(rr.routerLogits, t, k) < TIE_GAP) {
              skipped++;
              continue;
            }
            const at = `layer ${l.layer} token ${t}`;
            assert.deepEqual(Array.from(l.experts.data.subarray(t * k, (t + 1) * k)), Array.from(rr.topkIdx.data.subarray(t * k, (t + 1) * k)), `experts of ${at}`);
            const d = assertClose(l.weights.data.subarray(t * k, (t + 1) * k), rr.topkWeight.data.subarray(t * k, (t + 1) * k), ATOL, `topk_weight ${at}`);
            diffs[`topk_weight.${l.layer}`] = Math.max(diffs[`topk_weight.${l.layer}`] ?? 0, d);
          }
          assert.equal(l.sharedExpertGate !== undefined, rr.sharedExpertGate !== undefined, `shared expert gate presence, layer ${l.layer}`);
          if (l.sharedExpertGate && rr.sharedExpertGate) cmp(l.sharedExpertGate, rr.sharedExpertGate, `shared_expert_gate.${l.layer}`);
        });
        assert.ok(skipped <= 2, `${skipped} near-tied routing positions skipped`);
        // A one-token prompt: attention is causal, so its logits are row 0 of the full run.
        const one = await engine.forward(ids.slice(0, 1), { routing: true, hidden: false, logits: true });
        cmp(one.logits!.data, ref.logits.data.subarray(0, config.vocabSize), 'logits of a 1-token prompt');
        // MOE_VARIANT_DIFFS=1 prints the margins: max |engine - reference| and how far the feature moves the logits.
        if (process.env['MOE_VARIANT_DIFFS']) console.log(JSON.stringify({ variant: v.name, maxDiff: Math.max(...Object.values(diffs)), featureEffect, clip: ref.clip, skipped }));
      } finally {
        await engine?.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
