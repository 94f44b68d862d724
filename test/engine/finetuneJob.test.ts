// The finetune job's memory check: the training state (float32 weights, gradients, AdamW moments) must fit
// what the memory budget leaves beside the model, or the run is refused before any step with the numbers.
// Run: node --import tsx --test test/engine/finetuneJob.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { type JobContext, runFinetune } from '../../src/engine/finetune/finetuneJob';
import { MoeEngine } from '../../src/engine/moeEngine';
import { peakForTokens } from '../../src/engine/memory/memoryPlan';
import { estimateWorkingSet } from '../../src/engine/memory/workingSet';
import type { FinetuneParams, Progress } from '../../src/protocol/engineProtocol';
import { MoeError } from '../../src/protocol/moeError';
import { fixture } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-job-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ctx: JobContext = { signal: new AbortController().signal, progress: () => {}, pause: async () => {} };
const params = (over: Partial<FinetuneParams>): FinetuneParams => ({ ids: [5, 6, 7, 8, 9, 10], outDir: path.join(tmp, 'out'), steps: 1, lr: 1e-3, optimizer: 'adamw', schedule: 'constant', warmup: 0, weightDecay: 0.1, gradClip: 1, seed: 0, noEval: true, ...over });

describe('runFinetune memory check', () => {
  test('refuses a training state larger than what the budget leaves, naming both; a small one runs', async () => {
    const probe = await MoeEngine.load(fixture('olmoe'));
    // The model's peak for the run's sequences (--seq-len's default, 512): the plan's own peak is for the longest
    // sequence the budget allows, which grows with the budget.
    const peak = peakForTokens(probe.info.memory!.estimate, estimateWorkingSet(probe.config, 512));
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

describe('runFinetune Stop and Cancel', () => {
  // A Stop or Cancel requested from the progress report of step `at` (the step has been taken by then).
  const ctxAfter = (at: number, what: 'stop' | 'cancel'): JobContext => {
    const stop = new AbortController();
    const cancel = new AbortController();
    return {
      signal: cancel.signal,
      finish: stop.signal,
      progress: (p: Progress) => {
        if (p.stage === 'train' && p.done === at) (what === 'stop' ? stop : cancel).abort();
      },
      pause: async () => {},
    };
  };
  const stopParams = (out: string): FinetuneParams => params({ outDir: out, steps: 50, train: ['experts=1:2'], noEval: false, evalEvery: 2 });

  test('Stop after step 3 of 50: the run ends there, the held-out evaluation and the writing run, the checkpoint loads and says it was stopped', async () => {
    const engine = await MoeEngine.load(fixture('olmoe'));
    const out = path.join(tmp, 'stopped');
    try {
      const r = await runFinetune(engine, stopParams(out), ctxAfter(3, 'stop'));
      assert.equal(r.stoppedAt, 3);
      assert.equal(r.steps, 3);
      assert.equal(r.history.length, 3);
      assert.ok(r.evalBefore !== undefined && r.evalAfter !== undefined, 'the final held-out evaluation ran');
      const record = JSON.parse(fs.readFileSync(path.join(out, 'moe_workbench.json'), 'utf8')) as { training: { stopped: unknown; history: unknown[] } };
      assert.deepEqual(record.training.stopped, { afterStep: 3, of: 50 });
      assert.equal(record.training.history.length, 3);
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { stopped: unknown };
      assert.deepEqual(report.stopped, { afterStep: 3, of: 50 });
      assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /Stopped by the user after step 3 of 50/);
      assert.ok(fs.existsSync(path.join(out, 'adapter', 'moe_workbench_adapter.json')));
      const reloaded = await MoeEngine.load(out);
      try {
        const f = await reloaded.forward([5, 6, 7, 8], { routing: false, hidden: false, logits: false });
        assert.ok(Number.isFinite(f.loss));
      } finally {
        await reloaded.dispose();
      }
      // A run that is not stopped says nothing about stopping.
      const full = await runFinetune(engine, params({ outDir: path.join(tmp, 'full'), steps: 2, train: ['experts=1:2'] }), ctx);
      assert.equal(full.stoppedAt, undefined);
      assert.equal('stopped' in (JSON.parse(fs.readFileSync(path.join(tmp, 'full', 'moe_workbench.json'), 'utf8')) as { training: object }).training, false);
    } finally {
      await engine.dispose();
    }
  });

  test('Cancel after step 3 leaves nothing; Stop before the first step refuses, having written nothing', async () => {
    const engine = await MoeEngine.load(fixture('olmoe'));
    const out = path.join(tmp, 'cancelled');
    try {
      await assert.rejects(runFinetune(engine, stopParams(out), ctxAfter(3, 'cancel')), (e: unknown) => e instanceof MoeError && e.code === 'E_CANCELLED');
      assert.equal(fs.existsSync(out), false);
      const early = { ...ctx, finish: AbortSignal.abort() };
      await assert.rejects(runFinetune(engine, stopParams(out), early), /stopped before the first step: nothing was trained, nothing written/);
      assert.equal(fs.existsSync(out), false);
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('cancelled')), [], 'no staging folder left beside the output');
    } finally {
      await engine.dispose();
    }
  });
});
