// The fine-grained MoE shapes of issue #9 §3 (2 decoder layers each, vocab 8000, BF16 random weights),
// written once into .cache/bench-fine-grained/<shape>/ and reused while their spec is unchanged.
// Tensors are generated lazily (one in memory at a time): a Qwen3-30B-A3B-shaped pair of layers is 1.2 G
// parameters, too many to hold as float32 twice over on a shared machine.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseModelConfig } from '../../src/engine/model/parseConfig';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';
import { expectedTensors } from '../../src/engine/model/tensorSpec';

export interface FineGrainedShape {
  /** Short name used in the figures and the cache folder. */
  readonly name: string;
  readonly config: Record<string, unknown>;
}

const common = { hidden_size: 2048, num_hidden_layers: 2, vocab_size: 8000, max_position_embeddings: 4096, tie_word_embeddings: false, hidden_act: 'silu', torch_dtype: 'bfloat16' };

export const fineGrainedShapes: readonly FineGrainedShape[] = [
  {
    name: 'OLMoE-1B-7B',
    config: { ...common, model_type: 'olmoe', num_attention_heads: 16, num_key_value_heads: 16, intermediate_size: 1024, num_experts: 64, num_experts_per_tok: 8, norm_topk_prob: false, clip_qkv: null, rope_theta: 10000, rms_norm_eps: 1e-5 },
  },
  {
    name: 'Qwen3-30B-A3B',
    config: {
      ...common,
      model_type: 'qwen3_moe',
      num_attention_heads: 32,
      num_key_value_heads: 4,
      head_dim: 128,
      intermediate_size: 6144,
      moe_intermediate_size: 768,
      num_experts: 128,
      num_experts_per_tok: 8,
      norm_topk_prob: true,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
      use_sliding_window: false,
      attention_bias: false,
      rope_theta: 1000000,
      rms_norm_eps: 1e-6,
    },
  },
  {
    name: 'Qwen1.5-MoE-A2.7B',
    config: {
      ...common,
      model_type: 'qwen2_moe',
      num_attention_heads: 16,
      num_key_value_heads: 16,
      intermediate_size: 5632,
      moe_intermediate_size: 1408,
      shared_expert_intermediate_size: 5632,
      num_experts: 60,
      num_experts_per_tok: 4,
      norm_topk_prob: false,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
      use_sliding_window: false,
      qkv_bias: true,
      rope_theta: 1000000,
      rms_norm_eps: 1e-6,
    },
  },
];

export const fineGrainedRoot = path.resolve(__dirname, '..', '..', '.cache', 'bench-fine-grained');

/** Uniform values of standard deviation `std` (xorshift32; the distribution's shape does not matter for speed). */
function fill(n: number, std: number, seed: number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  const a = std * Math.sqrt(12);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = mean + a * (s / 4294967296 - 0.5);
  }
  return out;
}

/** Role-dependent scale, as test/support/randomCheckpoint.ts chooses it: unit-variance activations, decisive routers. */
function tensorValues(name: string, shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const fanIn = shape[shape.length - 1]!;
  if (/norm\.weight$/.test(name)) return fill(n, 0.2 / Math.sqrt(12), seed, 1);
  if (name.endsWith('.bias')) return fill(n, 0.3, seed);
  if (name === 'model.embed_tokens.weight') return fill(n, 1, seed);
  if (/\.mlp\.gate\.weight$/.test(name)) return fill(n, 3 / Math.sqrt(fanIn), seed);
  return fill(n, 1 / Math.sqrt(fanIn), seed);
}

/** The checkpoint folder of a shape, generated when missing or stale. */
export async function ensureFineGrainedCheckpoint(shape: FineGrainedShape, log: (s: string) => void): Promise<string> {
  const dir = path.join(fineGrainedRoot, shape.name);
  const marker = path.join(dir, 'moe_workbench_bench.json');
  const want = JSON.stringify({ config: shape.config, generator: 1 });
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return dir;
  const t0 = Date.now();
  fs.mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(shape.config, path.join(dir, 'config.json'));
  const tensors: TensorToWrite[] = expectedTensors(config).map(({ name, shape: dims }, i) => ({ name, dtype: 'BF16', shape: dims, data: () => tensorValues(name, dims, 0x9e3779b9 ^ (i * 7919 + 1)) }));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(shape.config, null, 2) + '\n');
  // Byte-level tokenizer (ids 0..255) of the Mixtral fixture: the benchmark feeds ids, not text.
  const fixture = path.resolve(__dirname, '..', '..', '..', 'shared', 'fixtures', 'hf-moe', 'mixtral');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  fs.writeFileSync(marker, want);
  log(`generated ${shape.name} checkpoint in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${dir}`);
  return dir;
}
