// The whole forward pass of a decoder-only model as one ONNX graph, built from a ModelConfig. Input:
// `input_ids` [T] (one unpadded sequence, positions 0..T-1). Outputs: `logprobs` [T-1] (log-probability
// of each next token) always; `logits` [T, V], routing per MoE layer and hidden states on request.
// The pieces (position tables, embedding, one decoder layer, head) are exported so the layer-wise
// engine builds its per-layer graphs from the very same ops (src/engine/layerwise/layerGraphs.ts).
import type { LayerSpec, ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { attention } from './attention';
import { linear, swiglu } from './linear';
import { moeBlock } from './moeBlock';
import { rmsNorm } from './norms';
import { positionTables, type PositionTables } from './positionTables';

export interface GraphOutputs {
  /** router_logits.L, topk_experts.L, topk_weights.L (and shared_expert_gate.L) per MoE layer. */
  readonly routing: boolean;
  /** embeddings, hidden.L per layer, final_norm. */
  readonly hidden: boolean;
  readonly logits: boolean;
  /** expert_norms.L [T, E]: ‖f_e(x)‖₂ of each routed expert output (experts run explicitly). */
  readonly expertNorms?: boolean;
  /** Inputs router_mask.L [E] added to the router logits (0 keep, -inf remove). */
  readonly routerMask?: boolean;
}

const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** Token embeddings [T, H] (times GraniteMoE's embedding multiplier). */
export function embedTokens(g: GraphBuilder, c: ModelConfig, ids: string): string {
  const h = g.op('Gather', [g.weight('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]), ids], { axis: int(0) });
  return c.embeddingMultiplier !== 1 ? g.op('Mul', [h, g.scalar(c.embeddingMultiplier)]) : h;
}

/** Decoder layer L on hidden states h [T, H]: attention and MLP/MoE blocks with their residuals. */
export function decoderLayer(g: GraphBuilder, c: ModelConfig, L: number, spec: LayerSpec, h: string, pt: PositionTables, outputs: GraphOutputs): string {
  const H = c.hiddenSize;
  const p = `model.layers.${L}.`;
  const residual = (branch: string): string => (c.residualMultiplier !== 1 ? g.op('Mul', [branch, g.scalar(c.residualMultiplier)]) : branch);
  const xa = rmsNorm(g, h, g.weight(`${p}input_layernorm.weight`, [H]), c.rmsNormEps);
  h = g.op('Add', [h, residual(attention(g, c, L, xa, pt.rope, pt.mask))]);
  const xm = rmsNorm(g, h, g.weight(`${p}post_attention_layernorm.weight`, [H]), c.rmsNormEps);
  let mlp: string;
  if (spec.kind === 'moe') {
    mlp = moeBlock(g, c, L, spec, xm, { routing: outputs.routing, expertNorms: outputs.expertNorms ?? false, routerMask: outputs.routerMask ?? false });
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
  return g.op('Add', [h, residual(mlp)]);
}

/** Final norm, lm_head and the next-token log-probabilities (`logprobs` [T-1]) of `ids`. */
export function lmHead(g: GraphBuilder, c: ModelConfig, h: string, ids: string, outputs: GraphOutputs): void {
  const final = rmsNorm(g, h, g.weight('model.norm.weight', [c.hiddenSize]), c.rmsNormEps);
  if (outputs.hidden) g.output(final, 'final_norm', DataType.FLOAT, ['T', c.hiddenSize]);
  let logits = linear(g, final, g.weight(lmHeadName(c), [c.vocabSize, c.hiddenSize]));
  if (c.logitsScaling !== 1) logits = g.op('Div', [logits, g.scalar(c.logitsScaling)]);
  if (outputs.logits) g.output(logits, 'logits', DataType.FLOAT, ['T', c.vocabSize]);

  // log p(ids[i+1] | ids[..i]) for i < T-1.
  const head = g.op('Slice', [logits, g.i64([0]), g.i64([-1]), g.i64([0])]);
  const next = g.op('Slice', [ids, g.i64([1]), g.i64([INT64_MAX]), g.i64([0])]);
  const lsm = g.op('LogSoftmax', [head], { axis: int(-1) });
  const lp = g.op('GatherElements', [lsm, g.op('Unsqueeze', [next, g.i64([1])])], { axis: int(1) });
  g.output(g.op('Squeeze', [lp, g.i64([1])]), 'logprobs', DataType.FLOAT, ['T_minus_1']);
}

export function buildDecoderGraph(c: ModelConfig, outputs: GraphOutputs): GraphBuilder {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const ids = g.input('input_ids', DataType.INT64, ['T']);
  const pt = positionTables(g, c, g.op('Squeeze', [g.op('Shape', [ids]), g.i64([0])]));
  let h = embedTokens(g, c, ids);
  if (outputs.hidden) g.output(h, 'embeddings', DataType.FLOAT, ['T', H]);
  c.layers.forEach((spec, L) => {
    h = decoderLayer(g, c, L, spec, h, pt, outputs);
    if (outputs.hidden) g.output(h, `hidden.${L}`, DataType.FLOAT, ['T', H]);
  });
  lmHead(g, c, h, ids, outputs);
  return g;
}
