// Fine-tuning runs: batches by tokens over seeded epochs, schedule, held-out loss when due, and a run saved
// and resumed from its state file equal to the uninterrupted run (weights, moments, history), bit for bit.
// Run: node --import tsx --test test/engine/finetuneRun.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FinetuneRun, type RunSettings } from '../../src/engine/finetune/finetuneRun';
import { MoeEngine } from '../../src/engine/moeEngine';
import { resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-run-'));
const seq = (n: number, k: number): { ids: number[] } => ({ ids: Array.from({ length: n }, (_, i) => (i * 13 + k * 7) % 97) });
const train = [seq(16, 0), seq(12, 1), seq(20, 2), seq(9, 3), seq(14, 4)];
const held = [seq(18, 9)];

describe('FinetuneRun', () => {
  let engine: MoeEngine;
  before(async () => {
    engine = await MoeEngine.load(fixture('olmoe'));
  });
  after(async () => {
    await engine.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const settings = (over: Partial<RunSettings> = {}): RunSettings => ({
    trainable: resolveTrainSpecs(['experts=1:0,1:3', 'routers'], engine.config),
    optimizer: 'adamw',
    weightDecay: 0.1,
    gradClip: 1,
    auxLossCoef: 0.01,
    schedule: { kind: 'cosine', lr: 1e-2, warmup: 1, totalSteps: 6 },
    batchTokens: 30,
    seed: 7,
    evalEvery: 2,
    ...over,
  });

  test('steps follow the schedule, batches reach batchTokens, held-out loss every 2 steps and at the end', async () => {
    const run = await FinetuneRun.create(engine, settings(), train, held);
    const recs = [];
    while (!run.done) recs.push(await run.runStep());
    assert.deepEqual(recs.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
    assert.equal(recs[0]!.lr, 0, 'warm-up starts at 0');
    assert.equal(recs[1]!.lr, 1e-2);
    assert.ok(recs.every((r) => r.tokens >= 30));
    assert.deepEqual(recs.map((r) => r.evalLoss !== undefined), [false, true, false, true, false, true]);
    await assert.rejects(run.runStep(), /already taken its 6 steps/);
  });

  test('save at step 3 and resume = the uninterrupted run; another seed is refused', async () => {
    const a = await FinetuneRun.create(engine, settings(), train, held);
    while (!a.done) await a.runStep();
    const b = await FinetuneRun.create(engine, settings(), train, held);
    for (let s = 0; s < 3; s++) await b.runStep();
    const file = path.join(root, 'state.safetensors');
    await b.save(file);
    const c = await FinetuneRun.create(engine, settings(), train, held, file);
    assert.equal(c.step, 3);
    while (!c.done) await c.runStep();
    assert.deepEqual(c.history, a.history);
    for (const [n, t] of a.current.masters) assert.deepEqual(c.current.masters.get(n)!.data, t.data, n);
    const sa = a.current.optimizerState();
    const sc = c.current.optimizerState();
    for (const [n, m] of sa.moments) {
      assert.deepEqual(sc.moments.get(n)!.m, m.m, n);
      assert.deepEqual(sc.moments.get(n)!.v, m.v, n);
    }
    await assert.rejects(FinetuneRun.create(engine, settings({ seed: 8 }), train, held, file), /saved by a run with other data or settings/);
    await assert.rejects(FinetuneRun.create(engine, settings(), train.slice(1), held, file), /saved by a run with other data or settings/);
    await assert.rejects(FinetuneRun.create(engine, settings(), train, held, path.join(root, 'missing.safetensors')), /no saved training state/);
    assert.deepEqual(fs.readdirSync(root), ['state.safetensors'], 'the atomic save leaves no temp file');
  });

  test('bad settings are refused, naming the value', async () => {
    await assert.rejects(FinetuneRun.create(engine, settings({ batchTokens: 0 }), train, held), /--batch-tokens .*got 0/);
    await assert.rejects(FinetuneRun.create(engine, settings(), [], held), /no sequence/);
  });
});
