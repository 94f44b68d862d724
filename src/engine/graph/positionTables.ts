// Positions 0..T-1 as the decoder layers use them: rotate-half RoPE tables and the additive causal (and
// sliding-window) mask. Shared by the inference graphs (decoderGraph.ts, layer-wise units) and the training
// graphs.
import type { ModelConfig } from '../model/modelConfig';
import { int, type GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import type { RopeTables } from './attention';
import { ropeInvFreq } from './rope';

export interface PositionTables {
  readonly rope: RopeTables;
  /** [T, T] additive causal (and sliding-window) mask. */
  readonly mask: string;
}

/**
 * RoPE tables and the causal mask for positions 0..T-1, from `T` (an int64 scalar). Computed in the graph so
 * an exported model needs nothing but input_ids.
 */
export function positionTables(g: GraphBuilder, c: ModelConfig, T: string): PositionTables {
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
  return { rope, mask: g.op('Where', [allowed, g.scalar(0), g.scalar(-Infinity)]) };
}
