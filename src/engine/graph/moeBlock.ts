// The sparse MoE block of one layer. Expert compute goes through com.microsoft MoE (only the selected
// experts run for a token); the routing outputs are computed beside it from the same router logits.
import type { LayerSpec } from '../model/modelConfig';
import { expertFc1Name, expertFc2Name } from '../model/engineTensorNames';
import { expertLayout } from '../model/tensorSpec';
import type { ModelConfig } from '../model/modelConfig';
import { int, str, type GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { linear, swiglu } from './linear';

export interface MoeOutputs {
  readonly routing: boolean;
}

export function moeBlock(g: GraphBuilder, c: ModelConfig, layer: number, spec: Extract<LayerSpec, { kind: 'moe' }>, x: string, outputs: MoeOutputs): string {
  const H = c.hiddenSize;
  const { numExperts: E, topK: K, renormalize } = spec.routing;
  const I = spec.intermediateSize;
  const lay = expertLayout(c, layer);
  const router = linear(g, x, g.weight(lay.router, [E, H])); // [T, E]
  const fc1 = g.weight(expertFc1Name(layer), [E, 2 * I, H]);
  const fc2 = g.weight(expertFc2Name(layer), [E, H, I]);
  // The operator applies softmax -> top-k (-> renormalise) to its router input itself.
  let out = g.op('MoE', [x, router, fc1, '', fc2], { k: int(K), activation_type: str('swiglu'), swiglu_fusion: int(1), normalize_routing_weights: int(renormalize ? 1 : 0) }, 'com.microsoft');

  if (outputs.routing) {
    const probs = g.op('Softmax', [router], { axis: int(-1) });
    const [vals, idx] = g.node('TopK', [probs, g.i64([K])], { axis: int(-1), largest: int(1), sorted: int(1) }, { outputs: 2 }) as [string, string];
    const weights = renormalize ? g.op('Div', [vals, g.op('ReduceSum', [vals, g.i64([-1])], { keepdims: int(1) })]) : vals;
    g.output(router, `router_logits.${layer}`, DataType.FLOAT, ['T', E]);
    g.output(idx, `topk_experts.${layer}`, DataType.INT64, ['T', K]);
    g.output(weights, `topk_weights.${layer}`, DataType.FLOAT, ['T', K]);
  }

  if (spec.shared) {
    const p = `model.layers.${layer}.mlp.shared_expert.`;
    const S = spec.shared.intermediateSize;
    let shared = swiglu(g, x, { gate: g.weight(`${p}gate_proj.weight`, [S, H]), up: g.weight(`${p}up_proj.weight`, [S, H]), down: g.weight(`${p}down_proj.weight`, [H, S]) });
    if (spec.shared.sigmoidGate) {
      const gate = g.op('Sigmoid', [linear(g, x, g.weight(`model.layers.${layer}.mlp.shared_expert_gate.weight`, [1, H]))]); // [T, 1]
      shared = g.op('Mul', [gate, shared]);
      if (outputs.routing) g.output(g.op('Squeeze', [gate, g.i64([1])]), `shared_expert_gate.${layer}`, DataType.FLOAT, ['T']);
    }
    out = g.op('Add', [out, shared]);
  }
  return out;
}
