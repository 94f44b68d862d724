// The sparse MoE block of one layer. Expert compute goes through com.microsoft MoE (only the selected
// experts run for a token); the routing outputs are computed beside it from the same router logits.
// Two variants serve the expert operations of issue #4:
// - `routerMask`: a graph input `router_mask.L` [E] is added to the router logits (0 keeps an expert,
//   -inf removes it), so a model can be run with experts masked out of the router;
// - `expertNorms`: the routed experts run explicitly (per expert: gather its tokens, SwiGLU, scatter-add
//   the gated output), which yields ‖f_e(x)‖₂ of every routed token as `expert_norms.L` [T, E] (0 where
//   not routed) at about the cost of the operator itself (profiling for REAP and EAN). Each expert's
//   weights are graph inputs of their own (expertFc1SliceName/expertFc2SliceName, fed as views of the
//   store's fc1/fc2 by weightOrExpertSlice): a Gather out of the whole fc1/fc2 would copy them.
import type { LayerSpec } from '../model/modelConfig';
import { expertFc1Name, expertFc2Name } from '../model/engineTensorNames';
import { expertLayout } from '../model/tensorSpec';
import type { ModelConfig } from '../model/modelConfig';
import { int, str, type GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { linear, swiglu } from './linear';
import { expertFc1SliceName, expertFc2SliceName } from './trainableMoeBlock';

export interface MoeOutputs {
  readonly routing: boolean;
  readonly expertNorms: boolean;
  readonly routerMask: boolean;
}

export function moeBlock(g: GraphBuilder, c: ModelConfig, layer: number, spec: Extract<LayerSpec, { kind: 'moe' }>, x: string, outputs: MoeOutputs): string {
  const H = c.hiddenSize;
  const { numExperts: E, topK: K, renormalize } = spec.routing;
  const I = spec.intermediateSize;
  const lay = expertLayout(c, layer);
  let router = linear(g, x, g.weight(lay.router, [E, H])); // [T, E]
  if (outputs.routerMask) router = g.op('Add', [router, g.input(`router_mask.${layer}`, DataType.FLOAT, [E])]);
  let out: string;
  const needRouting = outputs.routing || outputs.expertNorms;
  let idx = '';
  let weights = '';
  if (needRouting) {
    const probs = g.op('Softmax', [router], { axis: int(-1) });
    const [vals, i] = g.node('TopK', [probs, g.i64([K])], { axis: int(-1), largest: int(1), sorted: int(1) }, { outputs: 2 }) as [string, string];
    idx = i;
    weights = renormalize ? g.op('Div', [vals, g.op('ReduceSum', [vals, g.i64([-1])], { keepdims: int(1) })]) : vals;
  }
  if (outputs.expertNorms) {
    const explicit = explicitExperts(g, c, layer, x, idx, weights, E, I);
    out = explicit.out;
    g.output(explicit.norms, `expert_norms.${layer}`, DataType.FLOAT, ['T', E]);
  } else {
    // The operator applies softmax -> top-k (-> renormalise) to its router input itself.
    const fc1 = g.weight(expertFc1Name(layer), [E, 2 * I, H]);
    const fc2 = g.weight(expertFc2Name(layer), [E, H, I]);
    out = g.op('MoE', [x, router, fc1, '', fc2], { k: int(K), activation_type: str('swiglu'), swiglu_fusion: int(1), normalize_routing_weights: int(renormalize ? 1 : 0) }, 'com.microsoft');
  }
  if (outputs.routing) {
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

/**
 * Σ_k w_k f_{S_k}(x) computed expert by expert, with the norm of every routed expert output. fc1 rows are
 * gate/up interleaved (row 2i gate, 2i+1 up), as the MoE operator takes them.
 */
function explicitExperts(g: GraphBuilder, c: ModelConfig, layer: number, x: string, idx: string, weights: string, E: number, I: number): { out: string; norms: string } {
  let acc = g.op('Mul', [x, g.scalar(0)]); // [T, H] zeros (x is finite: it is a normed hidden state)
  const zerosT = g.op('ReduceSum', [acc, g.i64([-1])], { keepdims: int(0) }); // [T] zeros
  const cols: string[] = [];
  const splitShape = g.i64([0, I, 2]); // 0 copies n, which may be 0 (an expert no token chose)
  const H = c.hiddenSize;
  const onesH = g.constant(new Array<number>(H).fill(1), DataType.FLOAT, [H, 1]);
  for (let e = 0; e < E; e++) {
    const hit = g.op('Cast', [g.op('Equal', [idx, g.constant([e], DataType.INT64, [])])], { to: int(DataType.FLOAT) }); // [T, K]
    const we = g.op('ReduceSum', [g.op('Mul', [weights, hit]), g.i64([-1])], { keepdims: int(0) }); // [T]
    const chosen = g.op('ReduceSum', [hit, g.i64([-1])], { keepdims: int(0) }); // [T] 0 or 1
    const rows = g.op('Squeeze', [g.op('NonZero', [chosen]), g.i64([0])]); // [n]
    const rows2 = g.op('Unsqueeze', [rows, g.i64([1])]); // [n, 1]
    const xe = g.op('Gather', [x, rows], { axis: int(0) }); // [n, H]
    const w1 = g.weight(expertFc1SliceName(layer, e), [2 * I, H]);
    const w2 = g.weight(expertFc2SliceName(layer, e), [H, I]);
    const h = g.op('Reshape', [linear(g, xe, w1), splitShape]); // [n, I, 2]
    const gate = g.op('Gather', [h, g.constant([0], DataType.INT64, [])], { axis: int(2) }); // [n, I]
    const up = g.op('Gather', [h, g.constant([1], DataType.INT64, [])], { axis: int(2) });
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // [n, I]
    const y = linear(g, g.op('Reshape', [act, g.i64([0, I])]), w2); // [n, H]
    // Row sums as a MatMul with ones: ReduceSum over the last axis of an empty [0, H] is a no-op in ORT.
    const norm = g.op('Sqrt', [g.op('Squeeze', [g.op('MatMul', [g.op('Mul', [y, y]), onesH]), g.i64([1])])]); // [n]
    const gated = g.op('Mul', [y, g.op('Unsqueeze', [g.op('Gather', [we, rows], { axis: int(0) }), g.i64([1])])]);
    acc = g.op('ScatterND', [acc, rows2, gated], { reduction: str('add') });
    cols.push(g.op('Unsqueeze', [g.op('ScatterND', [zerosT, rows2, norm]), g.i64([1])]));
  }
  return { out: acc, norms: g.op('Concat', cols, { axis: int(1) }) };
}
