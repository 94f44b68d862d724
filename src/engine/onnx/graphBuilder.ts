// A small builder for ONNX graphs: named values, nodes with typed attributes, small constants as
// initializers, and weights that are either graph inputs (fed at run time from the weight store) or
// initializers (when exporting a standalone model).
import { AttributeType, DataType, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './onnxProto';

export type Attr = { t: 'int'; v: number } | { t: 'float'; v: number } | { t: 'str'; v: string } | { t: 'ints'; v: number[] };
export const int = (v: number): Attr => ({ t: 'int', v });
export const float = (v: number): Attr => ({ t: 'float', v });
export const str = (v: string): Attr => ({ t: 'str', v });
export const ints = (v: number[]): Attr => ({ t: 'ints', v });

export type Dim = number | string;

export interface WeightRef {
  readonly name: string;
  readonly dims: readonly number[];
}

function valueInfo(name: string, elemType: DataType, dims: readonly Dim[]): ValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function attribute(name: string, a: Attr): AttributeProto {
  switch (a.t) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.v };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.v };
    case 'str':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.v) };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.v };
  }
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly consts: TensorProto[] = [];
  private readonly weightRefs = new Map<string, WeightRef>();
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  /** Declares a run-time input (not a weight). */
  input(name: string, elemType: DataType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** References a float32 weight by its store name; how it is supplied is decided at build time. */
  weight(name: string, dims: readonly number[]): string {
    const prev = this.weightRefs.get(name);
    if (prev && prev.dims.join(',') !== dims.join(',')) throw new Error(`internal: weight ${name} used with two shapes`);
    this.weightRefs.set(name, { name, dims });
    return name;
  }

  get weights(): readonly WeightRef[] {
    return [...this.weightRefs.values()];
  }

  /** The nodes added so far, in order (read by the autodiff walk). */
  get nodeList(): readonly NodeProto[] {
    return this.nodes;
  }

  /** The run-time inputs declared so far (not the weights). */
  get inputList(): readonly ValueInfoProto[] {
    return this.inputs;
  }

  /** The constant named `name`, if it is one of this builder's constants. */
  constantTensor(name: string): TensorProto | undefined {
    return name.startsWith('const_') ? this.consts.find((t) => t.name === name) : undefined;
  }

  /** A float32 or int64 constant (deduplicated). */
  constant(values: readonly number[], elemType: DataType.FLOAT | DataType.INT64 = DataType.FLOAT, dims: readonly number[] = [values.length]): string {
    const key = `${elemType}|${dims.join(',')}|${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = `const_${this.consts.length}`;
    const bytes = elemType === DataType.INT64 ? new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer) : new Uint8Array(Float32Array.from(values).buffer);
    this.consts.push({ name, dims: [...dims], dataType: elemType, rawData: bytes });
    this.constCache.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.constant([v], DataType.FLOAT, []);
  }

  i64(values: readonly number[]): string {
    return this.constant(values, DataType.INT64);
  }

  /** Adds a node; returns its output names. `outputs` may name them (for graph outputs). */
  node(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; outputs?: number | readonly string[] } = {}): string[] {
    const outs = Array.isArray(opts.outputs) ? [...(opts.outputs as readonly string[])] : Array.from({ length: (opts.outputs as number | undefined) ?? 1 }, () => `${opType.toLowerCase()}_${this.counter++}`);
    const node: NodeProto = { opType, input: [...inputs], output: outs, name: `${opType}_${this.counter++}`, attribute: Object.entries(attrs).map(([k, a]) => attribute(k, a)) };
    if (opts.domain) node.domain = opts.domain;
    this.nodes.push(node);
    return outs;
  }

  /** Single-output node. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, domain?: string): string {
    return this.node(opType, inputs, attrs, domain ? { domain } : {})[0]!;
  }

  /** Exposes `value` as graph output `name` (through an Identity so names stay stable). */
  output(value: string, name: string, elemType: DataType, dims: readonly Dim[]): void {
    this.node('Identity', [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /**
   * Builds the model. `weightInitializer` decides per weight: return a TensorProto to embed it as an
   * initializer (export), or undefined to make it a graph input (run time, fed from the weight store).
   */
  build(weightInitializer: (w: WeightRef) => TensorProto | undefined = () => undefined, metadata: Record<string, string> = {}): ModelProto {
    const initializers = [...this.consts];
    const inputs = [...this.inputs];
    for (const w of this.weightRefs.values()) {
      const init = weightInitializer(w);
      if (init) initializers.push(init);
      else inputs.push(valueInfo(w.name, DataType.FLOAT, w.dims));
    }
    return {
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      producerName: 'moe-workbench',
      producerVersion: '0.1.0',
      graph: { name: 'moe_workbench', node: this.nodes, initializer: initializers, input: inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
  }
}
