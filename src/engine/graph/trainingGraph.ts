// The whole model as a differentiable graph with a loss: the decoder forward of decoderGraph.ts, but with
// the experts run explicitly (trainableMoeBlock), then
//   loss = lm_loss + aux_coef · aux_loss + z_coef · z_loss
// where lm_loss is the mean next-token cross-entropy over the tokens loss_mask keeps (HF causal-LM loss
// with labels = input ids), aux_loss HF's load_balancing_loss_func pooled over all MoE layers, and z_loss
// the ST-MoE router z-loss (mean over tokens and layers of logsumexp(router logits)²). Its backward is
// emitted by differentiate() into the same builder.
// Inputs: input_ids [T] int64, loss_mask [T-1] float, aux_coef [] and z_coef [] float.
import type { ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { attention, type RopeTables } from './attention';
import { linear, swiglu } from './linear';
import { trainableMoeBlock } from './trainableMoeBlock';
import { rmsNorm } from './norms';
import { ropeInvFreq } from './rope';

const INT64_MAX = Number.MAX_SAFE_INTEGER;

export interface TrainingGraph {
  readonly g: GraphBuilder;
  /** Scalar values. */
  readonly loss: string;
  readonly lmLoss: string;
  readonly auxLoss: string;
  readonly zLoss: string;
}

export function buildTrainingGraph(c: ModelConfig): TrainingGraph {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const ids = g.input('input_ids', DataType.INT64, ['T']);
  const lossMask = g.input('loss_mask', DataType.FLOAT, ['T-1']);
  const auxCoef = g.input('aux_coef', DataType.FLOAT, []);
  const zCoef = g.input('z_coef', DataType.FLOAT, []);

  const T = g.op('Squeeze', [g.op('Shape', [ids]), g.i64([0])]);
  const pos = g.op('Range', [g.constant([0], DataType.INT64, []), T, g.constant([1], DataType.INT64, [])]);
  const posF = g.op('Cast', [pos], { to: int(DataType.FLOAT) });
  const freqs = g.op('Mul', [g.op('Unsqueeze', [posF, g.i64([1])]), g.constant(Array.from(ropeInvFreq(c)))]);
  const emb = g.op('Concat', [freqs, freqs], { axis: int(-1) });
  const rope: RopeTables = { cos: g.op('Unsqueeze', [g.op('Cos', [emb]), g.i64([1])]), sin: g.op('Unsqueeze', [g.op('Sin', [emb]), g.i64([1])]) };
  const qi = g.op('Unsqueeze', [pos, g.i64([1])]);
  const kj = g.op('Unsqueeze', [pos, g.i64([0])]);
  let allowed = g.op('LessOrEqual', [kj, qi]);
  if (c.attention.slidingWindow !== null) {
    allowed = g.op('And', [allowed, g.op('Less', [g.op('Sub', [qi, kj]), g.constant([c.attention.slidingWindow], DataType.INT64, [])])]);
  }
  const mask = g.op('Where', [allowed, g.scalar(0), g.scalar(-Infinity)]);

  let h = g.op('Gather', [g.weight('model.embed_tokens.weight', [c.vocabSize, H]), ids], { axis: int(0) });
  if (c.embeddingMultiplier !== 1) h = g.op('Mul', [h, g.scalar(c.embeddingMultiplier)]);
  const residual = (branch: string): string => (c.residualMultiplier !== 1 ? g.op('Mul', [branch, g.scalar(c.residualMultiplier)]) : branch);

  const routerLogits: string[] = [];
  const topk: string[] = [];
  let moe: { E: number } | undefined;
  c.layers.forEach((spec, L) => {
    const p = `model.layers.${L}.`;
    const xa = rmsNorm(g, h, g.weight(`${p}input_layernorm.weight`, [H]), c.rmsNormEps);
    h = g.op('Add', [h, residual(attention(g, c, L, xa, rope, mask))]);
    const xm = rmsNorm(g, h, g.weight(`${p}post_attention_layernorm.weight`, [H]), c.rmsNormEps);
    let mlp: string;
    if (spec.kind === 'moe') {
      const block = trainableMoeBlock(g, c, L, spec, xm);
      mlp = block.out;
      routerLogits.push(block.routerLogits);
      topk.push(block.topkIdx);
      moe = { E: spec.routing.numExperts };
    } else {
      const I = spec.intermediateSize;
      const w = (n: string, dims: number[]): string => g.weight(`${p}mlp.${n}`, dims);
      mlp = swiglu(g, xm, {
        gate: w('gate_proj.weight', [I, H]),
        up: w('up_proj.weight', [I, H]),
        down: w('down_proj.weight', [H, I]),
        ...(c.mlpBias ? { gateBias: w('gate_proj.bias', [I]), upBias: w('up_proj.bias', [I]), downBias: w('down_proj.bias', [H]) } : {}),
      });
    }
    h = g.op('Add', [h, residual(mlp)]);
  });

  const final = rmsNorm(g, h, g.weight('model.norm.weight', [H]), c.rmsNormEps);
  let logits = linear(g, final, g.weight(lmHeadName(c), [c.vocabSize, H]));
  if (c.logitsScaling !== 1) logits = g.op('Div', [logits, g.scalar(c.logitsScaling)]);

  // Cross-entropy of ids[i+1] given ids[..i], averaged over the kept positions.
  const head = g.op('Slice', [logits, g.i64([0]), g.i64([-1]), g.i64([0])]);
  const next = g.op('Slice', [ids, g.i64([1]), g.i64([INT64_MAX]), g.i64([0])]);
  const lsm = g.op('LogSoftmax', [head], { axis: int(-1) });
  const lp = g.op('Squeeze', [g.op('GatherElements', [lsm, g.op('Unsqueeze', [next, g.i64([1])])], { axis: int(1) }), g.i64([1])]); // [T-1]
  const kept = g.op('ReduceSum', [lossMask, g.i64([0])], { keepdims: int(0) });
  const lmLoss = g.op('Neg', [g.op('Div', [g.op('ReduceSum', [g.op('Mul', [lp, lossMask]), g.i64([0])], { keepdims: int(0) }), kept])]);

  let auxLoss = g.scalar(0);
  let zLoss = g.scalar(0);
  if (moe) {
    const { E } = moe;
    const pooled = routerLogits.length === 1 ? routerLogits[0]! : g.op('Concat', routerLogits, { axis: int(0) }); // [L·T, E]
    const idx = topk.length === 1 ? topk[0]! : g.op('Concat', topk, { axis: int(0) }); // [L·T, K]
    const rows = g.op('Cast', [g.op('Gather', [g.op('Shape', [pooled]), g.constant([0], DataType.INT64, [])], { axis: int(0) })], { to: int(DataType.FLOAT) }); // [] L·T
    const probs = g.op('Softmax', [pooled], { axis: int(-1) });
    // Fraction of rows whose top-k holds expert e (one-hot of the top-k summed over k): no gradient.
    const oneHot = g.op('Cast', [g.op('Equal', [g.op('Unsqueeze', [idx, g.i64([2])]), g.constant(Array.from({ length: E }, (_, e) => e), DataType.INT64)])], { to: int(DataType.FLOAT) }); // [L·T, K, E]
    const frac = g.op('Div', [g.op('ReduceSum', [oneHot, g.i64([0, 1])], { keepdims: int(0) }), rows]); // [E]
    const meanProb = g.op('Div', [g.op('ReduceSum', [probs, g.i64([0])], { keepdims: int(0) }), rows]); // [E]
    auxLoss = g.op('Mul', [g.op('ReduceSum', [g.op('Mul', [frac, meanProb]), g.i64([0])], { keepdims: int(0) }), g.scalar(E)]);
    // logsumexp(z) = z_0 - log_softmax(z)_0.
    const lse = g.op('Squeeze', [g.op('Slice', [g.op('Sub', [pooled, g.op('LogSoftmax', [pooled], { axis: int(-1) })]), g.i64([0]), g.i64([1]), g.i64([1])]), g.i64([1])]); // [L·T]
    zLoss = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [lse, lse]), g.i64([0])], { keepdims: int(0) }), rows]);
  }
  const loss = g.op('Add', [g.op('Add', [lmLoss, g.op('Mul', [auxCoef, auxLoss])]), g.op('Mul', [zCoef, zLoss])]);
  g.output(loss, 'loss', DataType.FLOAT, []);
  g.output(lmLoss, 'lm_loss', DataType.FLOAT, []);
  g.output(auxLoss, 'aux_loss', DataType.FLOAT, []);
  g.output(zLoss, 'z_loss', DataType.FLOAT, []);
  return { g, loss, lmLoss, auxLoss, zLoss };
}
