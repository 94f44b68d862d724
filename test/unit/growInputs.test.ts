// The pure parts of "MoE: Add Experts…", "Duplicate Expert" and "Continue Training New Experts…": which models
// are offered, the checks of what the user types (count, listed sources, a layer's experts), the engine settings
// a choice makes (only what applies, as the CLI's flags), Duplicate's request and sentence, the folder names,
// and the preview page (strict CSP, escaped text, the sources and figures shown).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duplicateNote, duplicateSettings, growRefusal, growSettings, needsProfile, newExpertCount, parseLayerExperts, parseSourceList, routerItems, validateCount } from '../../src/features/grow/growInputs';
import { outputFolderName } from '../../src/features/operations/operationInputs';
import type { AddExpertsPreview } from '../../src/protocol/growProtocol';
import { addedText, addExpertsPreviewHtml } from '../../src/webviews/growPreview/addExpertsPreviewHtml';

const moe = { name: 'demo-model', modelType: 'mixtral', moeLayers: [0, 1, 2, 3], numExperts: 8 };

describe('grow inputs', () => {
  it('offers MoE models; a dense model is told to upcycle first', () => {
    assert.equal(growRefusal(moe), undefined);
    assert.match(growRefusal({ ...moe, name: 'tiny', modelType: 'qwen3', moeLayers: [], numExperts: 0 }) ?? '', /tiny is a dense qwen3 model: it has no experts to add to\. Upcycle it into an MoE first/);
    assert.match(growRefusal({ ...moe, numExperts: 4096 }) ?? '', /the most a layer can have \(4096\)/);
  });

  it('checks the count: a whole number from 1 to what the layers can still hold', () => {
    assert.equal(validateCount('1', 8), undefined);
    assert.equal(validateCount(' 16 ', 8), undefined);
    assert.match(validateCount('0', 8) ?? '', /at least 1/);
    assert.match(validateCount('1.5', 8) ?? '', /whole number/);
    assert.match(validateCount('4089', 8) ?? '', /At most 4088 more: a layer holds at most 4096 experts \(it has 8\)/);
  });

  it('parses listed sources: every MoE layer exactly count times, experts that exist', () => {
    assert.deepEqual(parseSourceList('0:1, 1:2 2:3,3:3', moe, 1), { list: [{ layer: 0, expert: 1 }, { layer: 1, expert: 2 }, { layer: 2, expert: 3 }, { layer: 3, expert: 3 }] });
    assert.match((parseSourceList('0:1, 1:2', moe, 1) as { error: string }).error, /Layer 2 has 0 sources; every MoE layer needs 1 \(one expert count for all layers\)/);
    assert.match((parseSourceList('0:1,0:1,1:0,2:0,3:0', moe, 1) as { error: string }).error, /Layer 0 has 2 sources; every MoE layer needs 1/);
    assert.match((parseSourceList('0:8,1:0,2:0,3:0', moe, 1) as { error: string }).error, /0:8: layer 0 has experts 0\.\.7/);
    assert.match((parseSourceList('5:0', moe, 1) as { error: string }).error, /layer 5 is not an MoE layer \(MoE layers: 0, 1, 2, 3\)/);
    assert.match((parseSourceList('0-1', moe, 1) as { error: string }).error, /"0-1" is not LAYER:EXPERT/);
    assert.match((parseSourceList('  ', moe, 2) as { error: string }).error, /Type 2 source experts per MoE layer/);
  });

  it("parses a layer's experts: count of them (repeats allowed), each an expert of the layer", () => {
    assert.deepEqual(parseLayerExperts('2, 2', 1, 8, 2), { experts: [2, 2] });
    assert.match((parseLayerExperts('2', 1, 8, 2) as { error: string }).error, /Type 2 expert numbers of layer 1 .* 1 given/);
    assert.match((parseLayerExperts('9', 1, 8, 1) as { error: string }).error, /Layer 1 has experts 0\.\.7/);
    assert.match((parseLayerExperts('x', 1, 8, 1) as { error: string }).error, /"x" is not an expert number/);
  });

  it('makes the engine settings: only what applies, the chosen layer as a list with the rest hot', () => {
    assert.deepEqual(growSettings({ count: 2, from: 'hot', method: 'copy', ratio: 0.3, router: 'copy', profileFile: '/p.json', data: ['/d'] }), { count: 2, from: 'hot', method: 'copy', router: 'copy', profileFile: '/p.json' });
    assert.deepEqual(growSettings({ count: 1, from: 'cold', method: 'noise', router: 'random', profileFile: '/p.json' }), { count: 1, from: 'cold', method: 'copy', router: 'random' }, 'cold has no method and no profile');
    assert.deepEqual(growSettings({ count: 1, from: 'layer', list: [{ layer: 1, expert: 2 }], method: 'drop', router: 'domain', data: ['/d'], profileFile: '/p.json' }), {
      count: 1,
      from: { list: [{ layer: 1, expert: 2 }], rest: 'hot' },
      method: 'drop',
      ratio: 0.5,
      router: 'domain',
      data: ['/d'],
      profileFile: '/p.json',
    });
    assert.deepEqual(growSettings({ count: 1, from: 'list', list: [{ layer: 0, expert: 0 }], method: 'noise', ratio: 0.25, router: 'copy' }), { count: 1, from: { list: [{ layer: 0, expert: 0 }] }, method: 'noise', ratio: 0.25, router: 'copy' });
    assert.equal(needsProfile('layer'), true);
    assert.equal(needsProfile('list'), false);
    assert.deepEqual(routerItems('cold').map((r) => r.router), ['random', 'domain'], 'a cold expert has no row to copy');
    assert.deepEqual(routerItems('hot').map((r) => r.router), ['copy', 'random', 'domain']);
  });

  it('Duplicate Expert: that expert, the other layers hot (with the profile), and says so', () => {
    assert.deepEqual(duplicateSettings(1, 2, 'copy', [0, 1, 2, 3], '/p.json'), { count: 1, from: { list: [{ layer: 1, expert: 2 }], rest: 'hot' }, method: 'copy', router: 'copy', profileFile: '/p.json' });
    assert.deepEqual(duplicateSettings(0, 5, 'noise', [0], undefined), { count: 1, from: { list: [{ layer: 0, expert: 5 }] }, method: 'noise', ratio: 0.5, router: 'copy' }, 'one MoE layer: no profile needed');
    assert.match(duplicateNote(1, 2, [0, 1, 2, 3]), /Expert 1:2 is copied \(weights and router row\)\. A Hugging Face config holds one expert count for all layers, so MoE layers 0, 2, 3 each get a copy of their most-used expert too\./);
    assert.equal(duplicateNote(0, 5, [0]), 'Expert 0:5 is copied (weights and router row).');
  });

  it('counts the recorded new experts, and names the output folders', () => {
    assert.equal(newExpertCount(undefined), 0);
    assert.equal(newExpertCount(new Map([[0, [8, 9]], [1, [8, 9]]])), 4);
    assert.equal(outputFolderName('demo-model', { operation: 'add-experts', count: 2, from: 'hot' }), 'demo-model-plus2-hot');
    assert.equal(outputFolderName('demo-model', { operation: 'duplicate', layer: 1, expert: 2 }), 'demo-model-dup-1-2');
  });
});

const EVIL = '<img src=x onerror=alert(1)>';

const preview = (over: Partial<AddExpertsPreview> = {}): AddExpertsPreview => ({
  parameters: { before: 1_000_000, after: 1_250_000, activeBefore: 400_000, activeAfter: 400_512 },
  bytes: { before: 2_000_000, after: 2_500_000 },
  source: { dir: `/m/${EVIL}`, name: `tiny${EVIL}`, modelType: 'mixtral' },
  settings: { count: 2, from: 'list+hot', method: 'copy', router: 'domain', ratio: 0.5, noiseStd: 0.02, dropMode: 'paper', seed: 0, data: [`/data/${EVIL}.txt`], profileFile: '/p.json' },
  numLayers: 2,
  moeLayers: [0, 1],
  oldExperts: 8,
  newExperts: 10,
  topK: 2,
  hiddenSize: 64,
  intermediate: 64,
  changedNeurons: 0,
  layers: [
    { layer: 0, added: [{ expert: 8, from: 3, rule: 'hot', sourceTokens: 1204 }, { expert: 9, from: 5, rule: 'hot' }] },
    { layer: 1, added: [{ expert: 8, from: 2, rule: 'list' }, { expert: 9, from: 2, rule: 'list' }] },
  ],
  functionPreservation: { exact: false, rule: `renormalised top-2: ${EVIL}` },
  ...over,
});

const cspOf = (html: string): string => (/http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '').replace(/&#39;/g, "'");

describe('add experts preview html', () => {
  it('has the strict CSP, escapes every text, and shows the new ids, their sources and the figures', () => {
    const html = addExpertsPreviewHtml(preview(), { nonce: 'N0nce', cspSource: 'https://webview.test' });
    assert.equal(cspOf(html), "default-src 'none'; style-src https://webview.test 'nonce-N0nce'; script-src 'nonce-N0nce'; form-action 'none'; base-uri 'none'");
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.doesNotMatch(html, /<img/, 'no unescaped text');
    assert.match(html, /mixtral: 8 → 10 experts in each of 2 MoE layers, top-2/);
    assert.match(html, /2 per MoE layer, ids 8–9; the old experts and router rows stay bit-identical/);
    assert.match(html, /the chosen experts; the other layers their most-used experts of the profile/);
    assert.match(html, /domain: the mean router input of <code>\/data\/&lt;img/);
    assert.equal((html.match(/<tr class="grow"/g) ?? []).length, 2);
    assert.match(html, /8 ← 3 \(most used: 1,204 tokens\)<\/span><br><span class="added">9 ← 5 \(most used\)/);
    assert.match(html, /8 ← 2 \(chosen\)/);
    assert.match(html, /data-action="write">Write Checkpoint…/);
    assert.match(html, /<p class="muted">Function: renormalised top-2: &lt;img/);
    assert.match(addExpertsPreviewHtml(preview({ functionPreservation: { exact: true, rule: 'renormalised top-1: preserved exactly' } })), /<p class="guarantee">Function: renormalised top-1/);
    assert.equal(addedText({ expert: 9, from: null, rule: 'cold' }), "9 ← cold (drawn from the layer's statistics)");
  });
});
