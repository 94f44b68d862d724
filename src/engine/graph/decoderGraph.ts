// The whole forward pass of a decoder-only model as one ONNX graph, built from a ModelConfig. Input:
// `input_ids` [T] (one unpadded sequence, positions 0..T-1). Outputs: `logprobs` [T-1] (log-probability
// of each next token) always; `logits` [T, V], routing per MoE layer and hidden states on request.
import type { ModelConfig } from '../model/modelConfig';
import { lmHeadName } from '../model/tensorSpec';
import { GraphBuilder, int } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { attention, type RopeTables } from './attention';
import { linear, swiglu } from './linear';
import { moeBlock } from './moeBlock';
import { rmsNorm } from './norms';
import { ropeInvFreq } from './rope';

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

export function buildDecoderGraph(c: ModelConfig, outputs: GraphOutputs): GraphBuilder {
  const g = new GraphBuilder();
  const H = c.hiddenSize;
  const ids = g.input('input_ids', DataType.INT64, ['T']);

  // Positions, RoPE tables and the causal mask are computed in the graph so an exported model needs
  // nothing but input_ids.
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
  if (outputs.hidden) g.output(h, 'embeddings', DataType.FLOAT, ['T', H]);
  const residual = (branch: string): string => (c.residualMultiplier !== 1 ? g.op('Mul', [branch, g.scalar(c.residualMultiplier)]) : branch);

  c.layers.forEach((spec, L) => {
    const p = `model.layers.${L}.`;
    const xa = rmsNorm(g, h, g.weight(`${p}input_layernorm.weight`, [H]), c.rmsNormEps);
    h = g.op('Add', [h, residual(attention(g, c, L, xa, rope, mask))]);
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
    h = g.op('Add', [h, residual(mlp)]);
    if (outputs.hidden) g.output(h, `hidden.${L}`, DataType.FLOAT, ['T', H]);
  });

  const final = rmsNorm(g, h, g.weight('model.norm.weight', [H]), c.rmsNormEps);
  if (outputs.hidden) g.output(final, 'final_norm', DataType.FLOAT, ['T', H]);
  let logits = linear(g, final, g.weight(lmHeadName(c), [c.vocabSize, H]));
  if (c.logitsScaling !== 1) logits = g.op('Div', [logits, g.scalar(c.logitsScaling)]);
  if (outputs.logits) g.output(logits, 'logits', DataType.FLOAT, ['T', c.vocabSize]);

  // log p(ids[i+1] | ids[..i]) for i < T-1.
  const head = g.op('Slice', [logits, g.i64([0]), g.i64([-1]), g.i64([0])]);
  const next = g.op('Slice', [ids, g.i64([1]), g.i64([INT64_MAX]), g.i64([0])]);
  const lsm = g.op('LogSoftmax', [head], { axis: int(-1) });
  const lp = g.op('GatherElements', [lsm, g.op('Unsqueeze', [next, g.i64([1])])], { axis: int(1) });
  g.output(g.op('Squeeze', [lp, g.i64([1])]), 'logprobs', DataType.FLOAT, ['T_minus_1']);
  return g;
}
