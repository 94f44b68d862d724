// Layer-wise execution (one session per layer shape, weights fed per layer) against the whole-model graph
// on every fixture family: same log-probabilities, logits, hidden states, router logits, gate weights,
// expert norms and shared-expert gates, and exactly the same chosen experts, with and without masked
// experts. Bitwise: the units run the very same ops on the same float32 weights, and on these fixtures no
// ONNX Runtime fusion spans a layer boundary (measured: max difference 0 for every family).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { Capture, ForwardResult } from '../../src/protocol/engineProtocol';
import { fixture, fixtureNames, moeFixtureNames } from '../support/paths';
import { assertSameForward } from './layerwiseCompare';

const ALL: Capture = { routing: true, hidden: true, logits: true };

for (const name of fixtureNames) {
  describe(`layer-wise = whole graph: ${name}`, () => {
    const dir = fixture(name);
    const prompts = (JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { prompts: { input_ids: number[] }[] }).prompts.map((p) => p.input_ids);
    let whole: MoeEngine;
    let layered: MoeEngine;
    before(async () => {
      whole = await MoeEngine.load(dir, { execution: 'whole-graph' });
      layered = await MoeEngine.load(dir, { execution: 'layer-wise' });
    });
    after(async () => {
      await whole.dispose();
      await layered.dispose();
    });
    const both = async (ids: number[], capture: Capture, opts = {}): Promise<[ForwardResult, ForwardResult]> => [await whole.forward(ids, capture, opts), await layered.forward(ids, capture, opts)];

    prompts.forEach((ids, p) => {
      it(`prompt ${p}: logprobs, logits, hidden states and routing`, async () => {
        const [a, b] = await both(ids, ALL);
        assertSameForward(b, a, `prompt ${p}`, 0);
      });
    });

    it('expert norms and the fast path', async () => {
      const ids = prompts[0]!;
      const [a, b] = await both(ids, { routing: true, hidden: false, logits: false, expertNorms: true });
      assertSameForward(b, a, 'expert norms', 0);
      const [c, d] = await both(ids, { routing: false, hidden: false, logits: false });
      assertSameForward(d, c, 'fast path', 0);
    });

    // Dense fixtures have no router to mask: declared for the MoE ones only.
    if (moeFixtureNames.includes(name)) {
      it('masked experts', async () => {
        const moe = whole.config.layers.flatMap((l, L) => (l.kind === 'moe' ? [L] : []));
        assert.ok(moe.length > 0, 'an MoE fixture has MoE layers');
        const masked = new Map(moe.map((L) => [L, [L % 2]]));
        const [a, b] = await both(prompts[1]!, { routing: true, hidden: false, logits: true }, { maskedExperts: masked });
        assertSameForward(b, a, 'masked', 0);
        for (const r of b.routing) assert.ok(!Array.from(r.experts.data).includes(r.layer % 2), `layer ${r.layer}: masked expert not chosen`);
      });
    }
  });
}
