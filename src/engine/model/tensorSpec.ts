// The tensors a checkpoint must hold for a config, with their HF Hub names and shapes ([out, in] for
// Linear weights). One place knows the naming of every family.
import type { ModelConfig } from './modelConfig';

export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Names of one layer's routed-expert tensors, per family layout. */
export type ExpertLayout =
  | { readonly kind: 'separate'; readonly router: string; readonly gate: (e: number) => string; readonly up: (e: number) => string; readonly down: (e: number) => string }
  | { readonly kind: 'fused'; readonly router: string; readonly gateUp: string; readonly down: string };

export function expertLayout(c: ModelConfig, layer: number): ExpertLayout {
  const p = `model.layers.${layer}.`;
  switch (c.modelType) {
    case 'mixtral':
      return {
        kind: 'separate',
        router: `${p}block_sparse_moe.gate.weight`,
        gate: (e) => `${p}block_sparse_moe.experts.${e}.w1.weight`,
        up: (e) => `${p}block_sparse_moe.experts.${e}.w3.weight`,
        down: (e) => `${p}block_sparse_moe.experts.${e}.w2.weight`,
      };
    case 'granitemoe':
      return { kind: 'fused', router: `${p}block_sparse_moe.router.layer.weight`, gateUp: `${p}block_sparse_moe.input_linear.weight`, down: `${p}block_sparse_moe.output_linear.weight` };
    default:
      return {
        kind: 'separate',
        router: `${p}mlp.gate.weight`,
        gate: (e) => `${p}mlp.experts.${e}.gate_proj.weight`,
        up: (e) => `${p}mlp.experts.${e}.up_proj.weight`,
        down: (e) => `${p}mlp.experts.${e}.down_proj.weight`,
      };
  }
}

export function lmHeadName(c: ModelConfig): string {
  return c.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
}

/** Every tensor the engine reads, with its expected shape. */
export function expectedTensors(c: ModelConfig): ExpectedTensor[] {
  return [...eachExpectedTensor(c)];
}

/** The same, one at a time: a caller can stop early when a config implies more tensors than the files hold. */
export function* eachExpectedTensor(c: ModelConfig): Generator<ExpectedTensor> {
  const H = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const t = (name: string, shape: number[]): ExpectedTensor => ({ name, shape });
  yield t('model.embed_tokens.weight', [c.vocabSize, H]);
  yield t('model.norm.weight', [H]);
  if (!c.tieWordEmbeddings) yield t('lm_head.weight', [c.vocabSize, H]);
  for (const [i, layer] of c.layers.entries()) {
    const p = `model.layers.${i}.`;
    yield t(`${p}input_layernorm.weight`, [H]);
    yield t(`${p}post_attention_layernorm.weight`, [H]);
    const a = `${p}self_attn.`;
    yield t(`${a}q_proj.weight`, [qDim, H]);
    yield t(`${a}k_proj.weight`, [kvDim, H]);
    yield t(`${a}v_proj.weight`, [kvDim, H]);
    yield t(`${a}o_proj.weight`, [H, qDim]);
    if (c.attention.qkvBias) {
      yield t(`${a}q_proj.bias`, [qDim]);
      yield t(`${a}k_proj.bias`, [kvDim]);
      yield t(`${a}v_proj.bias`, [kvDim]);
    }
    if (c.attention.oBias) yield t(`${a}o_proj.bias`, [H]);
    if (c.attention.qkNorm === 'per_head') {
      yield t(`${a}q_norm.weight`, [c.headDim]);
      yield t(`${a}k_norm.weight`, [c.headDim]);
    } else if (c.attention.qkNorm === 'full') {
      yield t(`${a}q_norm.weight`, [qDim]);
      yield t(`${a}k_norm.weight`, [kvDim]);
    }
    if (layer.kind === 'dense') {
      const I = layer.intermediateSize;
      yield t(`${p}mlp.gate_proj.weight`, [I, H]);
      yield t(`${p}mlp.up_proj.weight`, [I, H]);
      yield t(`${p}mlp.down_proj.weight`, [H, I]);
      if (c.mlpBias) {
        yield t(`${p}mlp.gate_proj.bias`, [I]);
        yield t(`${p}mlp.up_proj.bias`, [I]);
        yield t(`${p}mlp.down_proj.bias`, [H]);
      }
      continue;
    }
    const E = layer.routing.numExperts;
    const I = layer.intermediateSize;
    const lay = expertLayout(c, i);
    yield t(lay.router, [E, H]);
    if (lay.kind === 'fused') {
      yield t(lay.gateUp, [E, 2 * I, H]);
      yield t(lay.down, [E, H, I]);
    } else {
      for (let e = 0; e < E; e++) {
        yield t(lay.gate(e), [I, H]);
        yield t(lay.up(e), [I, H]);
        yield t(lay.down(e), [H, I]);
      }
    }
    if (layer.shared) {
      const S = layer.shared.intermediateSize;
      yield t(`${p}mlp.shared_expert.gate_proj.weight`, [S, H]);
      yield t(`${p}mlp.shared_expert.up_proj.weight`, [S, H]);
      yield t(`${p}mlp.shared_expert.down_proj.weight`, [H, S]);
      if (layer.shared.sigmoidGate) yield t(`${p}mlp.shared_expert_gate.weight`, [1, H]);
    }
  }
}
