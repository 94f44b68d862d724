// The graphs of the layer-wise backward (issue #9: "Backward runs layer by layer like the forward"). One
// graph per distinct layer shape, built with the weight names of a representative layer and fed any layer
// of that shape's weights (layerWeightName maps the names):
// - layer forward: hidden [T, H] -> hidden_out, and for MoE layers router_logits [T, E], topk [T, K];
// - layer VJP: hidden, its output's gradient seed_hidden [T, H], and for MoE layers the forward's topk
//   (the recomputation takes the same experts), seed_probs [E] and z_scale [] -> grad.hidden and
//   grad.<weight> per trainable weight. It differentiates the surrogate
//     Σ hidden_out ⊙ seed_hidden + Σ_t Σ_e softmax(router_logits)_te · seed_probs_e + z_scale · Σ_t lse_t²
//   whose gradient is the vector-Jacobian product of the layer plus its share of the pooled losses: with
//   the forward's global counts fixed, d aux / d p_te = E · frac_e / N (N = MoE layers × T), so
//   seed_probs = aux_coef · E · frac / N, and d z / d z_te = 2 lse_t softmax_te / N, so z_scale = z_coef / N;
// - head: hidden, input_ids, loss_mask -> lm_loss, grad.hidden and the final norm's / LM head's gradients.
import { differentiate } from '../autodiff/differentiate';
import { splitAtBackward } from '../autodiff/splitAtBackward';
import { positionTables } from '../graph/positionTables';
import { lmLossOf, rowLogSumExp, trainingLayer, type TrainingLayer } from '../graph/trainingGraph';
import type { LayerSpec, ModelConfig } from '../model/modelConfig';
import { GraphBuilder, int, type Dim } from '../onnx/graphBuilder';
import { DataType, encodeModel } from '../onnx/onnxProto';

export const HIDDEN = 'hidden';
export const GRAD_HIDDEN = 'grad.hidden';
export const gradName = (weight: string): string => `grad.${weight}`;

/** Layer `to`'s name for a weight the graph built for layer `from` names. */
export function layerWeightName(name: string, from: number, to: number): string {
  const p = `model.layers.${from}.`;
  return name.startsWith(p) ? `model.layers.${to}.${name.slice(p.length)}` : name;
}

/** The weights (layer L's names, sorted) a decoder layer of shape `spec` takes. */
export function layerWeightNames(c: ModelConfig, L: number, spec: LayerSpec): string[] {
  const g = new GraphBuilder();
  const { h, pt } = layerInputs(g, c);
  trainingLayer(g, c, L, spec, h, pt);
  return g.weights.map((w) => w.name).sort();
}

function layerInputs(g: GraphBuilder, c: ModelConfig): { h: string; pt: ReturnType<typeof positionTables> } {
  const h = g.input(HIDDEN, DataType.FLOAT, ['T', c.hiddenSize]);
  return { h, pt: positionTables(g, c, g.op('Squeeze', [g.op('Slice', [g.op('Shape', [h]), g.i64([0]), g.i64([1])]), g.i64([0])])) };
}

/** Forward of one decoder layer of shape `spec`, with layer `L`'s weight names. */
export function layerForwardBytes(c: ModelConfig, L: number, spec: LayerSpec): Uint8Array {
  const g = new GraphBuilder();
  const { h, pt } = layerInputs(g, c);
  forwardOutputs(g, c, spec, trainingLayer(g, c, L, spec, h, pt));
  return encodeModel(g.build());
}

function addGradOutputs(g: GraphBuilder, grads: Map<string, string | undefined>, wrt: readonly string[], dims: ReadonlyMap<string, readonly Dim[]>): void {
  for (const w of wrt) g.output(grads.get(w) ?? g.op('ConstantOfShape', [g.op('Shape', [w])]), w === HIDDEN ? GRAD_HIDDEN : gradName(w), DataType.FLOAT, dims.get(w)!);
}

/** VJP of one decoder layer w.r.t. `weights` (layer L's names) and, when `inputGrad`, its input. */
export function layerVjpBytes(c: ModelConfig, L: number, spec: LayerSpec, weights: readonly string[], inputGrad: boolean): Uint8Array {
  const g = new GraphBuilder();
  const { h, pt } = layerInputs(g, c);
  const routing = spec.kind === 'moe' ? g.input('topk', DataType.INT64, ['T', spec.routing.topK]) : undefined;
  addVjp(g, c, spec, trainingLayer(g, c, L, spec, h, pt, routing), weights, inputGrad);
  return encodeModel(g.build());
}

/**
 * The same VJP with stored activations: a forward graph (as layerForwardBytes, plus every activation the
 * backward reads) and a backward graph taking those activations, the seeds and the weights it uses.
 */
export function layerSplitBytes(c: ModelConfig, L: number, spec: LayerSpec, weights: readonly string[], inputGrad: boolean): { forward: Uint8Array; backward: Uint8Array; saved: readonly string[] } {
  const g = new GraphBuilder();
  const { h, pt } = layerInputs(g, c);
  const out = trainingLayer(g, c, L, spec, h, pt);
  const names = forwardOutputs(g, c, spec, out);
  const boundary = g.nodeList.length;
  addVjp(g, c, spec, out, weights, inputGrad);
  const parts = splitAtBackward(g, boundary, names);
  return { forward: encodeModel(parts.forward), backward: encodeModel(parts.backward), saved: parts.saved };
}

function forwardOutputs(g: GraphBuilder, c: ModelConfig, spec: LayerSpec, out: TrainingLayer): string[] {
  g.output(out.h, 'hidden_out', DataType.FLOAT, ['T', c.hiddenSize]);
  if (spec.kind !== 'moe') return ['hidden_out'];
  g.output(out.routerLogits!, 'router_logits', DataType.FLOAT, ['T', spec.routing.numExperts]);
  g.output(out.topkIdx!, 'topk', DataType.INT64, ['T', spec.routing.topK]);
  return ['hidden_out', 'router_logits', 'topk'];
}

/** The surrogate of the layer's VJP and its gradients as graph outputs. */
function addVjp(g: GraphBuilder, c: ModelConfig, spec: LayerSpec, out: TrainingLayer, weights: readonly string[], inputGrad: boolean): void {
  const H = c.hiddenSize;
  const sumAll = (v: string, rank: number): string => g.op('ReduceSum', [v, g.i64(Array.from({ length: rank }, (_, i) => i))], { keepdims: int(0) });
  let surrogate = sumAll(g.op('Mul', [out.h, g.input('seed_hidden', DataType.FLOAT, ['T', H])]), 2);
  if (spec.kind === 'moe') {
    const E = spec.routing.numExperts;
    const probs = g.op('Softmax', [out.routerLogits!], { axis: int(-1) });
    const aux = sumAll(g.op('Mul', [probs, g.input('seed_probs', DataType.FLOAT, [E])]), 2);
    const lse = rowLogSumExp(g, out.routerLogits!);
    const z = g.op('Mul', [sumAll(g.op('Mul', [lse, lse]), 1), g.input('z_scale', DataType.FLOAT, [])]);
    surrogate = g.op('Add', [surrogate, g.op('Add', [aux, z])]);
  }
  const dims = new Map<string, readonly Dim[]>([...g.weights.map((w): [string, readonly Dim[]] => [w.name, w.dims]), [HIDDEN, ['T', H]]]);
  const wrt = inputGrad ? [HIDDEN, ...weights] : [...weights];
  addGradOutputs(g, differentiate(g, surrogate, wrt), wrt, dims);
}

/** Final norm + LM head + LM loss, with the gradients of `weights` and, when `inputGrad`, of its input. */
export function headVjpBytes(c: ModelConfig, weights: readonly string[], inputGrad: boolean): Uint8Array {
  const g = new GraphBuilder();
  const h = g.input(HIDDEN, DataType.FLOAT, ['T', c.hiddenSize]);
  const lm = lmLossOf(g, c, h, g.input('input_ids', DataType.INT64, ['T']), g.input('loss_mask', DataType.FLOAT, ['T-1']));
  g.output(lm, 'lm_loss', DataType.FLOAT, []);
  const dims = new Map<string, readonly Dim[]>([...g.weights.map((w): [string, readonly Dim[]] => [w.name, w.dims]), [HIDDEN, ['T', c.hiddenSize]]]);
  const wrt = inputGrad ? [HIDDEN, ...weights] : [...weights];
  if (wrt.length > 0) addGradOutputs(g, differentiate(g, lm, wrt), wrt, dims);
  return encodeModel(g.build());
}
