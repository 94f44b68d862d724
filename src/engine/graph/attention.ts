// Causal self-attention of one decoder layer, HF eager semantics: q/k/v projections (+bias), q/k norms
// (Qwen3 per head, OLMoE over the whole projection), OLMoE clip_qkv, rotate-half RoPE, GQA, scaled
// softmax(q k^T) with an additive mask, o projection.
import type { ModelConfig } from '../model/modelConfig';
import { int, ints, type GraphBuilder } from '../onnx/graphBuilder';
import { linear } from './linear';
import { rmsNorm } from './norms';

export interface RopeTables {
  /** [T, 1, D] */
  readonly cos: string;
  readonly sin: string;
}

function rotate(g: GraphBuilder, x: string, rope: RopeTables): string {
  const [x1, x2] = g.node('Split', [x], { axis: int(-1) }, { outputs: 2 }) as [string, string];
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: int(-1) });
  return g.op('Add', [g.op('Mul', [x, rope.cos]), g.op('Mul', [rotated, rope.sin])]);
}

export function attention(g: GraphBuilder, c: ModelConfig, layer: number, x: string, rope: RopeTables, mask: string): string {
  const p = `model.layers.${layer}.self_attn.`;
  const H = c.hiddenSize;
  const D = c.headDim;
  const nH = c.numHeads;
  const nKV = c.numKvHeads;
  const qDim = nH * D;
  const kvDim = nKV * D;
  const a = c.attention;
  const w = (n: string, dims: number[]): string => g.weight(p + n, dims);

  let q = linear(g, x, w('q_proj.weight', [qDim, H]), a.qkvBias ? w('q_proj.bias', [qDim]) : undefined);
  let k = linear(g, x, w('k_proj.weight', [kvDim, H]), a.qkvBias ? w('k_proj.bias', [kvDim]) : undefined);
  let v = linear(g, x, w('v_proj.weight', [kvDim, H]), a.qkvBias ? w('v_proj.bias', [kvDim]) : undefined);
  if (a.qkNorm === 'full') {
    q = rmsNorm(g, q, w('q_norm.weight', [qDim]), c.rmsNormEps);
    k = rmsNorm(g, k, w('k_norm.weight', [kvDim]), c.rmsNormEps);
  }
  if (a.clipQkv !== null) {
    const lo = g.scalar(-a.clipQkv);
    const hi = g.scalar(a.clipQkv);
    q = g.op('Clip', [q, lo, hi]);
    k = g.op('Clip', [k, lo, hi]);
    v = g.op('Clip', [v, lo, hi]);
  }
  q = g.op('Reshape', [q, g.i64([0, nH, D])]); // [T, nH, D]
  k = g.op('Reshape', [k, g.i64([0, nKV, D])]);
  v = g.op('Reshape', [v, g.i64([0, nKV, D])]);
  if (a.qkNorm === 'per_head') {
    q = rmsNorm(g, q, w('q_norm.weight', [D]), c.rmsNormEps);
    k = rmsNorm(g, k, w('k_norm.weight', [D]), c.rmsNormEps);
  }
  q = rotate(g, q, rope);
  k = rotate(g, k, rope);

  // GQA by broadcasting: query head h = kv * G + g uses kv head h // G.
  const G = nH / nKV;
  const q4 = g.op('Reshape', [g.op('Transpose', [q], { perm: ints([1, 0, 2]) }), g.i64([nKV, G, -1, D])]); // [nKV, G, T, D]
  const kT = g.op('Unsqueeze', [g.op('Transpose', [k], { perm: ints([1, 2, 0]) }), g.i64([1])]); // [nKV, 1, D, T]
  const v4 = g.op('Unsqueeze', [g.op('Transpose', [v], { perm: ints([1, 0, 2]) }), g.i64([1])]); // [nKV, 1, T, D]
  const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q4, kT]), g.scalar(a.scale)]), mask]);
  const probs = g.op('Softmax', [scores], { axis: int(-1) });
  const ctx = g.op('MatMul', [probs, v4]); // [nKV, G, T, D]
  const merged = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [ctx, g.i64([nH, -1, D])])], { perm: ints([1, 0, 2]) }), g.i64([0, qDim])]);
  return linear(g, merged, w('o_proj.weight', [H, qDim]), a.oBias ? w('o_proj.bias', [H]) : undefined);
}
