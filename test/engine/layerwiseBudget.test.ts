// A memory budget so small that the plan chooses streaming (the smallest budget the plan accepts, found
// from the headers alone): the engine holds no weights between runs, reads each layer from the files when
// it runs, and gives the whole-model graph's outputs bitwise; the weights it holds stay within the budget.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { planCheckpointMemory } from '../../src/engine/memory/memoryPlan';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeEngine } from '../../src/engine/moeEngine';
import { fixture } from '../support/paths';
import { assertSameForward } from './layerwiseCompare';

/** The smallest budget (to 64 KiB) for which the plan does not refuse the checkpoint. */
function smallestBudget(dir: string): number {
  const ckpt = openCheckpoint(dir);
  try {
    const fits = (b: number): boolean => {
      try {
        planCheckpointMemory(ckpt, { budgetBytes: b });
        return true;
      } catch {
        return false;
      }
    };
    let lo = 2 ** 16;
    let hi = 2 ** 34;
    assert.ok(fits(hi), 'fits in 16 GiB');
    while (hi - lo > 2 ** 16) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  } finally {
    ckpt.close();
  }
}

describe('the tiniest budget streams, with identical outputs', () => {
  for (const name of ['olmoe', 'mixtral', 'qwen2_moe']) {
    it(`${name}`, async () => {
      const dir = fixture(name);
      const budget = smallestBudget(dir);
      const engine = await MoeEngine.load(dir, { memoryBudget: budget });
      const whole = await MoeEngine.load(dir, { execution: 'whole-graph' });
      try {
        assert.equal(engine.info.memory?.mode, 'streaming', engine.info.memory?.reason);
        assert.equal(engine.weights.holding.totalBytes, 0, 'no weights held before the first forward');
        const prompts = (JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { prompts: { input_ids: number[] }[] }).prompts;
        for (const [p, { input_ids: ids }] of prompts.entries()) {
          const capture = { routing: true, hidden: true, logits: true };
          assertSameForward(await engine.forward(ids, capture), await whole.forward(ids, capture), `prompt ${p}`, 0);
        }
        const h = engine.weights.holding;
        assert.deepEqual([h.storedBytes, h.f32Bytes], [0, 0], 'streaming keeps no weights');
        assert.ok(h.totalBytes <= budget, `${h.totalBytes} bytes held within the ${budget}-byte budget`);
      } finally {
        await engine.dispose();
        await whole.dispose();
      }
    });
  }
});
