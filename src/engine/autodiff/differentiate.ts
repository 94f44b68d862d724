// Reverse-mode differentiation of a GraphBuilder's graph, emitted as standard ONNX ops into the same
// builder. Forward, it marks the values that depend on a trainable input; backward, it walks the nodes in
// reverse from the loss, calling each op's rule only for nodes on a path from a trainable input to the
// loss, so frozen weights get no weight-gradient and everything below the lowest trainable value runs
// forward only. Gradients of values used several times are summed.
import type { GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { intAttr, viewNode } from './nodeView';
import { GRADIENT_RULES, NON_DIFFERENTIABLE } from './gradientRules';
import { makeContext } from './gradRule';
import { inferShapes } from './shapes';

/**
 * Emits d loss / d w for every w in `wrt` (graph inputs or weights). `loss` must be a scalar. Returns the
 * gradient's value name per w, or undefined for a w the loss does not depend on.
 */
export function differentiate(g: GraphBuilder, loss: string, wrt: readonly string[]): Map<string, string | undefined> {
  const nodes = g.nodeList.map(viewNode);
  const info = inferShapes(g);
  const cx = makeContext(g, info);

  const active = new Set<string>(wrt);
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.opType)) continue;
    if (n.opType === 'Cast' && intAttr(n, 'to', DataType.FLOAT) !== DataType.FLOAT) continue;
    const rule = GRADIENT_RULES[n.opType];
    const diffIn = rule?.diffInputs ?? n.inputs.map((_, i) => i);
    if (!diffIn.some((i) => active.has(n.inputs[i] ?? ''))) continue;
    if (!rule) throw new Error(`internal: no gradient rule for ${n.domain ? n.domain + '.' : ''}${n.opType} (node output ${n.outputs[0]})`);
    (rule.diffOutputs ?? n.outputs.map((_, i) => i)).forEach((i) => active.add(n.outputs[i]!));
  }
  const result = new Map<string, string | undefined>();
  if (!active.has(loss)) {
    for (const w of wrt) result.set(w, undefined);
    return result;
  }

  const pending = new Map<string, string[]>();
  const add = (v: string, grad: string): void => {
    const list = pending.get(v);
    if (list) list.push(grad);
    else pending.set(v, [grad]);
  };
  const take = (v: string): string | undefined => {
    const list = pending.get(v);
    if (!list) return undefined;
    let sum = list[0]!;
    for (let i = 1; i < list.length; i++) sum = g.op('Add', [sum, list[i]!]);
    pending.set(v, [sum]);
    return sum;
  };
  add(loss, g.scalar(1));

  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!n.outputs.some((o) => active.has(o) && pending.has(o))) continue;
    const rule = GRADIENT_RULES[n.opType]!;
    const diffIn = new Set(rule.diffInputs ?? n.inputs.map((_, i) => i));
    const need = n.inputs.map((x, i) => x !== '' && diffIn.has(i) && active.has(x));
    if (!need.some(Boolean)) continue;
    const dOut = n.outputs.map((o) => (active.has(o) ? take(o) : undefined));
    const dIn = rule.grad(cx, n, dOut, need);
    n.inputs.forEach((x, i) => {
      const d = dIn[i];
      if (need[i] && d !== undefined) add(x, d);
    });
  }
  for (const w of wrt) result.set(w, take(w));
  return result;
}
