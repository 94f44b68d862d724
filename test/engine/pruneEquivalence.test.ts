// Pruning then reloading equals masking (issue #4): on every MoE fixture architecture, the checkpoint a
// prune plan writes gives the same logits and (renumbered) routing as the original model with the removed
// experts masked out of its router. Merging two identical experts equals masking the absorbed one.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCalibrationSet } from '../../src/engine/calibration/calibrationSet';
import { modelIdentity } from '../../src/engine/experts/modelIdentity';
import { operationRecord } from '../../src/engine/experts/operationRecord';
import { planPrune } from '../../src/engine/experts/planPrune';
import { profileExperts } from '../../src/engine/experts/profileExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/model/safetensorsWriter';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import type { StorageDtype } from '../../src/engine/model/dtype';
import { MoeEngine } from '../../src/engine/moeEngine';
import { writeExpertPlan } from '../../src/engine/surgery/writeExpertPlan';
import type { ExpertPlan } from '../../src/protocol/expertOps';
import type { ForwardResult } from '../../src/protocol/engineProtocol';
import { fixture } from '../support/paths';

const MOE = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe'] as const;
const TEXT = 'The router sends each token to its experts; pruning removes some of them.\nfor i in range(10): print(i)\n';
const PROMPTS = [TEXT, 'Zx9!? ünïcödé → 🙂 end.'];

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-prune-eq-'));
  fs.writeFileSync(path.join(tmp, 'calib.txt'), TEXT.repeat(3));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function assertSameOutputs(a: ForwardResult, b: ForwardResult, keptByLayer: ReadonlyMap<number, readonly number[]>, what: string): void {
  const la = a.logits!.data;
  const lb = b.logits!.data;
  let max = 0;
  for (let i = 0; i < la.length; i++) max = Math.max(max, Math.abs(la[i]! - lb[i]!));
  assert.ok(max < 1e-4, `${what}: logits differ by ${max}`);
  b.routing.forEach((r, i) => {
    const kept = keptByLayer.get(r.layer)!;
    const mapped = Array.from(r.experts.data, (e) => kept[e]!);
    assert.deepEqual(mapped, Array.from(a.routing[i]!.experts.data), `${what}: layer ${r.layer} routing`);
    for (let j = 0; j < r.weights.data.length; j++) assert.ok(Math.abs(r.weights.data[j]! - a.routing[i]!.weights.data[j]!) < 1e-5, `${what}: layer ${r.layer} gate weight ${j}`);
  });
}

describe('pruned checkpoint equals the masked original', () => {
  for (const name of MOE) {
    it(name, async () => {
      const original = await MoeEngine.load(fixture(name));
      const out = path.join(tmp, `${name}-pruned`);
      let plan: ExpertPlan;
      try {
        const profile = await profileExperts(original, readCalibrationSet([path.join(tmp, 'calib.txt')]), { chunkTokens: 32 });
        const E = profile.layers[0]!.numExperts;
        plan = planPrune(profile, { method: 'reap', target: { kind: 'keep', keep: E - 2 }, protect: [] });
        await writeExpertPlan(fixture(name), plan, out, operationRecord(plan, modelIdentity(fixture(name))));
        const pruned = await MoeEngine.load(out);
        try {
          assert.equal(pruned.info.numExperts, E - 2);
          const masked = new Map(plan.layers.map((l) => [l.layer, l.removed]));
          const kept = new Map(plan.layers.map((l) => [l.layer, l.experts.map((x) => x.routerRow)]));
          for (const prompt of PROMPTS) {
            const ids = original.tokenizer.encode(prompt).map((t) => t.id);
            const capture = { routing: true, hidden: false, logits: true };
            const a = await original.forward(ids, capture, { maskedExperts: masked });
            const b = await pruned.forward(ids, capture);
            assertSameOutputs(a, b, kept, `${name} "${prompt.slice(0, 12)}"`);
            // …and masking matters: the unmasked original differs somewhere in routing.
            const c = await original.forward(ids, capture);
            assert.ok(c.routing.some((r, i) => r.experts.data.some((e, j) => e !== a.routing[i]!.experts.data[j])), `${name}: the removed experts were never chosen, the test proves nothing`);
          }
        } finally {
          await pruned.dispose();
        }
      } finally {
        await original.dispose();
      }
    });
  }
});

/** A copy of a fixture as one model.safetensors in which expert `b` of layer `L` is a copy of expert `a`. */
async function withDuplicateExpert(name: string, L: number, a: number, b: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-dup-`));
  const ckpt = openCheckpoint(fixture(name));
  try {
    const lay = expertLayout(ckpt.config, L);
    const raw = (n: string): Uint8Array => ckpt.tensors.get(n)!.file.readRaw(n);
    const replaced = new Map<string, Uint8Array>();
    if (lay.kind === 'separate') {
      for (const f of [lay.gate, lay.up, lay.down]) replaced.set(f(b), raw(f(a)));
    } else {
      for (const n of [lay.gateUp, lay.down]) {
        const bytes = raw(n).slice();
        const per = bytes.length / ckpt.tensors.get(n)!.entry.shape[0]!;
        bytes.copyWithin(b * per, a * per, (a + 1) * per);
        replaced.set(n, bytes);
      }
    }
    const tensors: TensorToWrite[] = [...ckpt.tensors.values()].map(({ entry }) => ({ name: entry.name, dtype: entry.dtype as StorageDtype, shape: entry.shape, data: replaced.get(entry.name) ?? raw(entry.name) }));
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  } finally {
    ckpt.close();
  }
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(fixture(name), f), path.join(dir, f));
  return dir;
}

describe('merging identical experts', () => {
  for (const name of MOE) {
    it(`${name}: the merged expert equals the masked original`, async () => {
      const src = await withDuplicateExpert(name, 0, 2, 5);
      const original = await MoeEngine.load(src);
      try {
        const moeLayers = original.config.layers.flatMap((l, L) => (l.kind === 'moe' ? [{ L, E: l.routing.numExperts, K: l.routing.topK }] : []));
        // Layer 0: experts 2 and 5 (identical) merged with usage weights 3:1, routed by 2's row, and expert 4
        // absorbed with zero weight (a member never used on the calibration data). Other layers: experts 4
        // and 5 pruned, so every layer keeps E-2 experts (one count per config).
        const plan: ExpertPlan = {
          operation: 'merge',
          description: 'test merge',
          parameters: { keep: moeLayers[0]!.E - 2 },
          layers: moeLayers.map(({ L, E, K }) => {
            const olds = Array.from({ length: E }, (_, e) => e).filter((e) => e !== 5 && e !== 4);
            return {
              layer: L,
              numExperts: E,
              topK: K,
              experts: olds.map((e) => (L === 0 && e === 2 ? { sources: [{ expert: 2, weight: 3 }, { expert: 5, weight: 1 }], routerRow: 2, members: [2, 4, 5] } : { sources: [{ expert: e, weight: 1 }], routerRow: e })),
              removed: L === 0 ? [] : [4, 5],
              scores: new Array<number>(E).fill(1),
            };
          }),
        };
        const out = path.join(tmp, `${name}-merged`);
        await writeExpertPlan(src, plan, out, operationRecord(plan, modelIdentity(src)));
        const merged = await MoeEngine.load(out);
        try {
          const masked = new Map(moeLayers.map(({ L }) => [L, [4, 5]]));
          const kept = new Map(plan.layers.map((l) => [l.layer, l.experts.map((x) => x.routerRow)]));
          for (const prompt of PROMPTS) {
            const ids = original.tokenizer.encode(prompt).map((t) => t.id);
            const capture = { routing: true, hidden: false, logits: true };
            assertSameOutputs(await original.forward(ids, capture, { maskedExperts: masked }), await merged.forward(ids, capture), kept, `${name} merged`);
          }
        } finally {
          await merged.dispose();
        }
      } finally {
        await original.dispose();
      }
    });
  }
});
