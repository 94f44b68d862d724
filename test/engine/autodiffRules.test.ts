// Each group of gradient rules in isolation, on tiny graphs: the float32 backward that differentiate()
// emits against central differences of the same forward graph promoted to float64 (every float tensor,
// constant and cast turned into double and run by ONNX Runtime), along random directions of every input.
// Tolerance 1e-4 relative + 1e-6: these graphs are a few ops deep, so the float32 backward is good to
// ~1e-6; the float64 difference with a step of 2^-12 has truncation error ~1e-8.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { differentiate } from '../../src/engine/autodiff/differentiate';
import { trainableMoeBlock, expertFc1SliceName, expertFc2SliceName } from '../../src/engine/graph/trainableMoeBlock';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { GraphBuilder, int, ints, str, type Dim } from '../../src/engine/onnx/graphBuilder';
import { AttributeType, DataType, encodeModel, type ModelProto, type TensorProto } from '../../src/engine/onnx/onnxProto';
import { type FeedTensor, OrtSession } from '../../src/engine/runtime/ortSession';
import { normalStream } from '../support/referenceGradients';

const EPS = 2 ** -12;

interface Case {
  /** Builds the forward on `g`; returns the scalar loss. Float inputs/weights are the differentiated values. */
  build(g: GraphBuilder): string;
  /** Run-time dims of every float input and weight, by name (symbolic dims resolved). */
  readonly dims: Record<string, number[]>;
  readonly ints?: Record<string, { data: number[]; dims: number[] }>;
}

function toDouble(t: TensorProto): TensorProto {
  if (t.dataType !== DataType.FLOAT) return t;
  const raw = t.rawData!;
  const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { ...t, dataType: DataType.DOUBLE, rawData: new Uint8Array(Float64Array.from(f).buffer) };
}

/**
 * The forward in float64: each float input x becomes x.base + eps · x.dir (float32 feeds, exact in double),
 * and the loss comes out as two float32 parts hi + lo (a float32 output would round the difference away).
 */
function promote(m: ModelProto, loss: string, floats: readonly string[]): ModelProto {
  const g = m.graph;
  const pre = floats.flatMap((x) => [
    { opType: 'Cast', input: [`${x}.base`], output: [`${x}.b64`], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.DOUBLE }] },
    { opType: 'Cast', input: [`${x}.dir`], output: [`${x}.d64`], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.DOUBLE }] },
    { opType: 'Mul', input: [`${x}.d64`, 'eps.64'], output: [`${x}.step`] },
    { opType: 'Add', input: [`${x}.b64`, `${x}.step`], output: [x] },
  ]);
  const nodes = g.node.flatMap((n) => {
    const attribute = (n.attribute ?? []).map((a) => (n.opType === 'Cast' && a.name === 'to' && a.i === DataType.FLOAT ? { ...a, i: DataType.DOUBLE } : a));
    if (n.opType === 'ConstantOfShape' && !attribute.some((a) => a.name === 'value')) {
      attribute.push({ name: 'value', type: AttributeType.TENSOR, t: { dims: [1], dataType: DataType.DOUBLE, rawData: new Uint8Array(new Float64Array(1).buffer) } });
    }
    // ORT's NonZero has no double kernel; 0/1 values survive the cast.
    if (n.opType === 'NonZero') return [{ opType: 'Cast', input: [n.input[0]!], output: [`${n.output[0]}.f`], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] }, { ...n, input: [`${n.output[0]}.f`], attribute }];
    // x · sigmoid(x) would be fused into QuickGelu, which has no double kernel: spell sigmoid out.
    if (n.opType === 'Sigmoid') {
      const [x, y] = [n.input[0]!, n.output[0]!];
      return [
        { opType: 'Neg', input: [x], output: [`${y}.neg`] },
        { opType: 'Exp', input: [`${y}.neg`], output: [`${y}.exp`] },
        { opType: 'Add', input: [`${y}.exp`, 'one.64'], output: [`${y}.den`] },
        { opType: 'Reciprocal', input: [`${y}.den`], output: [y] },
      ];
    }
    return [{ ...n, attribute }];
  });
  const one: TensorProto = { name: 'one.64', dims: [], dataType: DataType.DOUBLE, rawData: new Uint8Array(Float64Array.of(1).buffer) };
  const hi = { opType: 'Cast', input: [loss], output: ['loss.hi'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] };
  const back = { opType: 'Cast', input: ['loss.hi'], output: ['loss.hi64'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.DOUBLE }] };
  const lo = { opType: 'Cast', input: ['loss.rest'], output: ['loss.lo'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] };
  const rest = { opType: 'Sub', input: [loss, 'loss.hi64'], output: ['loss.rest'] };
  const eps = { opType: 'Cast', input: ['eps'], output: ['eps.64'], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.DOUBLE }] };
  const scalarOut = (name: string) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [] } } } });
  const inputs = g.input.flatMap((i) =>
    floats.includes(i.name) ? [{ ...i, name: `${i.name}.base` }, { ...i, name: `${i.name}.dir` }] : [i],
  );
  inputs.push(scalarOut('eps'));
  return { ...m, graph: { ...g, node: [eps, ...pre, ...nodes, hi, back, rest, lo], initializer: [...g.initializer.map(toDouble), one], input: inputs, output: [scalarOut('loss.hi'), scalarOut('loss.lo')] } };
}

async function checkCase(label: string, c: Case, seed = 1): Promise<void> {
  const floats = Object.keys(c.dims);
  const rnd = normalStream(seed);
  const values = Object.fromEntries(floats.map((x) => [x, Float32Array.from({ length: c.dims[x]!.reduce((a, b) => a * b, 1) }, () => rnd())]));
  const intFeeds: Record<string, FeedTensor> = Object.fromEntries(Object.entries(c.ints ?? {}).map(([k, v]) => [k, { type: 'int64', data: BigInt64Array.from(v.data, BigInt), dims: v.dims }]));

  // float32 forward + backward.
  const g = new GraphBuilder();
  const loss = c.build(g);
  const grads = differentiate(g, loss, floats);
  for (const x of floats) g.output(grads.get(x) ?? g.op('ConstantOfShape', [g.op('Shape', [x])]), `grad.${x}`, DataType.FLOAT, c.dims[x]!);
  const s32 = await OrtSession.create(encodeModel(g.build()), { threads: 1 });
  const feeds32: Record<string, FeedTensor> = { ...intFeeds };
  for (const x of floats) feeds32[x] = { type: 'float32', data: values[x]!, dims: c.dims[x]! };
  const out32 = await s32.run(feeds32);
  await s32.release();

  // float64 forward of a fresh copy of the same graph.
  const f = new GraphBuilder();
  const fl = c.build(f);
  f.output(fl, 'loss', DataType.FLOAT, []);
  const s64 = await OrtSession.create(encodeModel(promote(f.build(), fl, floats)), { threads: 1 });
  for (let k = 0; k < 3; k++) {
    const dirs = Object.fromEntries(floats.map((x) => [x, Float32Array.from(values[x]!, () => rnd())]));
    const at = async (eps: number): Promise<number> => {
      const feeds: Record<string, FeedTensor> = { ...intFeeds, eps: { type: 'float32', data: Float32Array.of(eps), dims: [] } };
      for (const x of floats) {
        feeds[`${x}.base`] = { type: 'float32', data: values[x]!, dims: c.dims[x]! };
        feeds[`${x}.dir`] = { type: 'float32', data: dirs[x]!, dims: c.dims[x]! };
      }
      const o = await s64.run(feeds);
      return (o['loss.hi']!.data as Float32Array)[0]! + (o['loss.lo']!.data as Float32Array)[0]!;
    };
    const fd = ((await at(EPS)) - (await at(-EPS))) / (2 * EPS);
    let an = 0;
    for (const x of floats) {
      const gx = out32[`grad.${x}`]!.data as Float32Array;
      dirs[x]!.forEach((v, i) => (an += v * gx[i]!));
    }
    assert.ok(Math.abs(an - fd) <= 1e-4 * Math.abs(fd) + 1e-6, `${label}, direction ${k}: backward ${an}, float64 difference ${fd}`);
  }
  await s64.release();
}

/** Σ loss weights ⊙ y: a scalar that depends on every entry of y differently. */
function weighted(g: GraphBuilder, y: string, dims: readonly Dim[], seed: number): string {
  const n = dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((a, b) => a * b, 1) : 0;
  if (n === 0) {
    // Symbolic dims: weight by sin of the flat position instead of a constant.
    const flat = g.op('Reshape', [y, g.i64([-1])]);
    const idx = g.op('Cast', [g.op('Range', [g.constant([0], DataType.INT64, []), g.op('Squeeze', [g.op('Shape', [flat]), g.i64([0])]), g.constant([1], DataType.INT64, [])])], { to: int(DataType.FLOAT) });
    return g.op('ReduceSum', [g.op('Mul', [flat, g.op('Sin', [g.op('Mul', [idx, g.scalar(0.7 + seed)])])]), g.i64([0])], { keepdims: int(0) });
  }
  const rnd = normalStream(seed + 50);
  const w = g.constant(Array.from({ length: n }, () => rnd()), DataType.FLOAT, dims as number[]);
  return g.op('ReduceSum', [g.op('Mul', [y, w]), g.i64(dims.map((_, i) => i))], { keepdims: int(0) });
}

describe('autodiff rules vs float64 differences', () => {
  it('elementwise: Add/Sub/Mul/Div with broadcasting, Neg, Sqrt, Exp, Sigmoid, Sin, Cos, Clip, Where, Identity', async () => {
    await checkCase('elementwise', {
      dims: { a: [3, 4], b: [4], c: [3, 1] },
      build(g) {
        const a = g.input('a', DataType.FLOAT, [3, 4]);
        const b = g.input('b', DataType.FLOAT, [4]);
        const c = g.input('c', DataType.FLOAT, [3, 1]);
        const den = g.op('Add', [g.op('Sqrt', [g.op('Add', [g.op('Mul', [b, b]), g.scalar(1)])]), c]); // [3,4]
        const q = g.op('Div', [g.op('Sigmoid', [a]), g.op('Add', [den, g.scalar(3)])]);
        const s = g.op('Sub', [g.op('Mul', [g.op('Exp', [g.op('Neg', [a])]), g.op('Sin', [b])]), g.op('Mul', [g.op('Cos', [c]), a])]);
        const clipped = g.op('Clip', [g.op('Identity', [a]), g.scalar(-0.5), g.scalar(0.5)]);
        const mask = g.op('Greater', [g.constant([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1], DataType.FLOAT, [3, 4]), g.scalar(0.5)]);
        const w = g.op('Where', [mask, g.op('Mul', [a, c]), b]);
        const y = g.op('Add', [g.op('Add', [q, s]), g.op('Add', [clipped, w])]);
        return weighted(g, y, [3, 4], 1);
      },
    });
  });

  it('linear algebra: Gemm (transB, bias; plain), batched MatMul with a broadcast batch axis, Softmax, LogSoftmax, ReduceSum, ReduceMean', async () => {
    await checkCase('linalg', {
      dims: { x: [5, 4], w: [6, 4], bias: [6], v: [6, 3], p: [2, 3, 5, 3], q: [2, 1, 3, 4] },
      build(g) {
        const x = g.input('x', DataType.FLOAT, [5, 4]);
        const w = g.weight('w', [6, 4]);
        const h = g.op('Gemm', [x, w, g.weight('bias', [6])], { transB: int(1) }); // [5,6]
        const z = g.op('Gemm', [h, g.weight('v', [6, 3])]); // [5,3]
        const sm = g.op('Softmax', [z], { axis: int(-1) });
        const ls = g.op('LogSoftmax', [z], { axis: int(0) });
        const mm = g.op('MatMul', [g.input('p', DataType.FLOAT, [2, 3, 5, 3]), g.input('q', DataType.FLOAT, [2, 1, 3, 4])]); // [2,3,5,4]
        const r1 = g.op('ReduceSum', [mm, g.i64([1])], { keepdims: int(0) }); // [2,5,4]
        const r2 = g.op('ReduceMean', [r1], { axes: ints([-1]), keepdims: int(1) }); // [2,5,1]
        return g.op('Add', [g.op('Add', [weighted(g, sm, [5, 3], 2), weighted(g, ls, [5, 3], 3)]), weighted(g, g.op('Mul', [r2, x]), [2, 5, 4], 4)]);
      },
    });
  });

  it('shape ops on a symbolic length T: Reshape (0, -1), Transpose, Concat, Split (equal and sized), Slice (to -1, from 1, static axis), Squeeze, Unsqueeze', async () => {
    await checkCase('shapes', {
      dims: { x: [5, 6], y: [5, 2] },
      build(g) {
        const x = g.input('x', DataType.FLOAT, ['T', 6]);
        const y = g.input('y', DataType.FLOAT, ['T', 2]);
        const r = g.op('Reshape', [x, g.i64([0, 3, -1])]); // [T,3,2]
        const t = g.op('Transpose', [r], { perm: ints([2, 0, 1]) }); // [2,T,3]
        const [t1, t2] = g.node('Split', [t], { axis: int(0) }, { outputs: 2 }) as [string, string];
        const cat = g.op('Concat', [g.op('Squeeze', [t2, g.i64([0])]), y, g.op('Squeeze', [t1, g.i64([0])])], { axis: int(1) }); // [T, 8]
        const catT = g.op('Concat', [cat, g.op('Mul', [cat, cat])], { axis: int(0) }); // [2T, 8]: Concat along the symbolic axis
        const [s1, s2] = g.node('Split', [catT, g.i64([3, 5])], { axis: int(1) }, { outputs: 2 }) as [string, string];
        const head = g.op('Slice', [s2, g.i64([0]), g.i64([-1]), g.i64([0])]); // [2T-1, 5]
        const tail = g.op('Slice', [s1, g.i64([1, 1]), g.i64([Number.MAX_SAFE_INTEGER, 3]), g.i64([0, 1])]); // [2T-1, 2]
        const u = g.op('Unsqueeze', [g.op('Concat', [head, tail], { axis: int(-1) }), g.i64([0])]); // [1, 2T-1, 7]
        return weighted(g, g.op('Sin', [u]), [1, '2T-1', 7], 5);
      },
    });
  });

  it('gather/scatter: Gather with repeated indices, GatherElements, ScatterND add, TopK, NonZero-selected rows', async () => {
    await checkCase('index', {
      dims: { table: [6, 3], x: [4, 5] },
      ints: { ids: { data: [2, 0, 2, 5, 1, 2], dims: [6] } },
      build(g) {
        const table = g.weight('table', [6, 3]);
        const ids = g.input('ids', DataType.INT64, ['T']);
        const emb = g.op('Gather', [table, ids], { axis: int(0) }); // [T,3]
        const x = g.input('x', DataType.FLOAT, [4, 5]);
        const [vals, idx] = g.node('TopK', [x, g.i64([2])], { axis: int(-1), largest: int(1), sorted: int(1) }, { outputs: 2 }) as [string, string];
        const ge = g.op('GatherElements', [x, g.constant([0, 4, 1, 1, 3, 2, 2, 0], DataType.INT64, [4, 2])], { axis: int(1) }); // [4,2]
        // Rows 0, 2 and 3 (found by NonZero, so their count is symbolic), gathered and scatter-added back.
        const picked = g.constant([1, 0, 1, 1], DataType.FLOAT, [4]);
        const rows = g.op('Squeeze', [g.op('NonZero', [picked]), g.i64([0])]);
        const sel = g.op('Gather', [x, rows], { axis: int(0) });
        const sc = g.op('ScatterND', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Unsqueeze', [rows, g.i64([1])]), g.op('Exp', [sel])], { reduction: str('add') });
        const parts = [weighted(g, g.op('Mul', [emb, emb]), ['T', 3], 6), weighted(g, g.op('Mul', [vals, ge]), [4, 2], 7), weighted(g, sc, [4, 5], 8), weighted(g, g.op('Mul', [vals, g.op('Cast', [idx], { to: int(DataType.FLOAT) })]), [4, 2], 9)];
        return parts.reduce((acc, p) => g.op('Add', [acc, p]));
      },
    });
  });

  it('routing block (trainableMoeBlock): softmax → top-k → renormalise, experts on NonZero-selected rows, ScatterND add, shared expert with sigmoid gate', async () => {
    const H = 8;
    const E = 4;
    const I = 3;
    const S = 5;
    const spec = { kind: 'moe', intermediateSize: I, routing: { numExperts: E, topK: 2, renormalize: true }, shared: { intermediateSize: S, sigmoidGate: true } } as const;
    const c = { modelType: 'qwen2_moe', hiddenSize: H, layers: [spec] } as unknown as ModelConfig;
    const dims: Record<string, number[]> = { x: [6, H], 'model.layers.0.mlp.gate.weight': [E, H], 'model.layers.0.mlp.shared_expert.gate_proj.weight': [S, H], 'model.layers.0.mlp.shared_expert.up_proj.weight': [S, H], 'model.layers.0.mlp.shared_expert.down_proj.weight': [H, S], 'model.layers.0.mlp.shared_expert_gate.weight': [1, H] };
    for (let e = 0; e < E; e++) {
      dims[expertFc1SliceName(0, e)] = [2 * I, H];
      dims[expertFc2SliceName(0, e)] = [H, I];
    }
    await checkCase('moe block', {
      dims,
      build(g) {
        const x = g.input('x', DataType.FLOAT, ['T', H]);
        const block = trainableMoeBlock(g, c, 0, spec, x);
        return g.op('Add', [weighted(g, block.out, ['T', H], 10), weighted(g, g.op('Softmax', [block.routerLogits], { axis: int(-1) }), ['T', E], 11)]);
      },
    }, 3);
  });
});
