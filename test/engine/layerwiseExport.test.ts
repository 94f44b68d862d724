// The standalone export and engine.weights.get (gradients read weights through it) work whatever the
// weight mode: a cached or streaming engine converts each weight when asked, and the exported files are
// byte for byte those of a resident engine.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { exportOnnx } from '../../src/engine/exportOnnx';
import { MoeEngine, type EngineOptions } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';

const made: string[] = [];
async function exported(name: string, opts: EngineOptions): Promise<Buffer[]> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `moe-lw-export-${name}-`));
  made.push(out);
  const engine = await MoeEngine.load(fixture(name), opts);
  try {
    const { files } = await exportOnnx(engine, out);
    return files.map((f) => fs.readFileSync(f));
  } finally {
    await engine.dispose();
  }
}

describe('export and weights.get in every weight mode', () => {
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  for (const name of ['qwen2_moe', 'granitemoe']) {
    it(`${name}: cached and streaming engines export the resident engine's bytes`, async () => {
      const want = await exported(name, {});
      for (const opts of [{ weightMode: 'cached' as const, f32Layers: new Set([0]) }, { weightMode: 'streaming' as const, f32Layers: new Set<number>() }]) {
        const got = await exported(name, opts);
        assert.equal(got.length, want.length);
        got.forEach((b, i) => assert.ok(b.equals(want[i]!), `${opts.weightMode}: file ${i} differs`));
      }
    });
  }

  it('weights.get gives the same float32 tensor in every mode; set() replaces it in every mode', async () => {
    const engines = await Promise.all([{}, { weightMode: 'cached' as const, f32Layers: new Set<number>() }, { weightMode: 'streaming' as const, f32Layers: new Set<number>() }].map((o) => MoeEngine.load(fixture('olmoe'), o)));
    try {
      const names = ['model.layers.1.experts.fc1', 'model.layers.0.self_attn.q_proj.weight', 'lm_head.weight', 'model.embed_tokens.weight'];
      for (const n of names) {
        const want = engines[0]!.weights.get(n);
        for (const e of engines.slice(1)) {
          const got = e.weights.get(n);
          assert.deepEqual(got.dims, want.dims, n);
          assert.ok(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength)), `${n}: same values`);
        }
      }
      // A changed weight is what every mode then runs with.
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      const q = 'model.layers.1.self_attn.q_proj.weight';
      const changed = engines[0]!.weights.get(q).data.map((v) => v * 0.5);
      const outs = [];
      for (const e of engines) {
        const before = await e.forward(ids, { routing: false, hidden: false, logits: false });
        e.weights.set(q, { dims: e.weights.get(q).dims, data: Float32Array.from(changed) });
        const afterSet = await e.forward(ids, { routing: false, hidden: false, logits: false });
        assert.notDeepEqual(Array.from(afterSet.logprobs), Array.from(before.logprobs), 'the change is run');
        outs.push(Array.from(afterSet.logprobs));
      }
      assert.deepEqual(outs[1], outs[0]);
      assert.deepEqual(outs[2], outs[0]);
    } finally {
      for (const e of engines) await e.dispose();
    }
  });
});
