// Backward of the gather/scatter ops and TopK: a gather's gradient is a scatter-add into zeros (duplicate
// indices summed, empty index lists allowed), a scatter-add's is a gather. Indices get no gradient.
import { int, str } from '../onnx/graphBuilder';
import { intAttr, strAttr } from './nodeView';
import { type GradRule, zerosLike } from './gradRule';

export const indexRules: Record<string, GradRule> = {
  Gather: {
    diffInputs: [0],
    grad(cx, n, [dy]) {
      const g = cx.g;
      const [data, idx] = n.inputs as [string, string];
      if (intAttr(n, 'axis', 0) !== 0) throw new Error('internal: Gather backward supports axis 0');
      // ScatterND with indices idx[..., None] and updates of shape idx.shape + data.shape[1:] = dy's shape.
      const where = g.op('Unsqueeze', [idx, g.i64([-1])]);
      return [g.op('ScatterND', [zerosLike(cx, data), where, dy!], { reduction: str('add') })];
    },
  },
  GatherElements: {
    diffInputs: [0],
    grad(cx, n, [dy]) {
      const [data, idx] = n.inputs as [string, string];
      return [cx.g.op('ScatterElements', [zerosLike(cx, data), idx, dy!], { axis: int(intAttr(n, 'axis', 0)), reduction: str('add') })];
    },
  },
  ScatterND: {
    diffInputs: [0, 2],
    grad(cx, n, [dy], need) {
      const g = cx.g;
      const [, idx, upd] = n.inputs as [string, string, string];
      const add = strAttr(n, 'reduction', 'none') === 'add';
      if (!add && strAttr(n, 'reduction', 'none') !== 'none') throw new Error('internal: ScatterND backward supports reduction none or add');
      // With reduction none the overwritten positions of data get no gradient.
      const dData = need[0] ? (add ? dy! : g.op('ScatterND', [dy!, idx, zerosLike(cx, upd)])) : undefined;
      const dUpd = need[2] ? g.op('GatherND', [dy!, idx]) : undefined;
      return [dData, undefined, dUpd];
    },
  },
  ScatterElements: {
    diffInputs: [0, 2],
    grad(cx, n, [dy], need) {
      const g = cx.g;
      const [, idx, upd] = n.inputs as [string, string, string];
      const axis = int(intAttr(n, 'axis', 0));
      const add = strAttr(n, 'reduction', 'none') === 'add';
      if (!add && strAttr(n, 'reduction', 'none') !== 'none') throw new Error('internal: ScatterElements backward supports reduction none or add');
      const dData = need[0] ? (add ? dy! : g.op('ScatterElements', [dy!, idx, zerosLike(cx, upd)], { axis })) : undefined;
      const dUpd = need[2] ? g.op('GatherElements', [dy!, idx], { axis }) : undefined;
      return [dData, undefined, dUpd];
    },
  },
  // The selected values' gradient goes back to where they were taken from; the indices are constants.
  TopK: {
    diffInputs: [0],
    diffOutputs: [0],
    grad(cx, n, [dVals]) {
      const x = n.inputs[0]!;
      return [cx.g.op('ScatterElements', [zerosLike(cx, x), n.outputs[1]!, dVals!], { axis: int(intAttr(n, 'axis', -1)), reduction: str('add') })];
    },
  },
};
