// The Growth section of a fine-tuning report (issue #11 §3, §4): a tiny upcycle (llama → Mixtral, copy) and an
// add-experts (Mixtral fixture, two listed copies), each fine-tuned with --train new-experts on real engines,
// and every figure of report.json's `growth` recomputed independently: the creation difference from the grow
// record, perplexity from the run's held-out losses, CV / MaxVio and shares from the routing trace of
// MoeEngine.forward on the held-out ids with the model before (the grown checkpoint) and after (the
// fine-tuned checkpoint, reloaded), the weight distances from the checkpoints' Hugging Face tensors.
// Run: node --import tsx --test test/engine/finetuneGrowth.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { type JobContext, runFinetune } from '../../src/engine/finetune/finetuneJob';
import { ADD_EXPERTS_DEFAULTS } from '../../src/engine/grow/addExpertsPlan';
import { writeAddedExperts } from '../../src/engine/grow/writeAddedExperts';
import { openCheckpoint } from '../../src/engine/model/checkpoint';
import { MoeEngine } from '../../src/engine/moeEngine';
import { UPCYCLE_DEFAULTS } from '../../src/engine/upcycle/upcyclePlan';
import { writeUpcycled } from '../../src/engine/upcycle/writeUpcycled';
import { layerBalance } from '../../src/metrics/balance';
import type { FinetuneParams } from '../../src/protocol/engineProtocol';
import type { FinetuneReport } from '../../src/report/finetuneReport';
import { fixture } from '../support/paths';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-growth-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const ctx: JobContext = { signal: new AbortController().signal, progress: () => {}, pause: async () => {} };
const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 250);
const params = (outDir: string): FinetuneParams => ({ ids, outDir, steps: 4, lr: 3e-2, optimizer: 'adamw', schedule: 'constant', warmup: 0, weightDecay: 0, gradClip: 1, seed: 0, train: ['new-experts'] });

/**
 * The model loaded with a memory budget that leaves `needBytes` beside the plan's peak: the finetune job
 * refuses a training state larger than budget − peak, and a plan whose token cap is bound by memory (the
 * Mixtral fixture's long context) grows its attention span into the budget, leaving anywhere from a few KiB
 * to a few MiB (less than one more token's cost). Budgets are tried until one leaves room.
 */
async function loadWithRoom(dir: string, needBytes: number): Promise<MoeEngine> {
  const probe = await MoeEngine.load(dir);
  const budget = probe.info.memory!.budgetBytes;
  await probe.dispose();
  // Budgets just below the default (which is the memory free; a larger one would be cut down to it), 1 MiB apart.
  for (let k = 0; k < 64; k++) {
    const engine = await MoeEngine.load(dir, { memoryBudget: budget - k * 2 ** 20 });
    const m = engine.info.memory!;
    if (m.budgetBytes - m.estimate.peakBytes >= needBytes) return engine;
    await engine.dispose();
  }
  throw new Error(`${dir}: no budget within 64 MiB below ${budget} bytes leaves ${needBytes} bytes beside the plan's peak for the training state`);
}

/** Per MoE layer, the load of each expert on `ids` from the routing trace of a plain forward of `dir`. */
async function traceLoads(dir: string): Promise<Map<number, { load: readonly number[]; cv: number; maxVio: number; E: number; K: number }>> {
  const engine = await MoeEngine.load(dir);
  try {
    const f = await engine.forward(ids, { routing: true, hidden: false, logits: false });
    return new Map(
      f.routing.map((r) => {
        const b = layerBalance(r.layer, r.experts.data, r.entropy, r.routerLogits.cols, r.experts.cols);
        return [r.layer, { load: b.load, cv: b.cv, maxVio: b.maxVio, E: r.routerLogits.cols, K: r.experts.cols }];
      }),
    );
  } finally {
    await engine.dispose();
  }
}

/** ‖A[e] − B[s]‖ / ‖B[s]‖ over the three Mixtral expert matrices of layer L, from the checkpoints' tensors. */
function distance(aDir: string, e: number, bDir: string, s: number, L: number): number {
  const a = openCheckpoint(aDir);
  const b = openCheckpoint(bDir);
  try {
    let d = 0;
    let w = 0;
    for (const m of ['w1', 'w2', 'w3']) {
      const x = a.tensors.get(`model.layers.${L}.block_sparse_moe.experts.${e}.${m}.weight`)!;
      const y = b.tensors.get(`model.layers.${L}.block_sparse_moe.experts.${s}.${m}.weight`)!;
      const xa = x.file.readF32(`model.layers.${L}.block_sparse_moe.experts.${e}.${m}.weight`);
      const ya = y.file.readF32(`model.layers.${L}.block_sparse_moe.experts.${s}.${m}.weight`);
      for (let i = 0; i < xa.length; i++) {
        d += (xa[i]! - ya[i]!) ** 2;
        w += ya[i]! ** 2;
      }
    }
    return Math.sqrt(d / w);
  } finally {
    a.close();
    b.close();
  }
}

async function finetune(model: string, out: string, needBytes: number): Promise<{ report: FinetuneReport; html: string }> {
  const engine = await loadWithRoom(model, needBytes);
  try {
    await runFinetune(engine, params(out), ctx);
  } finally {
    await engine.dispose();
  }
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as FinetuneReport;
  return { report, html: fs.readFileSync(path.join(out, 'report.html'), 'utf8') };
}

/** The report's balance and shares equal the trace's, before (grown model) and after (fine-tuned model). */
async function checkBalance(report: FinetuneReport, grown: string, trained: string): Promise<void> {
  const g = report.growth!;
  const before = await traceLoads(grown);
  const afterLoads = await traceLoads(trained);
  assert.equal(g.heldOutTokens, ids.length, 'every held-out position counted (the sequence is its own held-out set)');
  assert.deepEqual(g.balance.map((b) => b.layer), [...before.keys()]);
  for (const b of g.balance) {
    const x = before.get(b.layer)!;
    const y = afterLoads.get(b.layer)!;
    assert.equal(b.experts, x.E);
    assert.ok(Math.abs(b.before.cv - x.cv) < 1e-12 && Math.abs(b.before.maxVio - x.maxVio) < 1e-12, `layer ${b.layer} before: report ${JSON.stringify(b.before)}, trace cv ${x.cv} maxVio ${x.maxVio}`);
    assert.ok(Math.abs(b.after.cv - y.cv) < 1e-12 && Math.abs(b.after.maxVio - y.maxVio) < 1e-12, `layer ${b.layer} after: report ${JSON.stringify(b.after)}, trace cv ${y.cv} maxVio ${y.maxVio}`);
  }
  for (const e of g.experts) {
    const x = before.get(e.layer)!;
    const y = afterLoads.get(e.layer)!;
    assert.ok(e.share, `layer ${e.layer} expert ${e.expert} has a share`);
    assert.ok(Math.abs(e.share.before - x.load[e.expert]! / (ids.length * x.K)) < 1e-12);
    assert.ok(Math.abs(e.share.after - y.load[e.expert]! / (ids.length * y.K)) < 1e-12);
  }
}

describe('fine-tuning report of a grown model: the Growth section', () => {
  test('upcycle (copy) → finetune --train new-experts: creation difference, perplexity, CV/MaxVio, shares and weight change as recomputed', async () => {
    const up = path.join(root, 'up');
    const { record } = await writeUpcycled(fixture('llama'), up, { ...UPCYCLE_DEFAULTS, experts: 4, topK: 2 }, { evaluate: true });
    const out = path.join(root, 'up-trained');
    // 2 layers × 4 experts × 3 × 64 × 128 parameters, 16 bytes each with AdamW (3 MiB).
    const { report, html } = await finetune(up, out, 3.5 * 2 ** 20);
    const g = report.growth;
    assert.ok(g, 'a Growth section');
    assert.equal(g.operation, 'upcycle');
    assert.equal(g.method, 'copy');
    assert.equal(g.source.dir, record.source.dir);
    assert.deepEqual(g.creation, record.evaluation, 'the difference the upcycling measured, from its record');
    assert.ok(g.creation!.maxAbsLogitDiff < 1e-2);
    assert.ok(report.heldOutLoss);
    assert.equal(g.perplexity!.before, Math.exp(report.heldOutLoss.before));
    assert.equal(g.perplexity!.after, Math.exp(report.heldOutLoss.after));
    assert.ok(g.perplexity!.after < g.perplexity!.before, `training lowered the held-out perplexity: ${JSON.stringify(g.perplexity)}`);
    // The trained model is written in float16 (the source's dtype): its routing on the held-out ids is the
    // report's "after" here (checked: no top-k choice sits close enough to a tie to flip).
    await checkBalance(report, up, out);
    assert.deepEqual(g.experts.map((e) => `${e.layer}:${e.expert}:${e.from}`), [0, 1].flatMap((L) => [0, 1, 2, 3].map((e) => `${L}:${e}:model.layers.${L}.mlp`)));
    for (const e of g.experts) {
      assert.equal(e.weightChange.reference, 'as created');
      assert.equal(e.weightChange.before, 0);
      const recomputed = distance(out, e.expert, up, e.expert, e.layer);
      // The report measures the float32 masters, the checkpoint holds them rounded to float16.
      assert.ok(Math.abs(e.weightChange.after - recomputed) < 1e-3 * recomputed + 1e-6, `${e.layer}:${e.expert}: report ${e.weightChange.after}, checkpoint ${recomputed}`);
      assert.ok(e.weightChange.after > 0);
      const same = report.expertChanges.find((c) => c.layer === e.layer && c.expert === e.expert)!;
      assert.ok(Math.abs(same.relative - e.weightChange.after) < 1e-9, 'as created = the trained expert\'s own change');
    }
    assert.match(html, /<h2>Growth<\/h2>/);
    assert.match(html, /CV = std\(n\) \/ mean\(n\)/);
    assert.ok(html.includes('model.layers.0.mlp'));
  });

  test('add-experts (listed copies, random router rows) → finetune --train new-experts: distance to the source expert 0 before, as recomputed after; source shares', async () => {
    // Random router rows: a copied row ties exactly with its source's, and exact ties in top-k are broken by
    // float noise that differs between the training forward and MoeEngine.forward's graph.
    const grown = path.join(root, 'grown');
    const { record } = await writeAddedExperts(fixture('mixtral'), grown, { ...ADD_EXPERTS_DEFAULTS, count: 2, from: { list: [{ layer: 0, expert: 3 }, { layer: 0, expert: 5 }, { layer: 1, expert: 1 }, { layer: 1, expert: 1 }] }, router: 'random' }, { evaluate: true });
    const out = path.join(root, 'grown-trained');
    // 2 layers × 2 experts × 3 × 64 × 64 parameters, 16 bytes each (768 KiB).
    const { report, html } = await finetune(grown, out, 2 ** 20);
    const g = report.growth!;
    assert.equal(g.operation, 'add-experts');
    assert.deepEqual(g.creation, record.evaluation);
    assert.equal(g.functionRule, record.functionPreservation.rule);
    await checkBalance(report, grown, out);
    const sources: Record<string, number> = { '0:8': 3, '0:9': 5, '1:8': 1, '1:9': 1 };
    assert.deepEqual(g.experts.map((e) => `${e.layer}:${e.expert}:${e.from}`), ['0:8:expert 3', '0:9:expert 5', '1:8:expert 1', '1:9:expert 1']);
    const before = await traceLoads(grown);
    for (const e of g.experts) {
      const s = sources[`${e.layer}:${e.expert}`]!;
      assert.equal(e.weightChange.reference, 'source expert');
      assert.equal(e.weightChange.before, 0, 'a byte copy of its source at creation');
      const recomputed = distance(out, e.expert, grown, s, e.layer);
      assert.ok(Math.abs(e.weightChange.after - recomputed) < 1e-9 * Math.max(1, recomputed), `${e.layer}:${e.expert}: report ${e.weightChange.after}, checkpoint ${recomputed}`);
      // An expert no held-out token chose gets no gradient (the held-out ids are the training sequence).
      if (e.share!.before > 0) assert.ok(e.weightChange.after > 0, `${e.layer}:${e.expert} was chosen, so training moved it away from its source`);
      const x = before.get(e.layer)!;
      assert.ok(e.sourceShare && Math.abs(e.sourceShare.before - x.load[s]! / (ids.length * x.K)) < 1e-12);
    }
    assert.ok(g.experts.some((e) => e.weightChange.after > 0), `some new expert trained: ${JSON.stringify(g.experts)}`);
    assert.match(html, /<h2>Growth<\/h2>/);
    assert.ok(html.includes('expert 3'));
  });

  test('a fine-tuning of a model that was not grown has no Growth section', async () => {
    const out = path.join(root, 'plain');
    const engine = await loadWithRoom(fixture('mixtral'), 2 ** 19);
    try {
      await runFinetune(engine, { ...params(out), steps: 1, train: ['experts=0:1'] }, ctx);
    } finally {
      await engine.dispose();
    }
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as FinetuneReport;
    assert.equal(report.growth, undefined);
    assert.doesNotMatch(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /<h2>Growth<\/h2>/);
  });
});
