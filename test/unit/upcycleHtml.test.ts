// The upcycling preview (webview) and report (report.html): strict CSP (the preview's one script and the
// style by nonce; the report has no script at all), every text escaped, the copy guarantee stated, the
// figures and expert sources shown, and a report.json that is not an upcycling report refused.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpcyclePreview } from '../../src/protocol/engineProtocol';
import { upcycleReportHtml, type UpcycleReport, UPCYCLE_REPORT_FORMAT } from '../../src/report/upcycleReport';
import { layerSources, upcyclePreviewHtml } from '../../src/webviews/upcyclePreview/upcyclePreviewHtml';
import { withFakeVscode } from '../support/fakeVscode';

const { upcycleReportPage, isUpcycleReport } = withFakeVscode(() => require('../../src/webviews/upcyclePreview/upcycleReportPanel') as typeof import('../../src/webviews/upcyclePreview/upcycleReportPanel'));

const EVIL = '<img src=x onerror=alert(1)>';

const preview = (over: Partial<UpcyclePreview> = {}): UpcyclePreview => ({
  parameters: { before: 1_000_000, after: 3_000_000, activeBefore: 1_000_000, activeAfter: 1_500_000 },
  bytes: { before: 2_000_000, after: 6_000_000 },
  source: { dir: `/m/${EVIL}`, name: `tiny${EVIL}`, modelType: 'qwen3' },
  target: 'qwen3_moe',
  settings: { experts: 4, topK: 2, method: 'copy', ratio: 0.5, noiseStd: 0.02, dropMode: 'paper', router: 'kmeans', seed: 0, data: [`/data/${EVIL}.txt`] },
  numLayers: 3,
  moeLayers: [0, 2],
  hiddenSize: 64,
  denseIntermediate: 128,
  expertIntermediate: 128,
  changedNeurons: 0,
  routerStd: 0.02,
  functionPreserving: true,
  ...over,
});

const cspOf = (html: string): string => (/http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '').replace(/&#39;/g, "'");

describe('upcycle preview html', () => {
  it('has a strict CSP: the one script and the style by nonce, nothing loads, forms and base closed', () => {
    const html = upcyclePreviewHtml(preview(), { nonce: 'N0nce', cspSource: 'https://webview.test' });
    assert.equal(cspOf(html), "default-src 'none'; style-src https://webview.test 'nonce-N0nce'; script-src 'nonce-N0nce'; form-action 'none'; base-uri 'none'");
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.match(html, /<script nonce="N0nce">/);
    assert.doesNotMatch(html, / style="/, 'no inline style attributes');
    assert.doesNotMatch(html, /<[a-z][^>]*\son[a-z]+=/i, 'no inline handlers');
  });

  it('escapes every text from the model and the data paths', () => {
    const html = upcyclePreviewHtml(preview());
    assert.ok(!html.includes(EVIL), 'the markup never appears raw');
    assert.ok(html.includes('tiny&lt;img src=x onerror=alert(1)&gt;'));
  });

  it('shows families, parameters, active per token, disk size, the layers with their sources and the copy guarantee', () => {
    const html = upcyclePreviewHtml(preview());
    assert.match(html, /qwen3 → qwen3_moe/);
    assert.match(html, /1\.00M → 3\.00M/);
    assert.match(html, /1\.00M → 1\.50M/);
    assert.match(html, /1\.91 MiB → 5\.72 MiB/);
    assert.match(html, /Write Checkpoint…/);
    assert.match(html, /with renormalised top-k every token computes the dense MLP: the result equals the dense model; the measured difference is in the report/i);
    assert.equal((html.match(/<tr class="moe"/g) ?? []).length, 2);
    assert.match(html, /<tr class="dense" data-layer="1">/);
    assert.match(html, /experts 0–3: exact copies of model\.layers\.2\.mlp/);
    const noise = upcyclePreviewHtml(preview({ settings: { ...preview().settings, method: 'noise', router: 'random', data: [] }, changedNeurons: 64, functionPreserving: false }));
    assert.doesNotMatch(noise, /the result equals the dense model/);
    assert.match(noise, /changes the function by design/);
    assert.match(noise, /random: zero-mean uniform, std 0\.02<\/dd>/);
    assert.equal(layerSources(preview({ settings: { ...preview().settings, method: 'split' }, expertIntermediate: 32, partition: 'random' }), 0), 'experts 0–3: 32 of the 128 neurons of model.layers.0.mlp each (a seeded random partition)');
  });
});

const report = (over: Partial<UpcycleReport> = {}): UpcycleReport => ({
  format: UPCYCLE_REPORT_FORMAT,
  version: 1,
  createdAt: '2026-12-02T20:00:00.000Z',
  source: { dir: `/m/${EVIL}`, sha256: 'a'.repeat(64), modelType: 'llama' },
  output: { dir: `/o/${EVIL}`, modelType: 'mixtral' },
  method: 'split',
  seed: 3,
  settings: { experts: 2, topK: 1, router: 'random', routerStd: 0.02, partition: 'random', expertIntermediateSize: 64 },
  numLayers: 1,
  moeLayers: [0],
  figures: { parameters: { before: 100, after: 104, activeBefore: 100, activeAfter: 70 }, bytes: { before: 400, after: 416 } },
  functionPreserving: false,
  evaluation: { sequences: 4, tokens: 128, maxAbsLogitDiff: 0.5, meanAbsLogitDiff: 0.1, top1Agreement: 0.75 },
  experts: [{ layer: 0, experts: [{ expert: 0, from: `model.layers.0.mlp${EVIL}`, neurons: 64, firstNeurons: [5, 9] }, { expert: 1, from: 'model.layers.0.mlp', neurons: 64, firstNeurons: [0, 1] }] }],
  ...over,
});

describe('upcycle report html', () => {
  it('has no script at all and only the nonce style; every text is escaped', () => {
    const html = upcycleReportHtml(report(), { nonce: 'R' });
    assert.equal(cspOf(html), "default-src 'none'; style-src 'nonce-R'; form-action 'none'; base-uri 'none'");
    assert.doesNotMatch(html, /<script/);
    assert.ok(!html.includes(EVIL));
    assert.ok(html.includes('model.layers.0.mlp&lt;img'));
  });

  it('states the method, parameters, active per token, disk size, routers, the measured difference and the expert sources', () => {
    const html = upcycleReportHtml(report());
    assert.match(html, /llama → mixtral/);
    assert.match(html, /split \(LLaMA-MoE\): the dense neurons partitioned into 2 groups, at random/);
    assert.match(html, /Active per token<\/dt><dd>100 → 70/);
    assert.match(html, /400 B → 416 B/);
    assert.match(html, /random: zero-mean uniform, std 0\.02<\/dd>/);
    assert.match(html, /max \|logit − dense logit\| <strong>0\.5000<\/strong>, mean 0\.1000, top-1 agreement 75\.0% over 4 sequences \(128 tokens\)/);
    assert.match(html, /64 neurons: 5, 9, …/);
    assert.match(html, /changes the function by design/);
    const copy = upcycleReportHtml(report({ method: 'copy', functionPreserving: true, evaluation: { sequences: 4, tokens: 128, maxAbsLogitDiff: 2e-6, meanAbsLogitDiff: 1e-7, top1Agreement: 1 } }));
    assert.match(copy, /the result equals the dense model/);
    assert.match(copy, /Measured here: max \|Δlogit\| 2\.00e-6/);
  });

  it('draws a hostile "number" as a dash, not as markup', () => {
    const html = upcycleReportHtml(report({ figures: { parameters: { before: EVIL as unknown as number, after: 1, activeBefore: 1, activeAfter: 1 }, bytes: { before: 1, after: 1 } } }));
    assert.ok(!html.includes(EVIL));
  });
});

describe('upcycle report page (a report.json handed over)', () => {
  it('draws a version-1 upcycling report and refuses anything else, naming the file', () => {
    assert.match(upcycleReportPage(report(), '/x/report.json', 'https://webview.test'), /style-src https:\/\/webview\.test/);
    assert.equal(isUpcycleReport({ format: 'moe-workbench.finetune-report' }), false);
    for (const bad of [{ ...report(), version: 2 }, { ...report(), figures: null }, { ...report(), experts: 'x' }, { format: UPCYCLE_REPORT_FORMAT }]) {
      assert.throws(() => upcycleReportPage(bad, '/x/report.json'), /\/x\/report\.json is not a version-1 MoE Workbench upcycling report/);
    }
  });
});
