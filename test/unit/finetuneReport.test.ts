// The fine-tuning report page and routing drift: drift against hand-computed Jaccard indices; the page
// escapes every text (hostile strings in a report.json) and carries no script.
// Run: node --import tsx --test test/unit/finetuneReport.test.ts
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { routingDrift } from '../../src/engine/finetune/routingDrift';
import { type FinetuneReport, finetuneReportHtml } from '../../src/report/finetuneReport';

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
});
