// Profiling (issue #4): every statistic of a profile equals a direct computation — frequency, gate sums
// and softmax importance from the engine's own routing outputs, expert output norms (REAP, EAN) from the
// independent float64 reference forward — on every MoE fixture architecture. Also the explicit-experts
// graph gives the same model outputs as the MoE operator, and router masking removes experts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { expertStatistic } from '../../src/engine/experts/expertStatistics';
import { modelIdentity } from '../../src/engine/experts/modelIdentity';
import { checkProfileModel, readProfile, writeProfile } from '../../src/engine/experts/profileFile';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { decodeSampleLayer } from '../../src/engine/experts/profileSample';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeEngine } from '../../src/engine/moeEngine';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';
import { referenceForward } from '../support/referenceForward';

const MOE = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'] as const;
const TEXT = 'Experts route tokens. def f(x):\n    return x * 2  # code\nLes experts aiment le café. 12345 + 678 = 13023.\n';
const CHUNK = 24;

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-profile-'));
  fs.writeFileSync(path.join(dir, 'a.txt'), TEXT);
  fs.writeFileSync(path.join(dir, 'b.jsonl'), JSON.stringify({ messages: [{ role: 'user', content: 'Route me, please!' }, { role: 'assistant', content: 'Done: 42.' }] }) + '\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function close(a: number, b: number, rel: number, what: string): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

describe('expert profile', () => {
  for (const name of MOE) {
    it(`${name}: statistics equal a direct computation`, async () => {
      const engine = await MoeEngine.load(fixture(name));
      try {
        const data = readCalibrationSet([dir]);
        const progress: number[] = [];
        const profile = await profileExperts(engine, data, { chunkTokens: CHUNK, onProgress: (p) => progress.push(p.done) });
        assert.equal(profile.model.sha256, modelIdentity(fixture(name)).sha256);
        assert.equal(profile.data.sha256, data.sha256);
        assert.ok(progress.length === profile.data.chunks && progress.at(-1) === profile.data.tokens);

        // Independent sums: the engine's routing outputs (no norms) and the float64 reference's norms.
        const ckpt = openCheckpoint(fixture(name));
        const E = profile.layers[0]!.numExperts;
        const sums = profile.layers.map(() => ({ count: new Float64Array(E), gate: new Float64Array(E), prob: new Float64Array(E), ean: new Float64Array(E), reap: new Float64Array(E), tokens: 0 }));
        try {
          let tokens = 0;
          for (const doc of data.documents) {
            const ids = engine.tokenizer.encode(doc.text).map((t) => t.id);
            for (let s = 0; s < ids.length; s += CHUNK) {
              const chunk = ids.slice(s, s + CHUNK);
              if (chunk.length < 2) continue;
              tokens += chunk.length;
              const res = await engine.forward(chunk, { routing: true, hidden: false, logits: false });
              const ref = referenceForward(ckpt.config, (n) => ckpt.readF32(n), chunk);
              res.routing.forEach((r, i) => {
                const acc = sums[i]!;
                const K = r.experts.cols;
                acc.tokens += chunk.length;
                for (let t = 0; t < chunk.length; t++) {
                  const z = Array.from(r.routerLogits.data.subarray(t * E, (t + 1) * E));
                  const m = Math.max(...z);
                  const ex = z.map((v) => Math.exp(v - m));
                  const sum = ex.reduce((a, b) => a + b, 0);
                  ex.forEach((v, e) => (acc.prob[e]! += v / sum));
                  for (let k = 0; k < K; k++) {
                    const e = r.experts.data[t * K + k]!;
                    const g = r.weights.data[t * K + k]!;
                    assert.equal(ref.routing[i]!.topkIdx.data[t * K + k], e, `${name} layer ${r.layer} token ${t}: reference routes differently`);
                    const n = ref.routing[i]!.expertNorms.data[t * K + k]!;
                    acc.count[e]! += 1;
                    acc.gate[e]! += g;
                    acc.ean[e]! += n;
                    acc.reap[e]! += g * n;
                  }
                }
              });
            }
          }
          assert.equal(profile.data.tokens, tokens);
        } finally {
          ckpt.close();
        }
        profile.layers.forEach((l, i) => {
          const acc = sums[i]!;
          assert.equal(l.tokens, acc.tokens);
          assert.deepEqual(l.count, Array.from(acc.count), `${name} layer ${l.layer} counts`);
          for (let e = 0; e < E; e++) {
            close(l.gateSum[e]!, acc.gate[e]!, 1e-5, `gate ${l.layer}:${e}`); // same float32 inputs, float64 sums
            close(l.probSum[e]!, acc.prob[e]!, 1e-5, `importance ${l.layer}:${e}`);
            close(l.eanSum[e]!, acc.ean[e]!, 1e-4, `EAN ${l.layer}:${e}`); // float32 engine vs float64 reference
            close(l.reapSum[e]!, acc.reap[e]!, 1e-4, `REAP sum ${l.layer}:${e}`);
          }
          const reap = expertStatistic(l, 'reap');
          reap.forEach((v, e) => close(v, acc.count[e]! > 0 ? acc.reap[e]! / acc.count[e]! : 0, 1e-4, `REAP ${l.layer}:${e}`));
          assert.deepEqual(expertStatistic(l, 'frequency'), Array.from(acc.count, (n) => n / acc.tokens));
          // The sample holds the first tokens' routing exactly.
          const s = decodeSampleLayer(profile.sample, i, l.topK);
          assert.equal(s.experts.length, profile.sample.tokens.length * l.topK);
        });
      } finally {
        await engine.dispose();
      }
    });
  }

  it('explicit experts give the operator outputs, masked experts are never chosen', async () => {
    for (const name of MOE) {
      const engine = await MoeEngine.load(fixture(name));
      try {
        for (const ids of [[5], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]]) {
          const a = await engine.forward(ids, { routing: true, hidden: false, logits: true });
          const b = await engine.forward(ids, { routing: true, hidden: false, logits: true, expertNorms: true });
          for (let i = 0; i < a.logits!.data.length; i++) assert.ok(Math.abs(a.logits!.data[i]! - b.logits!.data[i]!) < 1e-4, `${name}: logits differ at ${i}`);
          assert.deepEqual(b.routing.map((r) => Array.from(r.experts.data)), a.routing.map((r) => Array.from(r.experts.data)));
          // Norms are positive exactly where an expert was chosen.
          for (const r of b.routing) {
            const E = r.routerLogits.cols;
            for (let t = 0; t < ids.length; t++) {
              const chosen = new Set(Array.from(r.experts.data.subarray(t * r.experts.cols, (t + 1) * r.experts.cols)));
              for (let e = 0; e < E; e++) assert.equal(r.expertNorms!.data[t * E + e]! > 0, chosen.has(e), `${name} layer ${r.layer} token ${t} expert ${e}`);
            }
          }
        }
        const L0 = engine.config.layers.findIndex((l) => l.kind === 'moe');
        const masked = await engine.forward([1, 2, 3, 4, 5, 6, 7, 8], { routing: true, hidden: false, logits: false }, { maskedExperts: new Map([[L0, [0, 2]]]) });
        const used = new Set(masked.routing.find((r) => r.layer === L0)!.experts.data);
        assert.ok(!used.has(0) && !used.has(2), `${name}: masked experts chosen`);
        await assert.rejects(engine.forward([1, 2], { routing: true, hidden: false, logits: false }, { maskedExperts: new Map([[L0, Array.from({ length: (engine.config.layers[L0] as { routing: { numExperts: number } }).routing.numExperts - 1 }, (_, e) => e)]]) }), (e: MoeError) => e.code === 'E_INPUT' && /fewer than top-k/.test(e.message));
      } finally {
        await engine.dispose();
      }
    }
  });

  it('a profile round-trips through its file and is refused for another model', async () => {
    const engine = await MoeEngine.load(fixture('qwen3_moe'));
    try {
      const profile = await profileExperts(engine, readCalibrationSet([path.join(dir, 'a.txt')]), { chunkTokens: 16, maxTokens: 40 });
      assert.equal(profile.data.truncated, true);
      assert.equal(profile.data.tokens, 40);
      const file = path.join(dir, 'out', 'p.json');
      await writeProfile(file, profile);
      assert.deepEqual(readProfile(file), JSON.parse(JSON.stringify(profile)));
      assert.throws(
        () => checkProfileModel(readProfile(file), modelIdentity(fixture('olmoe')), file),
        (e: MoeError) => e.code === 'E_INPUT' && e.message.includes(file) && e.message.includes('qwen3_moe') && e.message.includes('olmoe'),
      );
      const broken = path.join(dir, 'broken.json');
      const v = JSON.parse(fs.readFileSync(file, 'utf8'));
      v.layers[0].count.pop();
      fs.writeFileSync(broken, JSON.stringify(v));
      assert.throws(() => readProfile(broken), (e: MoeError) => e.code === 'E_INPUT' && e.message.includes(broken) && /layers\[0\]\.count/.test(e.message));
      fs.writeFileSync(broken, '{"format":"something else"}');
      assert.throws(() => readProfile(broken), (e: MoeError) => e.code === 'E_INPUT' && /not a MoE Workbench profile/.test(e.message));
    } finally {
      await engine.dispose();
    }
  });

  it('refuses dense models, bad chunk lengths and a cancelled run', async () => {
    const dense = await MoeEngine.load(fixture('llama'));
    try {
      await assert.rejects(profileExperts(dense, readCalibrationSet([dir]), { chunkTokens: 16 }), (e: MoeError) => e.code === 'E_INPUT' && /dense model/.test(e.message));
    } finally {
      await dense.dispose();
    }
    const engine = await MoeEngine.load(fixture('mixtral'));
    try {
      await assert.rejects(profileExperts(engine, readCalibrationSet([dir]), { chunkTokens: 1 }), (e: MoeError) => e.code === 'E_INPUT');
      const ac = new AbortController();
      await assert.rejects(profileExperts(engine, readCalibrationSet([dir]), { chunkTokens: 8, signal: ac.signal, onProgress: () => ac.abort() }), (e: MoeError) => e.code === 'E_CANCELLED');
    } finally {
      await engine.dispose();
    }
  });
});
