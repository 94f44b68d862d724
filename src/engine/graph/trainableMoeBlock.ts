// The MoE block in ops that all have a standard-op backward, for training graphs (the com.microsoft MoE
// operator used by moeBlock.ts has no gradient).
import type { LayerSpec, ModelConfig } from '../model/modelConfig';
import { expertFc1Name, expertFc2Name } from '../model/engineTensorNames';
import { expertLayout } from '../model/tensorSpec';
import { int, str, type GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { linear, swiglu } from './linear';

/** Graph input name of routed expert e's fc1 rows [2I, H] (gate/up interleaved) in a trainable MoE block. */
export function expertFc1SliceName(layer: number, e: number): string {
  return `${expertFc1Name(layer)}.${e}`;
}

/** Graph input name of routed expert e's fc2 [H, I] in a trainable MoE block. */
export function expertFc2SliceName(layer: number, e: number): string {
  return `${expertFc2Name(layer)}.${e}`;
}

export interface TrainableMoe {
  readonly out: string;
  /** [T, E] router logits, for the load-balancing and z losses. */
  readonly routerLogits: string;
  /** [T, K] chosen experts (int64). */
  readonly topkIdx: string;
}

/**
 * The MoE block in ops that all have a standard-op backward (the com.microsoft MoE operator has none):
 * softmax -> top-k (-> renormalise) routing, then each routed expert explicitly (gather its tokens,
 * SwiGLU, scatter-add the gated output). Each expert's weights are their own graph inputs
 * (`expertFc1SliceName`/`expertFc2SliceName`, views of the store's fc1/fc2), so a frozen expert's weights
 * get no gradient computation and a trainable one's gradient comes out in its own tensor. Granite's
 * top-k-of-logits -> softmax is the renormalised form, with the same values and the same gradient.
 * `routing`: an int64 [T, K] value of chosen experts to use instead of computing the top-k.
 */
export function trainableMoeBlock(g: GraphBuilder, c: ModelConfig, layer: number, spec: Extract<LayerSpec, { kind: 'moe' }>, x: string, routing?: string): TrainableMoe {
  const H = c.hiddenSize;
  const { numExperts: E, topK: K, renormalize } = spec.routing;
  const I = spec.intermediateSize;
  const lay = expertLayout(c, layer);
  const router = linear(g, x, g.weight(lay.router, [E, H])); // [T, E]
  const probs = g.op('Softmax', [router], { axis: int(-1) });
  // With `routing` given (the chosen experts of an earlier forward), the same experts are taken from the
  // probabilities (same values, same gradient as TopK), so a recomputation cannot route differently.
  const [vals, idx] = routing
    ? [g.op('GatherElements', [probs, routing], { axis: int(-1) }), routing]
    : (g.node('TopK', [probs, g.i64([K])], { axis: int(-1), largest: int(1), sorted: int(1) }, { outputs: 2 }) as [string, string]);
  const weights = renormalize ? g.op('Div', [vals, g.op('ReduceSum', [vals, g.i64([-1])], { keepdims: int(1) })]) : vals;

  let out = g.op('ConstantOfShape', [g.op('Shape', [x])]); // [T, H] zeros, not a function of x
  const splitShape = g.i64([0, I, 2]); // 0 copies n, which may be 0 (an expert no token chose)
  for (let e = 0; e < E; e++) {
    const hit = g.op('Cast', [g.op('Equal', [idx, g.constant([e], DataType.INT64, [])])], { to: int(DataType.FLOAT) }); // [T, K]
    const we = g.op('ReduceSum', [g.op('Mul', [weights, hit]), g.i64([-1])], { keepdims: int(0) }); // [T]
    const chosen = g.op('ReduceSum', [hit, g.i64([-1])], { keepdims: int(0) }); // [T] 0 or 1
    const rows = g.op('Squeeze', [g.op('NonZero', [chosen]), g.i64([0])]); // [n]
    const xe = g.op('Gather', [x, rows], { axis: int(0) }); // [n, H]
    const w1 = g.weight(expertFc1SliceName(layer, e), [2 * I, H]);
    const w2 = g.weight(expertFc2SliceName(layer, e), [H, I]);
    const [gate3, up3] = g.node('Split', [g.op('Reshape', [linear(g, xe, w1), splitShape])], { axis: int(2) }, { outputs: 2 }) as [string, string]; // [n, I, 1]
    const gate = g.op('Squeeze', [gate3, g.i64([2])]);
    const up = g.op('Squeeze', [up3, g.i64([2])]);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // [n, I]
    const y = linear(g, act, w2); // [n, H]
    const gated = g.op('Mul', [y, g.op('Unsqueeze', [g.op('Gather', [we, rows], { axis: int(0) }), g.i64([1])])]);
    out = g.op('ScatterND', [out, g.op('Unsqueeze', [rows, g.i64([1])]), gated], { reduction: str('add') });
  }

  if (spec.shared) {
    const p = `model.layers.${layer}.mlp.shared_expert.`;
    const S = spec.shared.intermediateSize;
    let shared = swiglu(g, x, { gate: g.weight(`${p}gate_proj.weight`, [S, H]), up: g.weight(`${p}up_proj.weight`, [S, H]), down: g.weight(`${p}down_proj.weight`, [H, S]) });
    if (spec.shared.sigmoidGate) shared = g.op('Mul', [g.op('Sigmoid', [linear(g, x, g.weight(`model.layers.${layer}.mlp.shared_expert_gate.weight`, [1, H]))]), shared]);
    out = g.op('Add', [out, shared]);
  }
  return { out, routerLogits: router, topkIdx: idx };
}

/** The routed expert a trainable block's weight input belongs to, or undefined for any other name. */
export function parseExpertSliceName(name: string): { readonly layer: number; readonly expert: number; readonly part: 'fc1' | 'fc2' } | undefined {
  const m = /^model\.layers\.(\d+)\.experts\.(fc1|fc2)\.(\d+)$/.exec(name);
  return m ? { layer: Number(m[1]), expert: Number(m[3]), part: m[2] as 'fc1' | 'fc2' } : undefined;
}
