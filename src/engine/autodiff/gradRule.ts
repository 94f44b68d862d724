// What a gradient rule is given and the helpers rules share (unbroadcasting, zeros of a value's shape).
import { int, type GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import type { NodeView } from './nodeView';
import type { Shape, ShapeInfo } from './shapes';

export interface GradContext {
  readonly g: GraphBuilder;
  readonly info: ShapeInfo;
  shape(value: string): Shape;
  /** int64 values of a constant input (throws when not a constant). */
  ints(value: string): number[];
}

/**
 * One op's backward: given the forward node and the gradients of its outputs (undefined where an output
 * has none), returns the gradients of the inputs that `need` asks for (undefined elsewhere).
 */
export type GradFn = (cx: GradContext, n: NodeView, dOut: readonly (string | undefined)[], need: readonly boolean[]) => (string | undefined)[];

export interface GradRule {
  /** Inputs a gradient can flow into (default: all). Index inputs, shapes, masks are never listed. */
  readonly diffInputs?: readonly number[];
  /** Outputs that carry a gradient (default: all); e.g. TopK's indices do not. */
  readonly diffOutputs?: readonly number[];
  readonly grad: GradFn;
}

export function makeContext(g: GraphBuilder, info: ShapeInfo): GradContext {
  return {
    g,
    info,
    shape(v) {
      const s = info.shapes.get(v);
      if (!s) throw new Error(`internal: autodiff has no shape for ${v}`);
      return s;
    },
    ints(v) {
      const k = info.ints.get(v);
      if (!k || !k.every((d) => typeof d === 'number')) throw new Error(`internal: autodiff needs constant ints for ${v}`);
      return k as number[];
    },
  };
}

/**
 * Sums `grad` (of shape `from`) back to the shape of forward value `target`: over the leading axes `target`
 * lacks and the axes where `target` is statically 1 and `from` is not. The Reshape to the target's run-time
 * shape also makes it right for empty tensors (ORT's ReduceSum of an empty input returns it unchanged).
 */
export function unbroadcast(cx: GradContext, grad: string, from: Shape, target: string): string {
  const to = cx.shape(target);
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead) axes.push(i);
    else if (to[i - lead] === 1 && from[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return grad;
  const g = cx.g;
  const summed = g.op('ReduceSum', [grad, g.i64(axes)], { keepdims: int(1) });
  return g.op('Reshape', [summed, g.op('Shape', [target])]);
}

/** Float zeros of a value's run-time shape. */
export function zerosLike(cx: GradContext, v: string): string {
  return cx.g.op('ConstantOfShape', [cx.g.op('Shape', [v])]);
}

/** A float32 scalar 0 (for Where). */
export function zero(cx: GradContext): string {
  return cx.g.constant([0], DataType.FLOAT, []);
}

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
