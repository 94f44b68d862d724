// computeGradients against an independent float64 computation on every HF fixture: directional derivatives
// of the float64 reference loss (referenceForward + referenceGradients: central differences in float64,
// step shrunk whenever it would flip a top-k choice) along random directions per parameter group, and a
// few single entries; the load-balancing and z losses and the loss mask checked on their own.
// Tolerance: |engine − reference| ≤ 1e-3 · |reference| + 1e-5. The engine runs forward and backward in
// float32 (observed relative errors 1e-8 … 3e-5 over ~20 ops deep); the float64 central difference with
// relative steps of 1e-5 has truncation and rounding errors below 1e-9. A wrong or missing term in a rule
// (a dropped branch, a wrong sign or factor) moves these derivatives by far more than 1e-3.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import type { ModelConfig } from '../../src/engine/model/modelConfig';
import { expertLayout } from '../../src/engine/model/tensorSpec';
import { MoeEngine } from '../../src/engine/moeEngine';
import { computeGradients, type GradientResult } from '../../src/engine/training/computeGradients';
import { releaseTrainingSessions } from '../../src/engine/training/sessionCache';
import { fixture, fixtureNames, moeFixtureNames } from '../support/paths';
import { referenceForward } from '../support/referenceForward';
import { directionalDerivative, dot, everyParameter, float64Weights, PARAM_GROUPS, randomDirection, referenceLosses, type LossOptions, type RefLosses } from '../support/referenceGradients';

const REL = 1e-3;
const ABS = 1e-5;
const IDS = [3, 71, 104, 101, 32, 113, 117, 105, 99, 107, 32, 98, 114, 111, 119, 110, 32, 102, 111, 120];

function assertNear(engine: number, ref: number, label: string): void {
  assert.ok(Math.abs(engine - ref) <= REL * Math.abs(ref) + ABS, `${label}: engine ${engine}, float64 reference ${ref} (rel ${(Math.abs(engine - ref) / Math.abs(ref)).toExponential(2)})`);
}

/** The difference of two runs' gradients, by name (the gradient of the loss term they differ in). */
function diff(a: GradientResult, b: GradientResult): Map<string, { data: Float32Array }> {
  return new Map([...a.grads].map(([n, g]) => [n, { data: g.data.map((x, i) => x - b.grads.get(n)!.data[i]!) }]));
}

for (const name of fixtureNames) {
  describe(`gradients vs float64 reference: ${name}`, () => {
    let engine: MoeEngine;
    let c: ModelConfig;
    let base: Map<string, Float64Array>;
    let plain: GradientResult;
    const groups = (): [string, (n: string) => boolean][] => Object.entries(PARAM_GROUPS).filter(([, pick]) => [...base.keys()].some(pick));
    const check = (r: { grads: ReadonlyMap<string, { data: Float32Array }> }, opts: LossOptions, pickLoss: (l: RefLosses) => number, names: readonly string[], label: string): void => {
      names.forEach((g, i) => {
        const dir = randomDirection(base, PARAM_GROUPS[g]!, 1000 + i);
        assertNear(dot(r.grads, dir), directionalDerivative(c, base, dir, IDS, opts, pickLoss).value, `${name} ${label} along ${g}`);
      });
    };

    before(async () => {
      engine = await MoeEngine.load(fixture(name));
      c = engine.config;
      const ckpt = openCheckpoint(fixture(name));
      base = float64Weights(c, (n) => ckpt.readF32(n));
      ckpt.close();
      plain = await computeGradients(engine, IDS, { trainable: everyParameter(c) });
    });
    after(async () => {
      await releaseTrainingSessions(engine);
      await engine.dispose();
    });

    it('LM loss: every parameter group along a random direction, and single entries', () => {
      assert.equal(plain.auxLoss === 0, !c.layers.some((l) => l.kind === 'moe'), 'aux loss is 0 exactly for dense models');
      check(plain, {}, (l) => l.loss, groups().map(([g]) => g), 'lm loss');
      // Single entries: the largest-gradient entry of the last layer's router (or dense up_proj) and q_proj, and embedding row ids[1].
      const L = c.numLayers - 1;
      const moe = c.layers[L]!.kind === 'moe';
      const entries = [moe ? expertLayout(c, L).router : `model.layers.${L}.mlp.up_proj.weight`, `model.layers.0.self_attn.q_proj.weight`].map((n): [string, number] => {
        const g = plain.grads.get(n)!.data;
        let at = 0;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[at]!)) at = i;
        return [n, at];
      });
      entries.push(['model.embed_tokens.weight', IDS[1]! * c.hiddenSize + 5]);
      for (const [n, at] of entries) {
        const v = new Float64Array(base.get(n)!.length);
        v[at] = 1e-2;
        const dir = new Map([[n, v]]);
        assertNear(dot(plain.grads, dir), directionalDerivative(c, base, dir, IDS, {}).value, `${name} d loss / d ${n}[${at}]`);
      }
    });

    it('losses match HF: lm loss and load-balancing loss of the fixture prompt', async () => {
      const exp = JSON.parse(fs.readFileSync(path.join(fixture(name), 'expected.json'), 'utf8')) as { prompts: { input_ids: number[]; loss: number; aux_loss?: number }[]; tolerance: { atol_if_engine_computes_in_fp32: number } };
      const p = exp.prompts[0]!;
      const r = await computeGradients(engine, p.input_ids, { trainable: { tensors: new Set(), experts: new Map() }, auxLossCoef: 0.5 });
      assert.ok(Math.abs(r.lmLoss - p.loss) <= exp.tolerance.atol_if_engine_computes_in_fp32, `lm loss ${r.lmLoss} vs HF ${p.loss}`);
      assert.ok(Math.abs(r.auxLoss - (p.aux_loss ?? 0)) <= exp.tolerance.atol_if_engine_computes_in_fp32, `aux loss ${r.auxLoss} vs HF ${p.aux_loss}`);
      assert.ok(Math.abs(r.loss - (r.lmLoss + 0.5 * r.auxLoss)) < 1e-5, 'loss = lm + 0.5 · aux');
      assert.equal(r.grads.size, 0, 'nothing trainable, no gradients');
      const ref = referenceLosses(c, referenceForward(c, (n) => base.get(n)!, p.input_ids), p.input_ids);
      assert.ok(Math.abs(ref.auxLoss - (p.aux_loss ?? 0)) <= 1e-4, `reference aux loss ${ref.auxLoss} vs HF ${p.aux_loss}`);
    });

    // Dense fixtures have no router: declared for the MoE ones only.
    if (moeFixtureNames.includes(name)) {
      it('load-balancing loss (coef 1) and router z-loss (coef 1), each on its own', async () => {
        const aux = await computeGradients(engine, IDS, { trainable: everyParameter(c), auxLossCoef: 1 });
        const z = await computeGradients(engine, IDS, { trainable: everyParameter(c), zLossCoef: 1 });
        assert.ok(Math.abs(aux.loss - plain.loss - aux.auxLoss) < 1e-5, 'loss = lm + 1 · aux');
        const touched = ['routers', 'attention', 'embeddings'];
        check({ grads: diff(aux, plain) }, {}, (l) => l.auxLoss, touched, 'aux loss');
        check({ grads: diff(z, plain) }, {}, (l) => l.zLoss, touched, 'z loss');
        const both = await computeGradients(engine, IDS, { trainable: everyParameter(c), auxLossCoef: 0.3, zLossCoef: 0.01 });
        check(both, { auxCoef: 0.3, zCoef: 0.01 }, (l) => l.loss, groups().map(([g]) => g), 'lm + 0.3 aux + 0.01 z');
      });
    }

    it('loss mask: only the kept positions count', async () => {
      const mask = Float32Array.from({ length: IDS.length - 1 }, (_, i) => (i % 3 === 1 || i > 14 ? 0 : 1));
      const r = await computeGradients(engine, IDS, { trainable: everyParameter(c), lossMask: mask });
      const ref = referenceLosses(c, referenceForward(c, (n) => base.get(n)!, IDS), IDS, { lossMask: mask });
      assert.ok(Math.abs(r.lmLoss - ref.lmLoss) < 1e-4 && Math.abs(r.lmLoss - plain.lmLoss) > 1e-5, `masked lm loss ${r.lmLoss} (reference ${ref.lmLoss}, unmasked ${plain.lmLoss})`);
      check(r, { lossMask: mask }, (l) => l.loss, groups().map(([g]) => g), 'masked lm loss');
    });
  });
}
