// The model as differentiable graphs with a loss: the decoder forward of decoderGraph.ts, but with the
// experts run explicitly (trainableMoeBlock), then
//   loss = lm_loss + aux_coef · aux_loss + z_coef · z_loss
// where lm_loss is the mean next-token cross-entropy over the tokens loss_mask keeps (HF causal-LM loss
// with labels = input ids), aux_loss HF's load_balancing_loss_func pooled over all MoE layers, and z_loss
// the ST-MoE router z-loss (mean over tokens and layers of logsumexp(router logits)²). Backward is emitted
// by differentiate() into the same builder. The pieces (position tables, one decoder layer, the LM loss)
// are exported for the layer-wise gradient graphs (training/layerGradGraphs.ts).
// Whole-model inputs: input_ids [T] int64, loss_mask [T-1] float, aux_coef [] and z_coef [] float.
import type { LayerSpec, ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { attention } from './attention';
import { linear, swiglu } from './linear';
import { trainableMoeBlock } from './trainableMoeBlock';
import { rmsNorm } from './norms';
import { positionTables, type PositionTables } from './positionTables';

const INT64_MAX = Number.MAX_SAFE_INTEGER;

export interface TrainingGraph {
  readonly g: GraphBuilder;
  /** Scalar values. */
  readonly loss: string;
  readonly lmLoss: string;
  readonly auxLoss: string;
  readonly zLoss: string;
}

export interface TrainingLayer {
  readonly h: string;
  /** MoE layers: [T, E] router logits and [T, K] chosen experts. */
  readonly routerLogits?: string;
  readonly topkIdx?: string;
}

/** One decoder layer on residual stream `h`; `routing` (an int64 [T, K] value) fixes the chosen experts. */
export function trainingLayer(g: GraphBuilder, c: ModelConfig, L: number, spec: LayerSpec, h: string, pt: PositionTables, routing?: string): TrainingLayer {
  const H = c.hiddenSize;
  const p = `model.layers.${L}.`;
  const residual = (branch: string): string => (c.residualMultiplier !== 1 ? g.op('Mul', [branch, g.scalar(c.residualMultiplier)]) : branch);
  const xa = rmsNorm(g, h, g.weight(`${p}input_layernorm.weight`, [H]), c.rmsNormEps);
  const h1 = g.op('Add', [h, residual(attention(g, c, L, xa, pt.rope, pt.mask))]);
  const xm = rmsNorm(g, h1, g.weight(`${p}post_attention_layernorm.weight`, [H]), c.rmsNormEps);
  if (spec.kind === 'moe') {
    const block = trainableMoeBlock(g, c, L, spec, xm, routing);
    return { h: g.op('Add', [h1, residual(block.out)]), routerLogits: block.routerLogits, topkIdx: block.topkIdx };
  }
  const I = spec.intermediateSize;
  const w = (n: string, dims: number[]): string => g.weight(`${p}mlp.${n}`, dims);
  const mlp = swiglu(g, xm, {
    gate: w('gate_proj.weight', [I, H]),
    up: w('up_proj.weight', [I, H]),
    down: w('down_proj.weight', [H, I]),
    ...(c.mlpBias ? { gateBias: w('gate_proj.bias', [I]), upBias: w('up_proj.bias', [I]), downBias: w('down_proj.bias', [H]) } : {}),
  });
  return { h: g.op('Add', [h1, residual(mlp)]) };
}

/** Final norm, LM head and the masked mean cross-entropy of ids[i+1] given ids[..i]: a scalar. */
export function lmLossOf(g: GraphBuilder, c: ModelConfig, h: string, ids: string, lossMask: string): string {
  const H = c.hiddenSize;
  const final = rmsNorm(g, h, g.weight('model.norm.weight', [H]), c.rmsNormEps);
  let logits = linear(g, final, g.weight(lmHeadName(c), [c.vocabSize, H]));
  if (c.logitsScaling !== 1) logits = g.op('Div', [logits, g.scalar(c.logitsScaling)]);
  const head = g.op('Slice', [logits, g.i64([0]), g.i64([-1]), g.i64([0])]);
  const next = g.op('Slice', [ids, g.i64([1]), g.i64([INT64_MAX]), g.i64([0])]);
  const lsm = g.op('LogSoftmax', [head], { axis: int(-1) });
  const lp = g.op('Squeeze', [g.op('GatherElements', [lsm, g.op('Unsqueeze', [next, g.i64([1])])], { axis: int(1) }), g.i64([1])]); // [T-1]
  const kept = g.op('ReduceSum', [lossMask, g.i64([0])], { keepdims: int(0) });
  return g.op('Neg', [g.op('Div', [g.op('ReduceSum', [g.op('Mul', [lp, lossMask]), g.i64([0])], { keepdims: int(0) }), kept])]);
}

/** [rows] logsumexp of each row of [rows, E] logits: z_0 − log_softmax(z)_0. */
export function rowLogSumExp(g: GraphBuilder, logits: string): string {
  const lse = g.op('Sub', [logits, g.op('LogSoftmax', [logits], { axis: int(-1) })]);
  return g.op('Squeeze', [g.op('Slice', [lse, g.i64([0]), g.i64([1]), g.i64([1])]), g.i64([1])]);
}

export function buildTrainingGraph(c: ModelConfig): TrainingGraph {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const ids = g.input('input_ids', DataType.INT64, ['T']);
  const lossMask = g.input('loss_mask', DataType.FLOAT, ['T-1']);
  const auxCoef = g.input('aux_coef', DataType.FLOAT, []);
  const zCoef = g.input('z_coef', DataType.FLOAT, []);
  const pt = positionTables(g, c, g.op('Squeeze', [g.op('Shape', [ids]), g.i64([0])]));

  let h = g.op('Gather', [g.weight('model.embed_tokens.weight', [c.vocabSize, H]), ids], { axis: int(0) });
  if (c.embeddingMultiplier !== 1) h = g.op('Mul', [h, g.scalar(c.embeddingMultiplier)]);
  const routerLogits: string[] = [];
  const topk: string[] = [];
  let E = 0;
  c.layers.forEach((spec, L) => {
    const layer = trainingLayer(g, c, L, spec, h, pt);
    h = layer.h;
    if (spec.kind === 'moe') {
      routerLogits.push(layer.routerLogits!);
      topk.push(layer.topkIdx!);
      E = spec.routing.numExperts;
    }
  });
  const lmLoss = lmLossOf(g, c, h, ids, lossMask);

  let auxLoss = g.scalar(0);
  let zLoss = g.scalar(0);
  if (routerLogits.length > 0) {
    const pooled = routerLogits.length === 1 ? routerLogits[0]! : g.op('Concat', routerLogits, { axis: int(0) }); // [L·T, E]
    const idx = topk.length === 1 ? topk[0]! : g.op('Concat', topk, { axis: int(0) }); // [L·T, K]
    const rows = g.op('Cast', [g.op('Gather', [g.op('Shape', [pooled]), g.constant([0], DataType.INT64, [])], { axis: int(0) })], { to: int(DataType.FLOAT) }); // [] L·T
    const probs = g.op('Softmax', [pooled], { axis: int(-1) });
    // Fraction of rows whose top-k holds expert e (one-hot of the top-k summed over k): no gradient.
    const oneHot = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [idx, g.i64([2])]), g.constant(Array.from({ length: E }, (_, e) => e), DataType.INT64)])], { to: int(DataType.FLOAT) }); // [L·T, K, E]
    const frac = g.op('Div', [g.op('ReduceSum', [oneHot, g.i64([0, 1])], { keepdims: int(0) }), rows]); // [E]
    const meanProb = g.op('Div', [g.op('ReduceSum', [probs, g.i64([0])], { keepdims: int(0) }), rows]); // [E]
    auxLoss = g.op('Mul', [g.op('ReduceSum', [g.op('Mul', [frac, meanProb]), g.i64([0])], { keepdims: int(0) }), g.scalar(E)]);
    const lse = rowLogSumExp(g, pooled); // [L·T]
    zLoss = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [lse, lse]), g.i64([0])], { keepdims: int(0) }), rows]);
  }
  const loss = g.op('Add', [g.op('Add', [lmLoss, g.op('Mul', [auxCoef, auxLoss])]), g.op('Mul', [zCoef, zLoss])]);
  g.output(loss, 'loss', DataType.FLOAT, []);
  g.output(lmLoss, 'lm_loss', DataType.FLOAT, []);
  g.output(auxLoss, 'aux_loss', DataType.FLOAT, []);
  g.output(zLoss, 'z_loss', DataType.FLOAT, []);
  return { g, loss, lmLoss, auxLoss, zLoss };
}
