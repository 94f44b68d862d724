// RMSNorm as HF computes it (fp32): w * x / sqrt(mean(x^2) + eps), over the last axis.
import { ints, type GraphBuilder } from '../onnx/graphBuilder';

export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const sq = g.op('Mul', [x, x]);
  const ms = g.op('ReduceMean', [sq], { axes: ints([-1]), keepdims: { t: 'int', v: 1 } });
  const rms = g.op('Sqrt', [g.op('Add', [ms, g.scalar(eps)])]);
  return g.op('Mul', [g.op('Div', [x, rms]), weight]);
}
