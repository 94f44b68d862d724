// config.json of the upcycled model: the source's keys that the target family shares, the dense family's
// own keys dropped, every value that changes the numbers written explicitly (the two families' class
// defaults differ: num_key_value_heads, rms_norm_eps, rope_theta, head_dim), and the target's MoE keys as
// transformers' MixtralConfig / Qwen3MoeConfig define them. Keys sorted, as save_pretrained writes them.
import type { ModelConfig } from '../model/modelConfig';
import type { UpcyclePlan } from './upcyclePlan';

/** Keys of the dense source that the target class does not define (they would be stray attributes on it). */
const DROPPED: Readonly<Record<UpcyclePlan['target'], readonly string[]>> = {
  // LlamaConfig only; Mixtral attention and experts have no biases (refused when true) and no tensor parallel pretraining split.
  mixtral: ['attention_bias', 'mlp_bias', 'pretraining_tp', 'use_sliding_window', 'max_window_layers', 'layer_types'],
  // Qwen3Config only (transformers 4.5x); Qwen3MoeConfig keeps attention_bias, sliding_window, use_sliding_window, max_window_layers.
  qwen3_moe: ['layer_types', 'mlp_bias', 'pretraining_tp'],
};

const ARCHITECTURE: Readonly<Record<UpcyclePlan['target'], string>> = { mixtral: 'MixtralForCausalLM', qwen3_moe: 'Qwen3MoeForCausalLM' };

/** The target config as an object (before serialising). */
export function upcycleConfig(raw: Readonly<Record<string, unknown>>, c: ModelConfig, p: UpcyclePlan): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const k of DROPPED[p.target]) delete out[k];
  const { experts, topK } = p.options;
  Object.assign(out, {
    model_type: p.target,
    architectures: [ARCHITECTURE[p.target]],
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    num_experts_per_tok: topK,
    output_router_logits: false,
  });
  if (p.target === 'mixtral') {
    // Mixtral's intermediate_size is each expert's; 0.02 is the released Mixtral's and Drop-Upcycling's value (the class default is 0.001).
    Object.assign(out, { intermediate_size: p.expertIntermediate, num_local_experts: experts, router_aux_loss_coef: 0.02, router_jitter_noise: 0.0, sliding_window: null });
    // MixtralConfig has no rope_scaling argument; a real scaling passes through to the rotary embedding as an attribute.
    if (out['rope_scaling'] === null) delete out['rope_scaling'];
  } else {
    const moe = new Set(p.moeLayers);
    Object.assign(out, {
      intermediate_size: p.denseIntermediate, // the dense MLP of the mlp_only_layers
      moe_intermediate_size: p.expertIntermediate,
      num_experts: experts,
      // Renormalised top-k weights sum to 1, so identical experts compute the dense MLP exactly (the class default is false).
      norm_topk_prob: true,
      decoder_sparse_step: 1,
      mlp_only_layers: c.layers.map((_, i) => i).filter((i) => !moe.has(i)),
      router_aux_loss_coef: 0.001,
    });
  }
  return Object.fromEntries(Object.keys(out).sort().map((k) => [k, out[k]]));
}

export function upcycleConfigText(raw: Readonly<Record<string, unknown>>, c: ModelConfig, p: UpcyclePlan): string {
  return JSON.stringify(upcycleConfig(raw, c, p), null, 2) + '\n';
}
