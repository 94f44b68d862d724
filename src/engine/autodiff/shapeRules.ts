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
  Concat: {
    grad(cx, n, [dy], need) {
      const rank = cx.shape(n.inputs[0]!).length;
      const axis = normAxis(intAttr(n, 'axis', 0), rank);
      let offset = 0;
      return n.inputs.map((x, i) => {
        const d = cx.shape(x)[axis]!;
        if (typeof d !== 'number') {
          if (need.slice(i).some(Boolean)) throw new Error(`internal: Concat backward needs a static size along axis ${axis} of ${x}`);
          return undefined;
        }
        const start = offset;
        offset += d;
        return need[i] ? cx.g.op('Slice', [dy!, cx.g.i64([start]), cx.g.i64([start + d]), cx.g.i64([axis])]) : undefined;
      });
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
