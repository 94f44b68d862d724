// Splits a differentiated graph into its forward part and its backward part, so the backward can run later
// from stored activations instead of recomputing the forward: the forward graph outputs, besides its own
// outputs, every forward value a backward node reads ("saved" values); the backward graph takes those as
// inputs. Graph inputs, weights and constants are inputs/initializers of whichever part uses them.
import type { GraphBuilder, Dim } from '../onnx/graphBuilder';
import { DataType, type ModelProto, type NodeProto, type ValueInfoProto } from '../onnx/onnxProto';
import { intAttr, viewNode } from './nodeView';
import { inferShapes } from './shapes';

/** Element types of every value, from the inputs' declared types and each op's type rule. */
function elementTypes(model: ModelProto): Map<string, DataType> {
  const types = new Map<string, DataType>();
  for (const i of model.graph.input) types.set(i.name, i.type.tensorType.elemType);
  for (const t of model.graph.initializer) types.set(t.name!, t.dataType);
  for (const proto of model.graph.node) {
    const n = viewNode(proto);
    const first = types.get(n.inputs[0] ?? '') ?? DataType.FLOAT;
    const set = (t: DataType, i = 0): void => void types.set(n.outputs[i]!, t);
    switch (n.opType) {
      case 'Shape':
      case 'NonZero':
      case 'ArgMax':
        set(DataType.INT64);
        break;
      case 'Equal':
      case 'Less':
      case 'LessOrEqual':
      case 'Greater':
      case 'GreaterOrEqual':
      case 'And':
      case 'Or':
      case 'Not':
        set(DataType.BOOL);
        break;
      case 'Cast':
        set(intAttr(n, 'to', DataType.FLOAT) as DataType);
        break;
      case 'ConstantOfShape':
        set(DataType.FLOAT);
        break;
      case 'TopK':
        set(first, 0);
        set(DataType.INT64, 1);
        break;
      case 'Where':
        set(types.get(n.inputs[1]!) ?? DataType.FLOAT);
        break;
      default:
        // Data movement and arithmetic keep their first input's type (Split: for every output).
        n.outputs.forEach((_, i) => set(first, i));
    }
  }
  return types;
}

export interface SplitGraphs {
  readonly forward: ModelProto;
  readonly backward: ModelProto;
  /** Forward values the backward reads: outputs of `forward`, inputs of `backward`. */
  readonly saved: readonly string[];
}

/**
 * `g` holds forward nodes [0, boundary) and backward nodes after. `forwardOutputs`: graph outputs (declared
 * with g.output before the boundary) that the forward part outputs besides the saved values; every other
 * graph output belongs to the backward part.
 */
export function splitAtBackward(g: GraphBuilder, boundary: number, forwardOutputNames: readonly string[]): SplitGraphs {
  const shapes = inferShapes(g).shapes;
  const model = g.build();
  const forwardOutputs = model.graph.output.filter((o) => forwardOutputNames.includes(o.name));
  const types = elementTypes(model);
  const nodes = model.graph.node;
  const fwd = nodes.slice(0, boundary);
  const bwd = nodes.slice(boundary);
  const produced = new Set(fwd.flatMap((n) => n.output));
  const reads = (ns: readonly NodeProto[]): Set<string> => new Set(ns.flatMap((n) => n.input).filter((x) => x !== ''));
  const bwdReads = reads(bwd);
  const fwdReads = reads(fwd);
  const saved = [...bwdReads].filter((x) => produced.has(x));
  let fresh = 0;
  // Unknown sizes get their own symbol per input axis, so no two are claimed equal.
  const info = (name: string): ValueInfoProto => ({
    name,
    type: { tensorType: { elemType: types.get(name) ?? DataType.FLOAT, shape: { dim: (shapes.get(name) ?? []).map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: `s${fresh++}` })) } } },
  });
  const declared = new Set(forwardOutputs.map((o) => o.name));
  const part = (ns: NodeProto[], used: Set<string>, extraInputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto => ({
    ...model,
    graph: {
      ...model.graph,
      node: ns,
      initializer: model.graph.initializer.filter((t) => used.has(t.name!)),
      input: [...model.graph.input.filter((i) => used.has(i.name)), ...extraInputs],
      output: outputs,
    },
  });
  const forward = part(fwd, fwdReads, [], [...forwardOutputs, ...saved.filter((s) => !declared.has(s)).map(info)]);
  const backward = part(bwd, bwdReads, saved.map(info), model.graph.output.filter((o) => bwd.some((n) => n.output.includes(o.name))));
  return { forward, backward, saved };
}
