// The exported model runs in plain onnxruntime (from its file, external data beside it) and gives the
// reference outputs, router outputs included.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { exportOnnx } from '../../src/engine/exportOnnx';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { MoeEngine } from '../../src/engine/moeEngine';
import { decodeModel } from '../../src/engine/onnx/onnxProto';
import { OrtSession } from '../../src/engine/runtime/ortSession';
import { assertClose } from '../support/compare';
import { fixture } from '../support/paths';

describe('ONNX export', () => {
  for (const name of ['qwen2_moe', 'olmoe']) {
    it(`${name}: model.onnx + model.onnx.data run standalone and match the reference`, async () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), `moe-export-${name}-`));
      const engine = await MoeEngine.load(fixture(name));
      const { files } = await exportOnnx(engine, out);
      await engine.dispose();
      assert.deepEqual(files.map((f) => path.basename(f)), ['model.onnx', 'model.onnx.data']);
      const proto = decodeModel(fs.readFileSync(files[0]!));
      assert.deepEqual(proto.graph.input.map((i) => i.name), ['input_ids'], 'weights are initializers, not inputs');
      assert.ok(proto.graph.output.some((o) => o.name === 'topk_experts.0'));
      assert.equal(fs.readdirSync(out).filter((f) => f.includes('.tmp-')).length, 0);

      const expected = JSON.parse(fs.readFileSync(path.join(fixture(name), 'expected.json'), 'utf8')) as { prompts: { input_ids: number[] }[]; tolerance: { atol: number } };
      const ref = openSafetensors(path.join(fixture(name), 'expected.safetensors'));
      const session = await OrtSession.create(files[0]!);
      const ids = expected.prompts[0]!.input_ids;
      const r = await session.run({ input_ids: { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [ids.length] } });
      assertClose(r['logits']!.data as Float32Array, ref.readF32('p0.logits'), expected.tolerance.atol, 'logits');
      assertClose(r['router_logits.1']!.data as Float32Array, ref.readF32('p0.router_logits.1'), expected.tolerance.atol, 'router_logits.1');
      const idx = new Int32Array(ref.readRaw('p0.topk_idx.0').slice().buffer);
      assert.deepEqual(Array.from(r['topk_experts.0']!.data as BigInt64Array, Number), Array.from(idx));
      await session.release();
      ref.close();
      fs.rmSync(out, { recursive: true });
    });
  }
});
