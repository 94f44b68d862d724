// computeGradients on random checkpoints of configurations the fixtures do not cover (dense layers inside
// MoE models, renormalised top-3, sliding window, one KV head, clip_qkv that bites, Granite multipliers with
// an untied head, biases everywhere, llama3 RoPE), against float64 central differences of the reference
// loss, with the load-balancing loss, the z-loss and a loss mask all on. Tolerance as in gradients.test.ts
// (1e-3 relative + 1e-5): float32 forward/backward against a float64 difference with negligible error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { computeGradients } from '../../src/engine/training/computeGradients';
import { releaseTrainingSessions } from '../../src/engine/training/sessionCache';
import { writeCheckpointForConfig } from '../support/randomCheckpoint';
import { referenceForward } from '../support/referenceForward';
import { directionalDerivative, dot, everyParameter, float64Weights, normalStream, PARAM_GROUPS, randomDirection } from '../support/referenceGradients';

const base = { hidden_act: 'silu', hidden_size: 32, vocab_size: 260, max_position_embeddings: 64, rms_norm_eps: 0.05, rope_theta: 10000 };
const configs: { name: string; config: Record<string, unknown> }[] = [
  {
    name: 'qwen2_moe: dense layers inside (sparse step 2, mlp_only_layers), norm_topk_prob, shared expert with sigmoid gate',
    config: { ...base, architectures: ['Qwen2MoeForCausalLM'], model_type: 'qwen2_moe', num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 40, moe_intermediate_size: 16, shared_expert_intermediate_size: 24, num_experts: 6, num_experts_per_tok: 2, decoder_sparse_step: 2, mlp_only_layers: [3], norm_topk_prob: true, use_sliding_window: false },
  },
  {
    name: 'qwen3_moe: top-3 renormalised, head_dim 12, attention_bias, dense layer 0',
    config: { ...base, architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, attention_bias: true, intermediate_size: 40, moe_intermediate_size: 16, num_experts: 8, num_experts_per_tok: 3, mlp_only_layers: [0], norm_topk_prob: true },
  },
  {
    name: 'mixtral: sliding window 5, one KV head, head_dim 12',
    config: { ...base, architectures: ['MixtralForCausalLM'], model_type: 'mixtral', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 12, intermediate_size: 24, num_local_experts: 4, num_experts_per_tok: 2, sliding_window: 5, rope_theta: 1e6 },
  },
  {
    name: 'olmoe: clip_qkv 0.5 (clamps part of q/k/v), norm_topk_prob',
    config: { ...base, architectures: ['OlmoeForCausalLM'], model_type: 'olmoe', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 24, num_experts: 8, num_experts_per_tok: 2, clip_qkv: 0.5, norm_topk_prob: true },
  },
  {
    name: 'granitemoe: multipliers, untied lm_head, attention_bias',
    config: { ...base, architectures: ['GraniteMoeForCausalLM'], model_type: 'granitemoe', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, intermediate_size: 24, num_local_experts: 5, num_experts_per_tok: 2, embedding_multiplier: 3, residual_multiplier: 0.5, attention_multiplier: 0.2, logits_scaling: 2.5, attention_bias: true, tie_word_embeddings: false },
  },
  {
    name: 'llama: attention_bias + mlp_bias, llama3 RoPE scaling, tied embeddings',
    config: { ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 48, attention_bias: true, mlp_bias: true, tie_word_embeddings: true, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } },
  },
];

const T = 20;
const opts = { auxCoef: 0.2, zCoef: 0.01 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-grad-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('gradients on random configurations vs float64 reference', () => {
  configs.forEach(({ name, config }, k) => {
    it(name, async () => {
      const dir = path.join(root, `m${k}`);
      const c = await writeCheckpointForConfig(dir, config, 100 + k);
      const rnd = normalStream(k);
      const ids = Array.from({ length: T }, () => Math.floor(Math.abs(rnd() * 1e6)) % 256);
      const mask = Float32Array.from({ length: T - 1 }, (_, i) => (i % 4 === 2 ? 0 : 1));
      const st = openSafetensors(path.join(dir, 'model.safetensors'));
      const weights = float64Weights(c, (n) => st.readF32(n));
      st.close();
      if (c.attention.clipQkv !== null) {
        const clip = referenceForward(c, (n) => weights.get(n)!, ids).clip;
        assert.ok(clip.clipped / clip.total > 0.1, `clip_qkv clamps ${clip.clipped} of ${clip.total} values`);
      }
      const engine = await MoeEngine.load(dir);
      try {
        const r = await computeGradients(engine, ids, { trainable: everyParameter(c), auxLossCoef: opts.auxCoef, zLossCoef: opts.zCoef, lossMask: mask });
        let checked = 0;
        Object.entries(PARAM_GROUPS).forEach(([g, pick], i) => {
          if (![...weights.keys()].some(pick)) return;
          const dir = randomDirection(weights, pick, 2000 + i);
          const got = dot(r.grads, dir);
          const want = directionalDerivative(c, weights, dir, ids, { ...opts, lossMask: mask }).value;
          assert.ok(Math.abs(got - want) <= 1e-3 * Math.abs(want) + 1e-5, `${g}: engine ${got}, float64 reference ${want}`);
          checked++;
        });
        assert.ok(checked >= 4, `${checked} groups checked`);
      } finally {
        await releaseTrainingSessions(engine);
        await engine.dispose();
      }
    });
  });
});
