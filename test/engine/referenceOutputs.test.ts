// The engine against the Hugging Face reference outputs of every fixture architecture: logits, router
// logits, chosen experts (exact, in order), gate weights, hidden states, loss and aux loss, within the
// tolerances the fixtures state.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { MoeEngine } from '../../src/engine/moeEngine';
import { loadBalancingLoss } from '../../src/engine/routingStats';
import { assertClose } from '../support/compare';
import { fixture, fixtureNames } from '../support/paths';

interface Expected {
  model_type: string;
  moe_layers: number[];
  top_k: number;
  num_experts?: number;
  tolerance: { atol: number };
  prompts: { input_ids: number[]; loss: number; aux_loss?: number }[];
}

for (const name of fixtureNames) {
  describe(`reference outputs: ${name}`, () => {
    const dir = fixture(name);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    const ref = openSafetensors(path.join(dir, 'expected.safetensors'));
    let engine: MoeEngine;
    const atol = expected.tolerance.atol;
    before(async () => {
      engine = await MoeEngine.load(dir);
    });
    after(async () => {
      ref.close();
      await engine.dispose();
    });

    expected.prompts.forEach((prompt, p) => {
      it(`prompt ${p} (${prompt.input_ids.length} tokens) matches within ${atol}`, async () => {
        const r = await engine.forward(prompt.input_ids, { routing: true, hidden: true, logits: true });
        const exp = (n: string): Float32Array => ref.readF32(`p${p}.${n}`);
        assertClose(r.logits!.data, exp('logits'), atol, 'logits');
        assertClose(r.hidden!.embeddings.data, exp('embeddings'), atol, 'embeddings');
        r.hidden!.layers.forEach((h, L) => assertClose(h.data, exp(`hidden.${L}`), atol, `hidden.${L}`));
        assertClose(r.hidden!.finalNorm.data, exp('final_norm'), atol, 'final_norm');
        assert.ok(Math.abs(r.loss - prompt.loss) <= atol, `loss ${r.loss} vs ${prompt.loss}`);

        assert.deepEqual(r.routing.map((l) => l.layer), expected.moe_layers);
        for (const l of r.routing) {
          assertClose(l.routerLogits.data, exp(`router_logits.${l.layer}`), atol, `router_logits.${l.layer}`);
          // Chosen experts must match exactly, in order (readF32 of an I32 tensor is not supported: read raw).
          const idx = new Int32Array(ref.readRaw(`p${p}.topk_idx.${l.layer}`).slice().buffer);
          assert.deepEqual(Array.from(l.experts.data), Array.from(idx), `topk_idx.${l.layer}`);
          assertClose(l.weights.data, exp(`topk_weight.${l.layer}`), atol, `topk_weight.${l.layer}`);
          if (ref.tensors.has(`p${p}.shared_expert_gate.${l.layer}`)) {
            assert.ok(l.sharedExpertGate, 'shared expert gate output');
            assertClose(l.sharedExpertGate, exp(`shared_expert_gate.${l.layer}`), atol, `shared_expert_gate.${l.layer}`);
          }
        }
        if (prompt.aux_loss !== undefined) {
          const aux = loadBalancingLoss(r.routing.map((l) => ({ logits: l.routerLogits.data, rows: l.routerLogits.rows })), expected.num_experts!, expected.top_k);
          assert.ok(Math.abs(aux - prompt.aux_loss) <= atol, `aux_loss ${aux} vs ${prompt.aux_loss}`);
        }
      });
    });

    it('the fast path (no routing outputs) gives the same log-probabilities', async () => {
      const ids = expected.prompts[0]!.input_ids;
      const full = await engine.forward(ids, { routing: true, hidden: false, logits: false });
      const fast = await engine.forward(ids, { routing: false, hidden: false, logits: false });
      assert.equal(fast.routing.length, 0);
      assertClose(fast.logprobs, full.logprobs, 1e-6, 'logprobs');
    });
  });
}
