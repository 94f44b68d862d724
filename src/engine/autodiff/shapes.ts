// Static shape inference over a GraphBuilder's nodes, with symbolic dims (strings such as 'T', 'T-1', or
// fresh '?n' for data-dependent sizes like NonZero's). The backward needs shapes only to know which axes a
// broadcast input was repeated along (a dim statically 1 against a dim that is not) and the static offsets
// of Concat/Slice; everything else takes its shapes at run time (Shape/Reshape/Expand).
import type { Dim, GraphBuilder } from '../onnx/graphBuilder';
import { DataType } from '../onnx/onnxProto';
import { intAttr, intsAttr, viewNode } from './nodeView';

export type Shape = readonly Dim[];

/** int64 values known at build time: constants, and Shape() outputs as symbolic dims. */
export type KnownInts = Map<string, readonly Dim[]>;

export interface ShapeInfo {
  readonly shapes: Map<string, Shape>;
  readonly ints: KnownInts;
}

const BIG = 2 ** 52;

function broadcast(shapes: readonly Shape[]): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i];
      if (x === undefined || x === 1) continue;
      if (d === 1 || typeof d === 'string') d = typeof x === 'number' ? x : d === 1 ? x : d;
    }
    out.push(d);
  }
  return out;
}

const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function inferShapes(g: GraphBuilder): ShapeInfo {
  const shapes = new Map<string, Shape>();
  const ints: KnownInts = new Map();
  let fresh = 0;
  const sym = (): string => `?${fresh++}`;
  for (const i of g.inputList) shapes.set(i.name, i.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? d.dimValue : d.dimParam)));
  for (const w of g.weights) shapes.set(w.name, w.dims);
  const constInts = (name: string): readonly Dim[] | undefined => {
    const known = ints.get(name);
    if (known) return known;
    const t = g.constantTensor(name);
    if (!t) return undefined;
    if (!shapes.has(name)) shapes.set(name, t.dims ?? []);
    if (t.dataType !== DataType.INT64 || !t.rawData) return undefined;
    const raw = t.rawData;
    const v = Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
    ints.set(name, v);
    return v;
  };
  const numbers = (name: string): number[] | undefined => {
    const v = constInts(name);
    return v && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
  };
  const shapeOf = (name: string): Shape => {
    if (name === '') return [];
    const s = shapes.get(name);
    if (s) return s;
    constInts(name);
    const c = shapes.get(name);
    if (!c) throw new Error(`internal: shape of ${name} unknown`);
    return c;
  };

  for (const proto of g.nodeList) {
    const n = viewNode(proto);
    const ins = n.inputs.map((x) => (x === '' ? [] : shapeOf(x)));
    const set = (s: Shape, i = 0): void => void shapes.set(n.outputs[i]!, s);
    const x = ins[0] ?? [];
    switch (n.opType) {
      case 'Identity':
      case 'Neg':
      case 'Sqrt':
      case 'Sigmoid':
      case 'Cos':
      case 'Sin':
      case 'Exp':
      case 'Log':
      case 'Cast':
      case 'Clip':
      case 'Softmax':
      case 'LogSoftmax':
      case 'Not':
      case 'ScatterND':
      case 'ScatterElements':
        set(x);
        if (n.opType === 'Identity' || n.opType === 'Cast') {
          const k = ints.get(n.inputs[0]!);
          if (k) ints.set(n.outputs[0]!, k);
        }
        break;
      case 'MoE':
        set(x);
        break;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Equal':
      case 'Less':
      case 'LessOrEqual':
      case 'Greater':
      case 'GreaterOrEqual':
      case 'And':
      case 'Or':
      case 'Where':
        set(broadcast(ins));
        break;
      case 'Gemm': {
        const a = intAttr(n, 'transA', 0) ? [x[1]!, x[0]!] : x;
        const b = intAttr(n, 'transB', 0) ? [ins[1]![1]!, ins[1]![0]!] : ins[1]!;
        set([a[0]!, b[1]!]);
        break;
      }
      case 'MatMul': {
        const a = x;
        const b = ins[1]!;
        const batch = broadcast([a.slice(0, -2), b.slice(0, -2)]);
        set([...batch, a[a.length - 2]!, b[b.length - 1]!]);
        break;
      }
      case 'Reshape': {
        const target = constInts(n.inputs[1]!);
        if (!target) {
          set(target ?? [sym()]);
          break;
        }
        const out: Dim[] = target.map((d, i) => (d === 0 ? x[i]! : d));
        const neg = out.indexOf(-1);
        if (neg >= 0) {
          // -1: the input's size divided by the other dims, symbolically where a single symbol is left.
          let coef = 1;
          const syms: string[] = [];
          for (const d of x) typeof d === 'number' ? (coef *= d) : syms.push(d);
          out.forEach((d, i) => {
            if (i === neg) return;
            if (typeof d === 'number') coef /= d;
            else {
              const j = syms.indexOf(d);
              if (j >= 0) syms.splice(j, 1);
              else coef = NaN;
            }
          });
          out[neg] = syms.length === 0 && Number.isInteger(coef) ? coef : syms.length === 1 && coef === 1 ? syms[0]! : sym();
        }
        set(out);
        break;
      }
      case 'Transpose': {
        const perm = intsAttr(n, 'perm') ?? x.map((_, i) => x.length - 1 - i);
        set(perm.map((p) => x[p]!));
        break;
      }
      case 'Unsqueeze': {
        const axes = numbers(n.inputs[1]!)!;
        const rank = x.length + axes.length;
        const ax = new Set(axes.map((a) => norm(a, rank)));
        const out: Dim[] = [];
        let j = 0;
        for (let i = 0; i < rank; i++) out.push(ax.has(i) ? 1 : x[j++]!);
        set(out);
        const k = ints.get(n.inputs[0]!);
        if (k && x.length === 0) ints.set(n.outputs[0]!, k);
        break;
      }
      case 'Squeeze': {
        const axes = n.inputs[1] ? numbers(n.inputs[1])! : x.flatMap((d, i) => (d === 1 ? [i] : []));
        const ax = new Set(axes.map((a) => norm(a, x.length)));
        set(x.filter((_, i) => !ax.has(i)));
        const k = ints.get(n.inputs[0]!);
        if (k && k.length === 1) ints.set(n.outputs[0]!, k);
        break;
      }
      case 'Concat': {
        const axis = norm(intAttr(n, 'axis', 0), x.length);
        let total: Dim = 0;
        for (const s of ins) {
          const d = s[axis]!;
          total = typeof total === 'number' && typeof d === 'number' ? total + d : sym();
        }
        set(x.map((d, i) => (i === axis ? total : d)));
        break;
      }
      case 'Split': {
        const axis = norm(intAttr(n, 'axis', 0), x.length);
        const parts = n.inputs[1] ? numbers(n.inputs[1])! : undefined;
        n.outputs.forEach((_, i) => {
          const d = x[axis]!;
          const size = parts ? parts[i]! : typeof d === 'number' ? d / n.outputs.length : sym();
          set(
            x.map((v, j) => (j === axis ? size : v)),
            i,
          );
        });
        break;
      }
      case 'Gather': {
        const axis = norm(intAttr(n, 'axis', 0), x.length);
        set([...x.slice(0, axis), ...ins[1]!, ...x.slice(axis + 1)]);
        break;
      }
      case 'GatherElements':
        set(ins[1]!);
        break;
      case 'ReduceSum':
      case 'ReduceMean':
      case 'ReduceMax': {
        const axes = (n.inputs[1] ? numbers(n.inputs[1]) : intsAttr(n, 'axes')) ?? x.map((_, i) => i);
        const ax = new Set(axes.map((a) => norm(a, x.length)));
        const keep = intAttr(n, 'keepdims', 1) === 1;
        set(keep ? x.map((d, i) => (ax.has(i) ? 1 : d)) : x.filter((_, i) => !ax.has(i)));
        break;
      }
      case 'Shape':
        set([x.length]);
        ints.set(n.outputs[0]!, x);
        break;
      case 'Range': {
        const start = numbers(n.inputs[0]!);
        const limit = constInts(n.inputs[1]!);
        const delta = numbers(n.inputs[2]!);
        const ok = start?.[0] === 0 && delta?.[0] === 1 && limit?.length === 1;
        set([ok ? limit[0]! : sym()]);
        break;
      }
      case 'NonZero':
        set([x.length, sym()]);
        break;
      case 'TopK': {
        const k = numbers(n.inputs[1]!)![0]!;
        const axis = norm(intAttr(n, 'axis', -1), x.length);
        const s = x.map((d, i) => (i === axis ? k : d));
        set(s, 0);
        set(s, 1);
        break;
      }
      case 'Slice': {
        const starts = numbers(n.inputs[1]!)!;
        const ends = numbers(n.inputs[2]!)!;
        const axes = n.inputs[3] ? numbers(n.inputs[3])! : starts.map((_, i) => i);
        const out = [...x];
        axes.forEach((a0, i) => {
          const a = norm(a0, x.length);
          const d = x[a]!;
          const s = starts[i]!;
          const e = ends[i]!;
          if (typeof d === 'number') {
            const clamp = (v: number): number => Math.max(0, Math.min(d, v < 0 ? v + d : v));
            out[a] = Math.max(0, clamp(e) - clamp(s));
          } else if (s >= 0 && e >= BIG) out[a] = s === 0 ? d : `${d}-${s}`;
          else if (s === 0 && e < 0) out[a] = `${d}-${-e}`;
          else if (s >= 0 && e >= 0) out[a] = e - s;
          else out[a] = sym();
        });
        set(out);
        break;
      }
      case 'ConstantOfShape': {
        const s = constInts(n.inputs[0]!);
        set(s ?? [sym()]);
        break;
      }
      case 'Expand':
        set(broadcast([x, constInts(n.inputs[1]!) ?? [sym()]]));
        break;
      default:
        // Ops only the backward emits (GatherND, Pad, ...) need no shape: no rule asks for them.
        n.outputs.forEach((o) => shapes.set(o, [sym()]));
    }
  }
  return { shapes, ints };
}
