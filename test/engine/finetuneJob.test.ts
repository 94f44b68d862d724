// The finetune job's memory check: the training state (float32 weights, gradients, AdamW moments) must fit
// what the memory budget leaves beside the model, or the run is refused before any step with the numbers.
// Run: node --import tsx --test test/engine/finetuneJob.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { runFinetune } from '../../src/engine/finetune/finetuneJob';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { FinetuneParams } from '../../src/protocol/engineProtocol';
import { fixture } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-job-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ctx = { signal: new AbortController().signal, progress: () => {}, pause: async () => {} };
const params = (over: Partial<FinetuneParams>): FinetuneParams => ({ ids: [5, 6, 7, 8, 9, 10], outDir: path.join(tmp, 'out'), steps: 1, lr: 1e-3, optimizer: 'adamw', schedule: 'constant', warmup: 0, weightDecay: 0.1, gradClip: 1, seed: 0, noEval: true, ...over });

describe('runFinetune memory check', () => {
  test('refuses a training state larger than what the budget leaves, naming both; a small one runs', async () => {
    const probe = await MoeEngine.load(fixture('olmoe'));
    const peak = probe.info.memory!.estimate.peakBytes;
    await probe.dispose();
    // About 1 MiB beside the model: the routers' state (1,024 parameters, 16 KiB) fits, every parameter's (3.2 MiB) does not.
    const engine = await MoeEngine.load(fixture('olmoe'), { memoryBudget: peak + 2 ** 20 });
    try {
      await assert.rejects(runFinetune(engine, params({ train: ['all'] }), ctx), /training 212,480 parameters with adamw holds about 3(\.\d+)? MiB .* the memory budget leaves 1(\.\d+)? MiB: train fewer experts/);
      assert.equal(fs.existsSync(path.join(tmp, 'out')), false);
      const r = await runFinetune(engine, params({ train: ['routers'] }), ctx);
      assert.equal(r.trainableParameters, 1024);
      assert.ok(fs.existsSync(path.join(tmp, 'out', 'adapter', 'moe_workbench_adapter.json')));
    } finally {
      await engine.dispose();
    }
  });
});
