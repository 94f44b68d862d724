// Base vs trained inside the finetune job (no second model in memory) against a direct computation: the
// fine-tuned checkpoint loaded as a second engine, both run whole with logits and routing. Held-out loss,
// top-1 agreement and KL(base ‖ trained), and the open document's per-token routing and prediction changes.
// qwen2_moe is float32, so the written checkpoint holds exactly the trained masters.
// Run: node --import tsx --test test/engine/finetuneCompare.test.ts
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { type JobContext, runFinetune } from '../../src/engine/finetune/finetuneJob';
import { MoeEngine } from '../../src/engine/moeEngine';
import type { FinetuneParams, ForwardResult } from '../../src/protocol/engineProtocol';
import { fixture } from '../support/paths';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-finetune-compare-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ctx: JobContext = { signal: new AbortController().signal, progress: () => {}, pause: async () => {} };
const ids = Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % 300);
const document = 'The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!';
const capture = { routing: true, hidden: false, logits: true };

/** Row t's log-softmax in float64. */
function logSoftmax(r: ForwardResult, t: number): Float64Array {
  const V = r.logits!.cols;
  const row = r.logits!.data.subarray(t * V, (t + 1) * V);
  let m = -Infinity;
  for (const x of row) m = Math.max(m, x);
  let z = 0;
  for (const x of row) z += Math.exp(x - m);
  return Float64Array.from(row, (x) => x - m - Math.log(z));
}

const argmax = (x: ArrayLike<number>): number => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
};

describe('finetune: base vs trained in the same engine', () => {
  test('held-out loss, top-1 agreement and KL, and the document diff equal a direct computation on the written checkpoint', async () => {
    const engine = await MoeEngine.load(fixture('qwen2_moe'));
    const out = path.join(tmp, 'out');
    const p: FinetuneParams = { ids, outDir: out, train: ['routers', 'experts'], steps: 3, lr: 0.3, optimizer: 'sgd', schedule: 'constant', warmup: 0, weightDecay: 0, gradClip: 0, seed: 0, document };
    try {
      const r = await runFinetune(engine, p, ctx);
      assert.equal(r.heldOut, 'the training sequence itself (only one sequence was given)');
      const trained = await MoeEngine.load(out);
      try {
        // Held-out = the training sequence; every target trains.
        const a = await engine.forward(ids, capture);
        const b = await trained.forward(ids, capture);
        let agree = 0;
        let kl = 0;
        for (let t = 0; t < ids.length - 1; t++) {
          const la = logSoftmax(a, t);
          const lb = logSoftmax(b, t);
          if (argmax(la) === argmax(lb)) agree++;
          for (let v = 0; v < la.length; v++) kl += Math.exp(la[v]!) * (la[v]! - lb[v]!);
        }
        const n = ids.length - 1;
        assert.ok(Math.abs(r.evalBefore! - a.loss) < 1e-4, `before ${r.evalBefore} vs ${a.loss}`);
        assert.ok(Math.abs(r.evalAfter! - b.loss) < 1e-4, `after ${r.evalAfter} vs ${b.loss}`);
        assert.ok(r.evalAfter! < r.evalBefore!, 'training lowered the loss on its own sequence');
        assert.equal(r.top1Agreement, agree / n);
        assert.ok(agree > 0 && agree < n, `some predictions kept, some changed: ${agree} of ${n}`);
        assert.ok(r.meanKl! > 1e-3, `the trained model differs: KL ${r.meanKl}`);
        assert.ok(Math.abs(r.meanKl! - kl / n) <= 1e-3 * (kl / n), `KL ${r.meanKl} vs ${kl / n}`);
        const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { nextToken: { top1Agreement: number; meanKl: number } };
        assert.deepEqual(report.nextToken, { top1Agreement: r.top1Agreement, meanKl: r.meanKl });
        assert.match(fs.readFileSync(path.join(out, 'report.html'), 'utf8'), /top-1 agreement base vs trained/);

        // The document: per token, the layers whose top-k set changed and whether the top-1 prediction did.
        const tokens = engine.encodePrompt(document);
        const docIds = tokens.map((t) => t.id);
        const da = await engine.forward(docIds, capture);
        const db = await trained.forward(docIds, capture);
        const want: { index: number; text: string; start: number; end: number; layers: number[]; predictionChanged: boolean }[] = [];
        const changedPerLayer = new Map<number, number>();
        let changedPredictions = 0;
        for (let t = 0; t < docIds.length; t++) {
          const layers: number[] = [];
          for (const ra of da.routing) {
            const rb = db.routing.find((x) => x.layer === ra.layer)!;
            const K = ra.experts.cols;
            const A = new Set(ra.experts.data.subarray(t * K, (t + 1) * K));
            const B = [...rb.experts.data.subarray(t * K, (t + 1) * K)];
            if (!B.every((e) => A.has(e))) {
              layers.push(ra.layer);
              changedPerLayer.set(ra.layer, (changedPerLayer.get(ra.layer) ?? 0) + 1);
            }
          }
          const predictionChanged = argmax(logSoftmax(da, t)) !== argmax(logSoftmax(db, t));
          if (predictionChanged) changedPredictions++;
          if (layers.length > 0 || predictionChanged) want.push({ index: t, text: tokens[t]!.text, start: tokens[t]!.start, end: tokens[t]!.end, layers, predictionChanged });
        }
        const d = r.document!;
        assert.equal(d.tokens, docIds.length);
        assert.equal(d.truncated, false);
        assert.equal(d.changedPredictions, changedPredictions);
        assert.deepEqual(d.routingChanged, da.routing.map((x) => ({ layer: x.layer, share: (changedPerLayer.get(x.layer) ?? 0) / docIds.length })));
        assert.deepEqual(d.perToken, want);
        assert.ok(d.routingChanged.some((x) => x.share > 0), 'the high learning rate changed some routing');
        for (const t of d.perToken) assert.equal(t.text, document.slice(t.start, t.end), 'UTF-16 offsets into the document');
      } finally {
        await trained.dispose();
      }
    } finally {
      await engine.dispose();
    }
  });

  test('a document longer than one pass is truncated to it and says so', async () => {
    const engine = await MoeEngine.load(fixture('qwen2_moe'));
    try {
      const limit = Math.min(engine.config.contextLength, engine.maxAttentionTokens);
      const long = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(limit / 2));
      const r = await runFinetune(engine, { ids, outDir: path.join(tmp, 'long'), train: ['experts=0:1'], steps: 1, lr: 1e-2, optimizer: 'sgd', schedule: 'constant', warmup: 0, weightDecay: 0, gradClip: 0, seed: 0, noEval: true, document: long, adapterOnly: true }, ctx);
      assert.equal(r.document!.truncated, true);
      assert.equal(r.document!.tokens, limit);
      assert.equal(r.top1Agreement, undefined, 'no held-out data: no agreement');
    } finally {
      await engine.dispose();
    }
  });
});
