// y = x W^T (+ b) for a 2-D x [T, in] and an HF Linear weight [out, in].
import { int, type GraphBuilder } from '../onnx/graphBuilder';

export function linear(g: GraphBuilder, x: string, weight: string, bias?: string): string {
  return g.op('Gemm', bias ? [x, weight, bias] : [x, weight], { transB: int(1) });
}

/** SwiGLU MLP: down(silu(gate x) * up x), with optional biases (Llama mlp_bias). */
export function swiglu(g: GraphBuilder, x: string, w: { gate: string; up: string; down: string; gateBias?: string; upBias?: string; downBias?: string }): string {
  const gate = linear(g, x, w.gate, w.gateBias);
  const up = linear(g, x, w.up, w.upBias);
  const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
  return linear(g, act, w.down, w.downBias);
}
