// The memory plan as the user reads it: the last rows of `inspect` and the model's tooltip sentence.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatInspect } from '../../src/cli/inspectText';
import { memoryInfoOf } from '../../src/engine/memory/memoryInfo';
import { planCheckpointMemory } from '../../src/engine/memory/memoryPlan';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { describeCheckpoint } from '../../src/engine/modelInfo';
import { memorySentence } from '../../src/features/model/memoryLabel';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import { fixture } from '../support/paths';

function infoWithPlan(name: string, budgetBytes: number, mode?: 'streaming'): ModelInfo {
  const ckpt = openCheckpoint(fixture(name));
  try {
    const plan = planCheckpointMemory(ckpt, { budgetBytes, available: { bytes: 64 * 2 ** 30, source: 'test' }, ...(mode ? { mode } : {}) });
    return { ...describeCheckpoint(ckpt), memory: memoryInfoOf(plan, ckpt.config.numLayers) };
  } finally {
    ckpt.close();
  }
}

describe('memory plan shown to the user', () => {
  it('inspect ends with the mode, why, and the peak against the budget; the model line stays first', () => {
    const info = infoWithPlan('olmoe', 8 * 2 ** 30);
    const lines = formatInspect(info).split('\n');
    assert.match(lines[0]!, /^model\s+olmoe/);
    assert.match(lines.at(-2)!, /^memory\s+resident: the \d+ KiB of BF16 weights fit in the 8\.0 GiB memory budget as float32/);
    assert.match(lines.at(-1)!, /^peak\s+about [\d.]+ [MG]iB of the 8\.00 GiB budget, for sequences up to 4,096 tokens$/);
    // Without a plan (an older engine) the rows are absent, not empty.
    const { memory: _omitted, ...bare } = info;
    assert.doesNotMatch(formatInspect(bare), /^memory/m);
  });

  it('the tooltip sentence names the mode, the reason and the setting', () => {
    const info = infoWithPlan('mixtral', 2 ** 30, 'streaming');
    assert.match(memorySentence(info)!, /^Memory: streaming, forced: each layer is read from disk when it runs.*\. Peak about \d+ MiB of the 1\.0 GiB budget \(setting moeWorkbench\.memoryBudget\)\.$/);
    assert.equal(memorySentence({}), undefined);
  });
});
