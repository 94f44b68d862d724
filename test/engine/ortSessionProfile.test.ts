// OrtSession's profiling option (used by scripts/bench/profileOps.ts): a session created with a file prefix
// writes ONNX Runtime's trace when profiling ends, with one kernel event per node run, named by op type.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GraphBuilder } from '../../src/engine/onnx/graphBuilder';
import { DataType, encodeModel } from '../../src/engine/onnx/onnxProto';
import { OrtSession } from '../../src/engine/runtime/ortSession';

function matmulModel(): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input('a', DataType.FLOAT, [2, 3]);
  const b = g.input('b', DataType.FLOAT, [3, 4]);
  g.output(g.op('Relu', [g.op('MatMul', [a, b])]), 'y', DataType.FLOAT, [2, 4]);
  return encodeModel(g.build());
}

const feeds = { a: { type: 'float32' as const, data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3] }, b: { type: 'float32' as const, data: new Float32Array(12).fill(-1), dims: [3, 4] } };

describe('OrtSession profiling', () => {
  it('writes a trace with the kernel time of every node of every run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-ort-profile-'));
    try {
      const s = await OrtSession.create(matmulModel(), { threads: 1, profileFilePrefix: path.join(dir, 'trace') });
      const out = await s.run(feeds);
      assert.deepEqual(Array.from(out['y']!.data as Float32Array), new Array(8).fill(0)); // relu(negative) = 0
      await s.run(feeds);
      s.endProfiling();
      await s.release();
      const files = fs.readdirSync(dir).filter((f) => f.startsWith('trace') && f.endsWith('.json'));
      assert.equal(files.length, 1, `trace files: ${files.join(', ')}`);
      const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]!), 'utf8')) as { cat: string; name: string; args?: { op_name?: string } }[];
      const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
      assert.equal(events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length, 2);
      assert.equal(kernels.filter((e) => e.args?.op_name === 'MatMul').length, 2);
      assert.equal(kernels.filter((e) => e.args?.op_name === 'Relu').length, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing without the option', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-ort-noprofile-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir); // ORT would write a default-named trace into the working directory
      const s = await OrtSession.create(matmulModel(), { threads: 1 });
      await s.run(feeds);
      await s.release();
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
