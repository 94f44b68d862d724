// --memory-budget as a user meets it (issue #9 §1, §5): the plan's mode and reason in `inspect`, and a
// budget too small for even one layer refused with the numbers before anything is written.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import { cli } from '../support/runCli';
import { fixture } from '../support/paths';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-budget-cli-'));

describe('--memory-budget', () => {
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('inspect says which mode the budget allows and why, last', async () => {
    const r = await cli('inspect', '--model', fixture('olmoe'), '--memory-budget', '4GiB');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^model\s+olmoe/);
    assert.match(lines.at(-2)!, /^memory\s+resident: the \d+ KiB of BF16 weights fit in the 4\.0 GiB memory budget as float32/);
    assert.match(lines.at(-1)!, /^peak\s+about .* of the 4\.00 GiB budget, for sequences up to 4,096 tokens$/);
    const json = JSON.parse((await cli('inspect', '--model', fixture('olmoe'), '--memory-budget', '4GiB', '--json')).stdout) as ModelInfo;
    assert.equal(json.memory?.mode, 'resident');
    assert.equal(json.memory?.budgetBytes, 4 * 2 ** 30);
  });

  it('a budget too small for even one layer is refused with the numbers, and nothing is written', async () => {
    const out = path.join(scratch, 'pruned');
    const r = await cli('prune', '--model', fixture('mixtral'), '--data', path.join(fixture('mixtral'), 'config.json'), '--method', 'frequency', '--keep', '2', '--out', out, '--memory-budget', '100MiB');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /this model cannot run within the 100 MiB memory budget: even streaming, which holds no weights in memory, needs about \d+ MiB: two float32 buffers for its largest layer \(\d+ KiB each\) and \d+ MiB of working memory \(activations, ONNX Runtime's arenas\) for 128-token sequences\. Give a larger --memory-budget \(setting moeWorkbench\.memoryBudget\), at least 0\.5GiB\./);
    assert.ok(!fs.existsSync(out), 'nothing written');
  });
});
