// Backward of the matrix products, softmaxes and reductions.
import { int, ints } from '../onnx/graphBuilder';
import { intAttr, intsAttr, type NodeView } from './nodeView';
import { type GradContext, type GradRule, normAxis, unbroadcast } from './gradRule';

/** Swaps the last two axes of a value of rank `rank`. */
function swapLast(cx: GradContext, v: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return cx.g.op('Transpose', [v], { perm: ints(perm) });
}

/** ReduceSum/ReduceMean: the output gradient spread back over the reduced axes. */
function reduceGrad(cx: GradContext, n: NodeView, dy: string, mean: boolean): string {
  const g = cx.g;
  const x = n.inputs[0]!;
  const xs = cx.shape(x);
  const axesIn = n.opType === 'ReduceSum' ? (n.inputs[1] ? cx.ints(n.inputs[1]) : undefined) : intsAttr(n, 'axes');
  const axes = (axesIn ?? xs.map((_, i) => i)).map((a) => normAxis(a, xs.length)).sort((a, b) => a - b);
  let grad = dy;
  if (intAttr(n, 'keepdims', 1) === 0) grad = g.op('Unsqueeze', [grad, g.i64(axes)]);
  grad = g.op('Expand', [grad, g.op('Shape', [x])]);
  if (mean) {
    let count = 1;
    for (const a of axes) {
      const d = xs[a]!;
      if (typeof d !== 'number') throw new Error(`internal: ReduceMean over a symbolic axis of ${x}`);
      count *= d;
    }
    grad = g.op('Mul', [grad, g.scalar(1 / count)]);
  }
  return grad;
}

export const linalgRules: Record<string, GradRule> = {
  Gemm: {
    grad(cx, n, [dy], need) {
      const g = cx.g;
      if (intAttr(n, 'transA', 0) !== 0 || (n.attrs.get('alpha') ?? 1) !== 1 || (n.attrs.get('beta') ?? 1) !== 1) throw new Error('internal: Gemm backward supports transA=0, alpha=beta=1');
      const [a, b, c] = n.inputs as [string, string, string | undefined];
      const transB = intAttr(n, 'transB', 0) === 1;
      // Y = A B' with B' = B^T (transB) or B.
      const da = need[0] ? (transB ? g.op('MatMul', [dy!, b]) : g.op('Gemm', [dy!, b], { transB: int(1) })) : undefined;
      const db = need[1] ? (transB ? g.op('Gemm', [dy!, a], { transA: int(1) }) : g.op('Gemm', [a, dy!], { transA: int(1) })) : undefined;
      const dc = c && need[2] ? unbroadcast(cx, dy!, cx.shape(n.outputs[0]!), c) : undefined;
      return [da, db, dc];
    },
  },
  MatMul: {
    grad(cx, n, [dy], need) {
      const g = cx.g;
      const [a, b] = n.inputs as [string, string];
      const as = cx.shape(a);
      const bs = cx.shape(b);
      const ys = cx.shape(n.outputs[0]!);
      if (as.length < 2 || bs.length < 2) throw new Error('internal: MatMul backward needs operands of rank >= 2');
      const batch = ys.slice(0, -2);
      const da = need[0] ? unbroadcast(cx, g.op('MatMul', [dy!, swapLast(cx, b, bs.length)]), [...batch, ...as.slice(-2)], a) : undefined;
      const db = need[1] ? unbroadcast(cx, g.op('MatMul', [swapLast(cx, a, as.length), dy!]), [...batch, ...bs.slice(-2)], b) : undefined;
      return [da, db];
    },
  },
  // dx = y * (dy - sum(dy * y)) along the axis.
  Softmax: {
    grad(cx, n, [dy]) {
      const g = cx.g;
      const y = n.outputs[0]!;
      const axis = intAttr(n, 'axis', -1);
      const s = g.op('ReduceSum', [g.op('Mul', [dy!, y]), g.i64([axis])], { keepdims: int(1) });
      return [g.op('Mul', [y, g.op('Sub', [dy!, s])])];
    },
  },
  // dx = dy - softmax(x) * sum(dy) along the axis; softmax(x) = exp(y).
  LogSoftmax: {
    grad(cx, n, [dy]) {
      const g = cx.g;
      const axis = intAttr(n, 'axis', -1);
      const s = g.op('ReduceSum', [dy!, g.i64([axis])], { keepdims: int(1) });
      return [g.op('Sub', [dy!, g.op('Mul', [g.op('Exp', [n.outputs[0]!]), s])])];
    },
  },
  ReduceSum: { diffInputs: [0], grad: (cx, n, [dy]) => [reduceGrad(cx, n, dy!, false)] },
  ReduceMean: { diffInputs: [0], grad: (cx, n, [dy]) => [reduceGrad(cx, n, dy!, true)] },
};
