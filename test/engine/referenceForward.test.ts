// Proves the test-only reference forward pass (test/support/referenceForward.ts) against the Hugging Face
// outputs stored with every fixture, within 1e-4 for every checkpoint dtype: the expected values are float32
// computations from exactly the stored weights, and the reference reads the same weights upcast exactly.
// Once this passes, the reference can judge the engine on configurations no fixture covers.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { openSafetensors } from '../../src/engine/model/safetensors';
import { assertClose } from '../support/compare';
import { fixture, fixtureNames } from '../support/paths';
import { referenceForward } from '../support/referenceForward';

const ATOL = 1e-4;

for (const name of fixtureNames) {
  describe(`reference forward vs HF: ${name}`, () => {
    it('matches logits, hidden states and routing of both prompts within 1e-4', () => {
      const ckpt = openCheckpoint(fixture(name));
      const ref = openSafetensors(path.join(fixture(name), 'expected.safetensors'));
      try {
        for (let p = 0; ref.tensors.has(`p${p}.input_ids`); p++) {
          const exp = (n: string): Float32Array => ref.readF32(`p${p}.${n}`);
          // I32 tensors cannot go through readF32: reinterpret the raw little-endian bytes.
          const i32 = (n: string): number[] => Array.from(new Int32Array(ref.readRaw(`p${p}.${n}`).slice().buffer));
          const out = referenceForward(ckpt.config, (n) => ckpt.readF32(n), i32('input_ids'));
          const at = `${name} p${p}`;
          assertClose(out.embeddings.data, exp('embeddings'), ATOL, `${at} embeddings`);
          out.hidden.forEach((h, L) => assertClose(h.data, exp(`hidden.${L}`), ATOL, `${at} hidden.${L}`));
          assertClose(out.finalNorm.data, exp('final_norm'), ATOL, `${at} final_norm`);
          assertClose(out.logits.data, exp('logits'), ATOL, `${at} logits`);
          const moeLayers = [...ref.tensors.keys()].filter((n) => n.startsWith(`p${p}.router_logits.`)).map((n) => Number(n.split('.').pop()));
          assert.deepEqual(out.routing.map((r) => r.layer), moeLayers.sort((a, b) => a - b), `${at} MoE layers`);
          for (const r of out.routing) {
            assertClose(r.routerLogits.data, exp(`router_logits.${r.layer}`), ATOL, `${at} router_logits.${r.layer}`);
            assert.deepEqual(Array.from(r.topkIdx.data), i32(`topk_idx.${r.layer}`), `${at} topk_idx.${r.layer}`);
            assertClose(r.topkWeight.data, exp(`topk_weight.${r.layer}`), ATOL, `${at} topk_weight.${r.layer}`);
            const gateName = `p${p}.shared_expert_gate.${r.layer}`;
            assert.equal(r.sharedExpertGate !== undefined, ref.tensors.has(gateName), `${at} shared expert gate presence`);
            if (r.sharedExpertGate) assertClose(r.sharedExpertGate, exp(`shared_expert_gate.${r.layer}`), ATOL, `${at} shared_expert_gate.${r.layer}`);
          }
        }
      } finally {
        ref.close();
        ckpt.close();
      }
    });
  });
}
