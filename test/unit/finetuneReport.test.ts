// The fine-tuning report page and routing drift: drift against hand-computed Jaccard indices; the page
// escapes every text (hostile strings in a report.json) and carries no script.
// Run: node --import tsx --test test/unit/finetuneReport.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { routingDrift } from '../../src/engine/finetune/routingDrift';
import { type FinetuneReport, finetuneReportHtml } from '../../src/report/finetuneReport';
import { checkGrowth, type FinetuneGrowth } from '../../src/report/growthReport';

describe('routingDrift', () => {
  test('mean Jaccard of each token’s top-k sets, and the share of tokens that changed', () => {
    const before = [new Map([[0, BigInt64Array.of(1n, 2n, 3n, 4n)]]), new Map([[0, BigInt64Array.of(5n, 6n)]])];
    // token 0: {1,2} vs {2,1} -> 1; token 1: {3,4} vs {3,7} -> 1/3; token 2: {5,6} vs {0,1} -> 0.
    const after = [new Map([[0, BigInt64Array.of(2n, 1n, 3n, 7n)]]), new Map([[0, BigInt64Array.of(0n, 1n)]])];
    const [d] = routingDrift(before, after, new Map([[0, 2]]));
    assert.equal(d!.tokens, 3);
    assert.ok(Math.abs(d!.jaccard - (1 + 1 / 3 + 0) / 3) < 1e-12);
    assert.ok(Math.abs(d!.changed - 2 / 3) < 1e-12);
  });
});

describe('finetuneReportHtml', () => {
  const evil = '<script>alert(1)</script>"\'&';
  const report: FinetuneReport = {
    format: 'moe-workbench.finetune-report',
    version: 1,
    createdAt: evil,
    model: { dir: `/m/${evil}`, sha256: 'a'.repeat(64) },
    output: { checkpointDir: `/o/${evil}`, adapterDir: `/o/${evil}/adapter` },
    heldOut: evil,
    selection: { method: evil, threshold: 0.2, experts: [[0, [1, 2]]] },
    trainable: { parameters: 1000, total: 100000, tensors: 6 },
    hyperParameters: { [evil]: evil, lr: 1e-4, steps: 1000 },
    history: [
      { step: 1, lmLoss: 5, loss: 5.01, lr: 1e-4, evalLoss: 5.2 },
      { step: 2, lmLoss: 4.5, loss: 4.51, lr: 1e-4, evalLoss: 4.9 },
    ],
    heldOutLoss: { before: 5.3, after: 4.9 },
    routingDrift: [{ layer: 0, jaccard: 0.9, changed: 0.2, tokens: 50 }],
    expertChanges: [{ layer: 0, expert: 1, relative: 0.01 }],
    tokensPerSecond: 123.4,
    seconds: 9.5,
  };

  test('every text is escaped; no script; only the nonce’d style block; the curves are drawn', () => {
    const html = finetuneReportHtml(report, { nonce: 'abc123' });
    assert.doesNotMatch(html, /<script/i);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'));
    assert.match(html, /content="default-src &#39;none&#39;; style-src &#39;nonce-abc123&#39;; form-action &#39;none&#39;; base-uri &#39;none&#39;"/);
    assert.equal((html.match(/<style/g) ?? []).length, 1);
    assert.doesNotMatch(html, / style="/);
    assert.equal((html.match(/<polyline /g) ?? []).length, 2);
    assert.match(html, /lr 1\.00e-4, steps 1,000/);
    assert.match(html, /4\.9000 \(perplexity 200\.337 → 134\.290, -33\.0%\)/);
  });

  test('a stopped run says so; next-token agreement and KL are shown; both absent when not given', () => {
    const html = finetuneReportHtml({ ...report, stopped: { afterStep: 3, of: 1000 }, nextToken: { top1Agreement: 0.875, meanKl: 0.0123 } });
    assert.match(html, /Stopped by the user after step 3 of 1,000/);
    assert.match(html, /top-1 agreement base vs trained 87\.5%, mean KL\(base ‖ trained\) 0\.01230 nats/);
    const plain = finetuneReportHtml(report);
    assert.doesNotMatch(plain, /Stopped by the user|top-1 agreement/);
    const hostile = finetuneReportHtml({ ...report, stopped: { afterStep: '<b>' as unknown as number, of: 2 }, nextToken: { top1Agreement: '<i>' as unknown as number, meanKl: Number.NaN } });
    assert.doesNotMatch(hostile, /<b>|<i>/);
  });

  test('hostile numbers print as n/a, not markup', () => {
    const bad = { ...report, routingDrift: [{ layer: '<b>' as unknown as number, jaccard: '<i>' as unknown as number, changed: Number.NaN, tokens: 1 }] };
    const html = finetuneReportHtml(bad);
    assert.doesNotMatch(html, /<b>|<i>/);
  });

  const growth: FinetuneGrowth = {
    operation: 'add-experts',
    method: evil,
    source: { dir: `/s/${evil}`, sha256: 'b'.repeat(64) },
    creation: { maxAbsLogitDiff: 0.25, meanAbsLogitDiff: 0.01, top1Agreement: 0.9, sequences: 4, tokens: 128 },
    functionRule: evil,
    perplexity: { before: 20, after: 10 },
    heldOutTokens: 40,
    balance: [{ layer: 0, experts: 10, topK: 2, before: { cv: 0.5, maxVio: 1.25 }, after: { cv: 0.25, maxVio: 0.5 } }],
    experts: [{ layer: 0, expert: 8, from: evil, share: { before: 0.05, after: 0.125 }, sourceShare: { before: 0.1, after: 0.075 }, weightChange: { reference: 'source expert', before: 0, after: 0.0312 } }],
  };

  test('the Growth section: creation difference, perplexity, CV / MaxVio, shares and weight distances, escaped; absent without growth', () => {
    const html = finetuneReportHtml({ ...report, growth });
    assert.match(html, /<h2>Growth<\/h2>/);
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /max \|logit − source logit\| <strong>0\.2500<\/strong>, mean 0\.01000, top-1 agreement 90\.0% over 4 sequences \(128 tokens\)/);
    assert.match(html, /Held-out perplexity<\/dt><dd>20\.000 → 10\.000/);
    assert.match(html, /<td>0<\/td><td>10, top-2<\/td><td>0\.5000 → 0\.2500<\/td><td>1\.2500 → 0\.5000<\/td>/);
    assert.match(html, /<td>5\.0% → 12\.5%<\/td><td>10\.0% → 7\.5%<\/td><td>source expert<\/td><td>0 → 0\.03120<\/td>/);
    assert.doesNotMatch(finetuneReportHtml(report), /<h2>Growth<\/h2>/);
    const { creation: _c, perplexity: _p, ...bare } = growth;
    assert.match(finetuneReportHtml({ ...report, growth: { ...bare, balance: [] } }), /not measured \(the grow operation ran with --no-eval\)[\s\S]*No held-out data/);
  });

  test('checkGrowth refuses what the page cannot draw, naming the field', () => {
    checkGrowth(growth);
    assert.throws(() => checkGrowth('x'), /growth is not an object/);
    assert.throws(() => checkGrowth({ ...growth, balance: {} }), /growth\.balance/);
    assert.throws(() => checkGrowth({ ...growth, experts: [{ layer: 0 }] }), /growth\.experts\[0\]\.weightChange/);
    assert.throws(() => checkGrowth({ ...growth, balance: [{ layer: 0, before: 1 }] }), /growth\.balance\[0\] has no before\/after/);
  });
});
