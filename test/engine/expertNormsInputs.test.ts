// The expert-norms (profiling) graph takes each routed expert's weights as inputs of their own, fed as views
// of the store's fc1/fc2 buffers: no Gather copies an expert out of the whole fc1/fc2 (which cost about two
// float32 copies of a layer's experts per run). The fast graph keeps the MoE operator over the whole tensors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDecoderGraph } from '../../src/engine/graph/decoderGraph';
import { expertFc1SliceName, expertFc2SliceName } from '../../src/engine/graph/trainableMoeBlock';
import { buildLayerGraph } from '../../src/engine/layerwise/layerGraphs';
import { expertFc1Name, expertFc2Name } from '../../src/engine/model/engineTensorNames';
import { weightOrExpertSlice } from '../../src/engine/model/expertSliceView';
import { MoeEngine } from '../../src/engine/moeEngine';
import { encodeModel } from '../../src/engine/onnx/onnxProto';
import { OrtSession } from '../../src/engine/runtime/ortSession';
import { fixture } from '../support/paths';

describe('expert-norms graph inputs', () => {
  for (const name of ['olmoe', 'qwen2_moe'] as const) {
    it(`${name}: per-expert inputs, fed as views of fc1/fc2 (no copy); the fast graph takes fc1/fc2 whole`, async () => {
      const engine = await MoeEngine.load(fixture(name), { weightMode: 'resident' });
      try {
        const c = engine.config;
        const moe = c.layers.map((l, L) => (l.kind === 'moe' ? L : -1)).filter((L) => L >= 0);
        assert.ok(moe.length > 0);
        const norms = buildDecoderGraph(c, { routing: true, hidden: false, logits: false, expertNorms: true }).build();
        const fast = buildDecoderGraph(c, { routing: true, hidden: false, logits: false }).build();
        const session = await OrtSession.create(encodeModel(norms), { threads: 1 });
        const inputs = new Set(session.inputNames);
        await session.release();
        const fastInputs = new Set(fast.graph.input.map((i) => i.name));
        for (const L of moe) {
          const spec = c.layers[L]!;
          assert.ok(spec.kind === 'moe');
          const E = spec.routing.numExperts;
          assert.ok(!inputs.has(expertFc1Name(L)) && !inputs.has(expertFc2Name(L)), `layer ${L}: whole fc1/fc2 is no input of the expert-norms graph`);
          assert.ok(fastInputs.has(expertFc1Name(L)) && fastInputs.has(expertFc2Name(L)), `layer ${L}: the fast graph takes fc1/fc2 whole`);
          const fc1 = engine.weights.get(expertFc1Name(L));
          const fc2 = engine.weights.get(expertFc2Name(L));
          for (let e = 0; e < E; e++) {
            for (const [slice, all] of [[expertFc1SliceName(L, e), fc1], [expertFc2SliceName(L, e), fc2]] as const) {
              assert.ok(inputs.has(slice), `input ${slice}`);
              const v = weightOrExpertSlice((n) => engine.weights.get(n), slice);
              const n = all.dims[1]! * all.dims[2]!;
              assert.deepEqual(v.dims, all.dims.slice(1));
              // A view of the store's buffer at expert e's rows: the same bytes, not a copy.
              assert.equal(v.data.buffer, all.data.buffer, `${slice} shares the store's buffer`);
              assert.equal(v.data.byteOffset, all.data.byteOffset + 4 * e * n);
              assert.equal(v.data.length, n);
            }
          }
        }
        // Nothing gathers from a weight input: the only Gathers index activations.
        const weightInputs = new Set(norms.graph.input.map((i) => i.name).filter((n) => n.startsWith('model.')));
        const gathers = norms.graph.node.filter((nd) => nd.opType === 'Gather' && weightInputs.has(nd.input[0]!) && nd.input[0] !== 'model.embed_tokens.weight');
        assert.deepEqual(gathers.map((g) => g.input[0]), []);
        // The layer-wise graph of a MoE layer takes the same per-expert inputs (renamed per layer when fed).
        const L = moe[0]!;
        const layer = buildLayerGraph(c, L, { routing: true, hidden: false, logits: false, expertNorms: true }).build();
        const layerInputs = new Set(layer.graph.input.map((i) => i.name));
        assert.ok(layerInputs.has(expertFc1SliceName(L, 0)) && !layerInputs.has(expertFc1Name(L)));
      } finally {
        await engine.dispose();
      }
    });
  }
});
