// Writes a randomly initialised Mixtral-layout checkpoint (config.json, model.safetensors, tokenizer.json)
// for the demo and the benchmark. Deterministic for a seed. With `plantedRouting`, token embeddings and
// router rows share per-token-class directions (letters, digits, spaces, punctuation, ...) so routing
// shows visible structure even though nothing was trained.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writeAll } from '../engine/atomicFile';
import { writeSafetensors, type TensorToWrite } from '../engine/model/safetensorsWriter';
import { buildByteLevelTokenizer } from './byteLevelTokenizer';

export interface RandomMoeSpec {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly numExperts: number;
  readonly topK: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly seed: number;
  /** Text the tokenizer's merges are learnt from, and how many merges (0 = bytes only). */
  readonly tokenizerCorpus: string;
  readonly merges: number;
  readonly plantedRouting: boolean;
  /** A ready tokenizer.json object to ship instead of learning one from `tokenizerCorpus`. */
  readonly tokenizerJson?: object;
  /** Storage dtype of the weights (default F32); config.json's torch_dtype says it. */
  readonly dtype?: 'F32' | 'BF16';
  /** Extra config.json keys (e.g. bos/eos token ids, router_aux_loss_coef). */
  readonly config?: Record<string, unknown>;
}

/** xorshift128+ with Box-Muller: deterministic normal samples. */
function normalSampler(seed: number): () => number {
  let s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  let s1 = s0 ^ 0xdeadbeefcafebaben;
  const mask = (1n << 64n) - 1n;
  const u = (): number => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & mask;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (Number((s1 + y) & ((1n << 53n) - 1n)) + 0.5) / 2 ** 53;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Fast deterministic fill for large tensors (the normal sampler is too slow for 100M+ values). */
function fill(n: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    // Sum of 4 uniforms (Irwin-Hall), centred and scaled: close enough to normal for random weights.
    let s = 0;
    for (let k = 0; k < 4; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += (x >>> 0) / 4294967296;
    }
    out[i] = (s - 2) * std * Math.sqrt(3);
  }
  return out;
}

function tokenClass(text: string): number {
  const t = text.replace(/^Ġ/, ' ');
  if (/^\s+$/.test(t)) return 0;
  if (/^ ?[a-z]/.test(t)) return 1;
  if (/^ ?[A-Z]/.test(t)) return 2;
  if (/^ ?[0-9]/.test(t)) return 3;
  if (/^ ?[.,;:!?]/.test(t)) return 4;
  if (/^ ?[(){}[\]<>"'`]/.test(t)) return 5;
  if (/^ ?[-+*/=%&|^~#@$\\_]/.test(t)) return 6;
  return 7;
}

export async function writeRandomCheckpoint(dir: string, s: RandomMoeSpec): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const H = s.hiddenSize;
  const D = H / s.numHeads;
  const I = s.intermediateSize;
  const E = s.numExperts;
  const tokenizer = (s.tokenizerJson ?? buildByteLevelTokenizer(s.tokenizerCorpus, s.merges)) as { model: { vocab: Record<string, number> } };
  const tokVocab = Object.keys(tokenizer.model.vocab).length;
  if (tokVocab > s.vocabSize) throw new Error(`tokenizer has ${tokVocab} tokens, more than vocab_size ${s.vocabSize}`);
  let seed = s.seed * 7919;
  const rnd = (n: number, std: number): Float32Array => fill(n, std, ++seed);
  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], data: Float32Array): void => {
    tensors.push({ name, dtype: s.dtype ?? 'F32', shape, data });
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);

  const normal = normalSampler(s.seed);
  const classes = 8;
  const classDir = Array.from({ length: classes }, () => {
    const v = Float32Array.from({ length: H }, normal);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
  const embed = rnd(s.vocabSize * H, 0.02);
  if (s.plantedRouting) {
    for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
      const dir = classDir[tokenClass(text)]!;
      for (let j = 0; j < H; j++) embed[id * H + j]! += 0.3 * dir[j]!;
    }
  }
  add('model.embed_tokens.weight', [s.vocabSize, H], embed);
  add('model.norm.weight', [H], ones(H));
  add('lm_head.weight', [s.vocabSize, H], rnd(s.vocabSize * H, 0.02));
  for (let L = 0; L < s.numLayers; L++) {
    const p = `model.layers.${L}.`;
    add(`${p}input_layernorm.weight`, [H], ones(H));
    add(`${p}post_attention_layernorm.weight`, [H], ones(H));
    add(`${p}self_attn.q_proj.weight`, [s.numHeads * D, H], rnd(s.numHeads * D * H, 0.02));
    add(`${p}self_attn.k_proj.weight`, [s.numKvHeads * D, H], rnd(s.numKvHeads * D * H, 0.02));
    add(`${p}self_attn.v_proj.weight`, [s.numKvHeads * D, H], rnd(s.numKvHeads * D * H, 0.02));
    add(`${p}self_attn.o_proj.weight`, [H, s.numHeads * D], rnd(s.numHeads * D * H, 0.02));
    const router = rnd(E * H, 0.02);
    if (s.plantedRouting) {
      // Expert e prefers token class (e + L) mod classes: a different assignment in every layer.
      for (let e = 0; e < E; e++) {
        const dir = classDir[(e + L) % classes]!;
        for (let j = 0; j < H; j++) router[e * H + j]! += (6 / Math.sqrt(H)) * dir[j]!;
      }
    }
    add(`${p}block_sparse_moe.gate.weight`, [E, H], router);
    for (let e = 0; e < E; e++) {
      const x = `${p}block_sparse_moe.experts.${e}.`;
      add(`${x}w1.weight`, [I, H], rnd(I * H, 0.02));
      add(`${x}w3.weight`, [I, H], rnd(I * H, 0.02));
      add(`${x}w2.weight`, [H, I], rnd(H * I, 0.02));
    }
  }
  const config = {
    architectures: ['MixtralForCausalLM'],
    attention_dropout: 0.0,
    bos_token_id: null,
    eos_token_id: null,
    head_dim: D,
    hidden_act: 'silu',
    hidden_size: H,
    intermediate_size: I,
    max_position_embeddings: s.contextLength,
    model_type: 'mixtral',
    num_attention_heads: s.numHeads,
    num_experts_per_tok: s.topK,
    num_hidden_layers: s.numLayers,
    num_key_value_heads: s.numKvHeads,
    num_local_experts: E,
    rms_norm_eps: 1e-5,
    rope_theta: 1e6,
    sliding_window: null,
    tie_word_embeddings: false,
    torch_dtype: s.dtype === 'BF16' ? 'bfloat16' : 'float32',
    vocab_size: s.vocabSize,
    ...s.config,
  };
  const json = (file: string, v: unknown): Promise<void> => writeFileAtomic(path.join(dir, file), (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(v, null, 1) + '\n')));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await json('tokenizer.json', tokenizer);
  await json('tokenizer_config.json', { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: s.contextLength, clean_up_tokenization_spaces: false });
  await json('config.json', config);
}
