// config.json numbers are validated before anything is sized from them (issue #8): unbounded sizes used to
// abort the process (heap OOM), hang (100M experts) or throw a bare RangeError; degenerate values gave
// all-NaN output. Each refusal goes through the real loader and names the key and the value.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeError } from '../../src/protocol/moeError';
import { fixtureNames } from '../support/paths';
import { copyFixture, editJson, removeTempModels } from '../support/tempModel';

type Edit = (c: Record<string, unknown>) => void;

/** Loads a fixture copy with `edit` applied to its config.json; expects a refusal naming `key` and `value`. */
async function expectRefused(family: string, edit: Edit, key: string, value: string): Promise<void> {
  const dir = copyFixture(family);
  const configFile = path.join(dir, 'config.json');
  editJson(configFile, edit);
  await assert.rejects(MoeEngine.load(dir), (e: unknown) => {
    assert.ok(e instanceof MoeError, `${family}: not a MoeError: ${String(e)}`);
    assert.ok(e.code === 'E_CONFIG' || e.code === 'E_WEIGHTS', `${family}: code ${e.code}: ${e.message}`);
    assert.ok(e.message.includes(key), `${family}: the message names ${key}: ${e.message}`);
    assert.ok(e.message.includes(value), `${family}: the message gives the value ${value}: ${e.message}`);
    assert.ok(e.message.includes(configFile), `${family}: the message names ${configFile}: ${e.message}`);
    return true;
  });
}

const set =
  (key: string, v: unknown): Edit =>
  (c) => {
    c[key] = v;
  };

const EXPERTS_KEY: Record<string, string | undefined> = { mixtral: 'num_local_experts', granitemoe: 'num_local_experts', qwen2_moe: 'num_experts', qwen3_moe: 'num_experts', olmoe: 'num_experts' };
const MOE_INTER_KEY: Record<string, string> = { qwen2_moe: 'moe_intermediate_size', qwen3_moe: 'moe_intermediate_size' };

describe('config.json numbers are validated before anything is allocated', () => {
  after(removeTempModels);
  // Refusals read headers only: a bound on what the process holds afterwards shows nothing was sized from a bad value.
  const before = process.memoryUsage();
  after(() => {
    const now = process.memoryUsage();
    const grown = now.heapUsed + now.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    assert.ok(grown < 256 * 2 ** 20, `refusals allocated ${(grown / 2 ** 20).toFixed(0)} MiB`);
  });

  for (const family of fixtureNames) {
    describe(family, () => {
      it('num_hidden_layers: 1000000000 is refused by name (was a fatal heap OOM)', async () => {
        await expectRefused(family, set('num_hidden_layers', 1_000_000_000), '"num_hidden_layers"', '1000000000');
      });

      it('num_hidden_layers: 1e12 is refused by name (was a bare RangeError)', async () => {
        await expectRefused(family, set('num_hidden_layers', 1e12), '"num_hidden_layers"', '1000000000000');
      });

      it('num_hidden_layers above the layers the weight files declare is refused', async () => {
        await expectRefused(family, set('num_hidden_layers', 40), '"num_hidden_layers" is 40, but the weight files declare tensors for', '40');
      });

      it('hidden_size and vocab_size must match the embedding the headers declare', async () => {
        await expectRefused(family, set('vocab_size', 100_000_000), '"vocab_size"', '100000000');
        await expectRefused(family, set('hidden_size', 4096), '"hidden_size"', '4096');
      });

      it('the MLP width must match the weights', async () => {
        await expectRefused(family, set(MOE_INTER_KEY[family] ?? 'intermediate_size', 1 << 20), `"${MOE_INTER_KEY[family] ?? 'intermediate_size'}"`, String(1 << 20));
      });

      const expertsKey = EXPERTS_KEY[family];
      if (expertsKey !== undefined) {
        it(`${expertsKey}: 100000000 is refused by name (was a hang)`, async () => {
          await expectRefused(family, set(expertsKey, 100_000_000), `"${expertsKey}"`, '100000000');
        });

        it('num_experts_per_tok must be 1..the number of experts', async () => {
          await expectRefused(family, set('num_experts_per_tok', 0), '"num_experts_per_tok"', '0');
          await expectRefused(family, set('num_experts_per_tok', 1000), '"num_experts_per_tok" (1000)', expertsKey);
        });
      }

      it('rms_norm_eps <= 0 is refused (was all-NaN output)', async () => {
        await expectRefused(family, set('rms_norm_eps', 0), '"rms_norm_eps"', '0');
        await expectRefused(family, set('rms_norm_eps', -1e-6), '"rms_norm_eps"', '-0.000001');
      });

      it('rope_theta must be a positive finite number', async () => {
        await expectRefused(family, set('rope_theta', 0), '"rope_theta"', '0');
        await expectRefused(family, set('rope_theta', 'big'), '"rope_theta"', '"big"');
      });

      it('a linear rope_scaling.factor <= 0 is refused (was all-NaN output)', async () => {
        await expectRefused(family, set('rope_scaling', { type: 'linear', factor: 0 }), '"rope_scaling.factor"', '0');
        await expectRefused(family, set('rope_scaling', { rope_type: 'linear', factor: -2 }), '"rope_scaling.factor"', '-2');
      });

      it('max_position_embeddings and head counts must be positive integers', async () => {
        await expectRefused(family, set('max_position_embeddings', 0), '"max_position_embeddings"', '0');
        await expectRefused(family, set('max_position_embeddings', 1.5), '"max_position_embeddings"', '1.5');
        await expectRefused(family, set('num_attention_heads', -4), '"num_attention_heads"', '-4');
        await expectRefused(family, set('num_key_value_heads', 3), 'num_key_value_heads', '3');
      });
    });
  }

  it('a non-finite number (1e400 parses as Infinity) is refused by name', async () => {
    const dir = copyFixture('llama');
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"rms_norm_eps": [^,]+,/, '"rms_norm_eps": 1e400,'));
    await assert.rejects(MoeEngine.load(dir), /"rms_norm_eps" must be a finite number, got null/);
  });

  it('a degenerate llama3 rope is refused: high_freq_factor must exceed low_freq_factor, every figure > 0', async () => {
    const llama3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const rope = (over: Record<string, unknown>): Edit => set('rope_scaling', { ...llama3, ...over });
    await expectRefused('llama', rope({ high_freq_factor: 1 }), '"rope_scaling.high_freq_factor" (1) must be greater than "rope_scaling.low_freq_factor" (1)', '1');
    await expectRefused('llama', rope({ low_freq_factor: 0 }), '"rope_scaling.low_freq_factor"', '0');
    await expectRefused('llama', rope({ factor: 0 }), '"rope_scaling.factor"', '0');
    await expectRefused('llama', rope({ original_max_position_embeddings: 0 }), '"rope_scaling.original_max_position_embeddings"', '0');
    await expectRefused('llama', rope({ original_max_position_embeddings: 100.5 }), '"rope_scaling.original_max_position_embeddings"', '100.5');
    // transformers 5 spelling
    await expectRefused('qwen3', set('rope_parameters', { rope_type: 'linear', rope_theta: -1, factor: 2 }), '"rope_parameters.rope_theta"', '-1');
    await expectRefused('qwen3', set('rope_parameters', { rope_type: 'linear', rope_theta: 500, factor: 0 }), '"rope_parameters.factor"', '0');
  });

  it('clip_qkv <= 0 is refused (OLMoE)', async () => {
    await expectRefused('olmoe', set('clip_qkv', 0), '"clip_qkv"', '0');
    await expectRefused('olmoe', set('clip_qkv', -8), '"clip_qkv"', '-8');
  });

  it('GraniteMoE attention scale and multipliers must be > 0', async () => {
    await expectRefused('granitemoe', set('attention_multiplier', 0), '"attention_multiplier"', '0');
    await expectRefused('granitemoe', set('attention_multiplier', -0.1), '"attention_multiplier"', '-0.1');
    await expectRefused('granitemoe', set('embedding_multiplier', 0), '"embedding_multiplier"', '0');
    await expectRefused('granitemoe', set('residual_multiplier', -1), '"residual_multiplier"', '-1');
    await expectRefused('granitemoe', set('logits_scaling', 0), '"logits_scaling"', '0');
  });

  it('head_dim must be an even positive integer matching the attention weights', async () => {
    await expectRefused('qwen3', set('head_dim', 0), '"head_dim"', '0');
    await expectRefused('qwen3', set('head_dim', 15), '"head_dim"', '15');
    await expectRefused('qwen3', set('head_dim', 64), '"num_attention_heads" × head dimension (4 × 64)', '64');
  });

  it('Qwen MoE layout numbers: decoder_sparse_step, shared_expert_intermediate_size, mlp_only_layers', async () => {
    await expectRefused('qwen2_moe', set('decoder_sparse_step', 0), '"decoder_sparse_step"', '0');
    await expectRefused('qwen2_moe', set('shared_expert_intermediate_size', 1 << 20), '"shared_expert_intermediate_size"', String(1 << 20));
    await expectRefused('qwen3_moe', set('mlp_only_layers', [-1]), '"mlp_only_layers"', '-1');
  });

  it('a huge expert count is refused even when no router tensor shows the real count (counted lazily, never enumerated)', async () => {
    const dir = copyFixture('olmoe');
    const file = path.join(dir, 'model.safetensors');
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
    for (const k of Object.keys(header)) if (k.endsWith('.mlp.gate.weight')) (header[k.replace('.mlp.gate.', '.mlp.gatX.')] = header[k]), delete header[k];
    const text = JSON.stringify(header).padEnd(n, ' ');
    assert.equal(Buffer.byteLength(text), n, 'the renamed header keeps its length, so the data offsets still hold');
    fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), Buffer.from(text), buf.subarray(8 + n)]));
    editJson(path.join(dir, 'config.json'), set('num_experts', 100_000_000));
    await assert.rejects(MoeEngine.load(dir), /config\.json: the config implies more tensors than the \d+ the weight files declare/);
  });

  it('Mixtral sliding_window must be a positive integer', async () => {
    await expectRefused('mixtral', set('sliding_window', 0), '"sliding_window"', '0');
  });
});
