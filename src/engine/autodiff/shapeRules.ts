// Backward of the ops that only move values: reshapes, transposes, concatenation, splits and slices.
import { DataType } from '../onnx/onnxProto';
import { int, ints } from '../onnx/graphBuilder';
import { intAttr, intsAttr } from './nodeView';
import { type GradRule, normAxis, zerosLike } from './gradRule';

const BIG = 2 ** 52;

/** The gradient takes the input's run-time shape back. */
const reshapeBack: GradRule = { diffInputs: [0], grad: (cx, n, [dy]) => [cx.g.op('Reshape', [dy!, cx.g.op('Shape', [n.inputs[0]!])])] };

export const shapeRules: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: {
    grad(cx, n, [dy]) {
      const rank = cx.shape(n.inputs[0]!).length;
      const perm = intsAttr(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inv = new Array<number>(rank);
      perm.forEach((p, i) => (inv[p] = i));
      return [cx.g.op('Transpose', [dy!], { perm: ints(inv) })];
    },
  },
  // Split back at the inputs' sizes along the axis, taken at run time (they may be symbolic, e.g. T).
  Concat: {
    grad(cx, n, [dy], need) {
      const g = cx.g;
      const rank = cx.shape(n.inputs[0]!).length;
      const axis = normAxis(intAttr(n, 'axis', 0), rank);
      const sizes = n.inputs.map((x) => g.op('Slice', [g.op('Shape', [x]), g.i64([axis]), g.i64([axis + 1])]));
      const parts = g.node('Split', [dy!, g.op('Concat', sizes, { axis: int(0) })], { axis: int(axis) }, { outputs: n.inputs.length });
      return parts.map((p, i) => (need[i] ? p : undefined));
    },
  },
  Split: {
    diffInputs: [0],
    grad(cx, n, dOut) {
      const parts = n.outputs.map((o, i) => dOut[i] ?? zerosLike(cx, o));
      return [cx.g.op('Concat', parts, { axis: int(intAttr(n, 'axis', 0)) })];
    },
  },
  // The gradient padded back with zeros where the slice cut (steps of 1 only).
  Slice: {
    diffInputs: [0],
    grad(cx, n, [dy]) {
      const x = n.inputs[0]!;
      const xs = cx.shape(x);
      const starts = cx.ints(n.inputs[1]!);
      const ends = cx.ints(n.inputs[2]!);
      const axes = n.inputs[3] ? cx.ints(n.inputs[3]) : starts.map((_, i) => i);
      if (n.inputs[4] && cx.ints(n.inputs[4]).some((s) => s !== 1)) throw new Error('internal: Slice backward supports steps of 1');
      const pads = new Array<number>(2 * xs.length).fill(0);
      axes.forEach((a0, i) => {
        const a = normAxis(a0, xs.length);
        const d = xs[a]!;
        const s = starts[i]!;
        const e = ends[i]!;
        if (typeof d === 'number') {
          const clamp = (v: number): number => Math.max(0, Math.min(d, v < 0 ? v + d : v));
          pads[a] = clamp(s);
          pads[xs.length + a] = d - Math.max(clamp(s), clamp(e));
        } else {
          if (s < 0 || (e >= 0 && e < BIG)) throw new Error(`internal: Slice backward cannot pad a symbolic axis for [${s}, ${e})`);
          pads[a] = s;
          pads[xs.length + a] = e >= BIG ? 0 : -e;
        }
      });
      return [cx.g.op('Pad', [dy!, cx.g.constant(pads, DataType.INT64)])];
    },
  },
};
