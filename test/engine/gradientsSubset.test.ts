// Trainable subsets: only the tensors holding trainable parameters come back (Granite's fused expert tensors
// with zero rows for frozen experts), with the same values as when everything trains; frozen weights get
// no weight-gradient node and layers below the lowest trainable one no backward node at all; sets that do
// not fit the model are refused naming the layer, expert or tensor.
import * as assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { differentiate } from '../../src/engine/autodiff/differentiate';
import { viewNode } from '../../src/engine/autodiff/nodeView';
import { buildTrainingGraph } from '../../src/engine/graph/trainingGraph';
import { expertFc1SliceName, expertFc2SliceName } from '../../src/engine/graph/trainableMoeBlock';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { decodeModel } from '../../src/engine/onnx/onnxProto';
import { layerSplitBytes, layerVjpBytes } from '../../src/engine/training/layerGradGraphs';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeError } from '../../src/protocol/moeError';
import { computeGradients, trainableGraphWeights } from '../../src/engine/training/computeGradients';
import type { TrainableSet } from '../../src/engine/training/trainableSet';
import { releaseTrainingSessions } from '../../src/engine/training/sessionCache';
import { fixture } from '../support/paths';
import { everyParameter } from '../support/referenceGradients';

const IDS = [3, 71, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110];
const engines: MoeEngine[] = [];
async function load(name: string): Promise<MoeEngine> {
  const e = await MoeEngine.load(fixture(name));
  engines.push(e);
  return e;
}
after(async () => {
  for (const e of engines) {
    await releaseTrainingSessions(e);
    await e.dispose();
  }
});

/** max |a − b| / max |b|. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d === 0 ? 0 : d / m; // an expert no token chose has an all-zero gradient either way
}

describe('gradients of trainable subsets', () => {
  for (const name of ['mixtral', 'qwen2_moe', 'granitemoe']) {
    it(`${name}: experts 1:0 and 1:3 + layer 1's router${name === 'qwen2_moe' ? ' + shared expert' : ''}`, async () => {
      const engine = await load(name);
      const c = engine.config;
      const lay = expertLayout(c, 1);
      const tensors = new Set([lay.router]);
      if (name === 'qwen2_moe') for (const p of ['gate_proj', 'up_proj', 'down_proj']) tensors.add(`model.layers.1.mlp.shared_expert.${p}.weight`);
      const subset: TrainableSet = { tensors, experts: new Map([[1, new Set([0, 3])]]) };
      const part = await computeGradients(engine, IDS, { trainable: subset, auxLossCoef: 0.1 });
      const all = await computeGradients(engine, IDS, { trainable: everyParameter(c), auxLossCoef: 0.1 });
      const expected = lay.kind === 'fused' ? [lay.gateUp, lay.down] : [0, 3].flatMap((e) => [lay.gate(e), lay.up(e), lay.down(e)]);
      assert.deepEqual([...part.grads.keys()].sort(), [...tensors, ...expected].sort());
      assert.equal(part.loss, all.loss);
      for (const [n, g] of part.grads) {
        const full = all.grads.get(n)!;
        assert.deepEqual(g.dims, full.dims, n);
        if (lay.kind === 'fused' && (n === lay.gateUp || n === lay.down)) {
          // Rows of expert e: [e·rows, (e+1)·rows) of the flattened [E, rows, cols].
          const per = g.data.length / (c.layers[1] as { routing: { numExperts: number } }).routing.numExperts;
          for (let e = 0; e < full.dims[0]!; e++) {
            const rows = g.data.subarray(e * per, (e + 1) * per);
            if (e === 0 || e === 3) assert.ok(relDiff(rows, full.data.subarray(e * per, (e + 1) * per)) < 1e-5, `${n} expert ${e} as when all train`);
            else assert.ok(rows.every((v) => v === 0), `${n} expert ${e} (frozen) is all zeros`);
          }
          assert.ok(full.data.subarray(per, 2 * per).some((v) => v !== 0), 'a frozen expert has a nonzero gradient when it trains');
        } else {
          assert.ok(relDiff(g.data, full.data) < 1e-5, `${n} as when everything trains`);
        }
      }
    });
  }

  it('no weight gradient for frozen weights, no backward node below the lowest trainable layer', () => {
    const c = engines[0]!.config; // mixtral: layers 0 and 1 MoE, untied head
    const t = buildTrainingGraph(c);
    const before = t.g.nodeList.length;
    const wrt = trainableGraphWeights({ tensors: new Set(['model.layers.1.self_attn.q_proj.weight']), experts: new Map([[1, new Set([2])]]) });
    differentiate(t.g, t.loss, wrt);
    const backward = t.g.nodeList.slice(before).map(viewNode);
    assert.ok(backward.length > 0);
    const layer0 = backward.filter((n) => n.inputs.some((x) => x.startsWith('model.layers.0.') || x === 'model.embed_tokens.weight'));
    assert.deepEqual(layer0.map((n) => `${n.opType}(${n.inputs.join(', ')})`), [], 'backward nodes reading layer 0 or the embedding');
    // A Linear weight's gradient is the one Gemm with transA = 1 (dy^T x): one per trainable Linear weight.
    const weightGrads = backward.filter((n) => n.opType === 'Gemm' && n.attrs.get('transA') === 1);
    assert.equal(weightGrads.length, 3, 'q_proj, expert 2 fc1, expert 2 fc2');
  });

  it('layer graphs: the VJP of a layer differentiates only its trainable weights, and its input only when asked', () => {
    const c = engines[0]!.config; // mixtral
    const spec = c.layers[1]!;
    const weights = [expertFc1SliceName(1, 2), expertFc2SliceName(1, 2)];
    for (const inputGrad of [false, true]) {
      const split = layerSplitBytes(c, 1, spec, weights, inputGrad);
      for (const bytes of [layerVjpBytes(c, 1, spec, weights, inputGrad), split.backward]) {
        const m = decodeModel(bytes);
        const weightGrads = m.graph.node.filter((n) => n.opType === 'Gemm' && (n.attribute ?? []).some((a) => a.name === 'transA' && Number(a.i) === 1));
        assert.equal(weightGrads.length, 2, 'fc1 and fc2 of expert 2 only');
        assert.deepEqual(m.graph.output.map((o) => o.name).sort(), [...weights.map((w) => `grad.${w}`), ...(inputGrad ? ['grad.hidden'] : [])].sort());
      }
      assert.ok(split.saved.length > 0);
    }
  });

  it('refuses sets that do not fit the model', async () => {
    const mixtral = engines[0]!;
    const llama = await load('llama');
    const bad: [MoeEngine, TrainableSet, RegExp][] = [
      [llama, { tensors: new Set(), experts: new Map([[0, new Set([0])]]) }, /layer 0, a dense layer/],
      [mixtral, { tensors: new Set(), experts: new Map([[1, new Set([8])]]) }, /expert 1:8 does not exist \(layer 1 has experts 0\.\.7\)/],
      [mixtral, { tensors: new Set(), experts: new Map([[5, new Set([0])]]) }, /layer 5; the model has layers 0\.\.1/],
      [mixtral, { tensors: new Set(['model.layers.0.block_sparse_moe.experts.1.w1.weight']), experts: new Map() }, /routed expert's tensor/],
      [mixtral, { tensors: new Set(['model.layers.0.mlp.nope.weight']), experts: new Map() }, /"model\.layers\.0\.mlp\.nope\.weight" is not a tensor of this model/],
    ];
    for (const [engine, trainable, message] of bad) {
      await assert.rejects(computeGradients(engine, IDS, { trainable }), (e: unknown) => e instanceof MoeError && e.code === 'E_INPUT' && message.test(e.message));
    }
    const everything = everyParameter(mixtral.config);
    await assert.rejects(computeGradients(mixtral, [1], { trainable: everything }), /at least 2 tokens/);
    await assert.rejects(computeGradients(mixtral, [1, 999], { trainable: everything }), /token id 999 at position 1 is outside the vocabulary/);
    await assert.rejects(computeGradients(mixtral, [1, 2, 3], { trainable: everything, lossMask: new Float32Array(3) }), /loss mask has 3 values; it needs one per predicted token \(2\)/);
    await assert.rejects(computeGradients(mixtral, [1, 2, 3], { trainable: everything, lossMask: new Float32Array(2) }), /keeps no token/);
  });

  it('cancels: before it starts, and between layers', async () => {
    const mixtral = engines[0]!;
    const trainable = everyParameter(mixtral.config);
    const cancelled = (e: unknown): boolean => e instanceof MoeError && e.code === 'E_CANCELLED';
    const early = new AbortController();
    early.abort();
    await assert.rejects(computeGradients(mixtral, IDS, { trainable, signal: early.signal }), cancelled);
    const late = new AbortController();
    let after = 0;
    await assert.rejects(
      computeGradients(mixtral, IDS, { trainable, signal: late.signal, onProgress: (p) => (p.message?.startsWith('layer 0 forward') ? late.abort() : p.message?.includes('backward') && after++) }),
      cancelled,
    );
    assert.equal(after, 0, 'no backward ran after the cancel');
  });
});
