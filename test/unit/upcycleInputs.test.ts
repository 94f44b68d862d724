// The pure parts of "MoE: Upcycle to MoE…": which models are offered, the checks of what the user types,
// the default folder name and the settings sent to the engine (only what applies to the method).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputFolderName } from '../../src/features/operations/operationInputs';
import { canChooseLayers, defaultExperts, divisorsNear, needsData, parseLayers, upcycleRefusal, upcycleSettings, validateChangedRatio, validateExperts, validateNoiseStd, validateSeed, validateTopK } from '../../src/features/upcycle/upcycleInputs';

describe('upcycle inputs', () => {
  it('offers dense llama and qwen3 models; names the type of anything else and what is supported', () => {
    assert.equal(upcycleRefusal({ name: 'tiny', modelType: 'llama', moeLayers: [] }), undefined);
    assert.equal(upcycleRefusal({ name: 'tiny', modelType: 'qwen3', moeLayers: [] }), undefined);
    const moe = upcycleRefusal({ name: 'demo-model', modelType: 'mixtral', moeLayers: [0, 1, 2, 3] });
    assert.match(moe ?? '', /demo-model is a mixtral model that already has experts \(4 MoE layers\)/);
    assert.match(moe ?? '', /Supported: llama → mixtral, qwen3 → qwen3_moe/);
    assert.match(upcycleRefusal({ name: 'g', modelType: 'gpt2', moeLayers: [] }) ?? '', /g is a gpt2 model, which cannot be upcycled\. Supported: llama → mixtral/);
    assert.equal(canChooseLayers('qwen3'), true);
    assert.equal(canChooseLayers('llama'), false, 'Mixtral has no dense layers');
  });

  it('checks E (split must divide I, with the nearest divisors as a hint) and 1 ≤ K ≤ E', () => {
    assert.equal(validateExperts('8', 'copy', 128), undefined);
    assert.equal(validateExperts('7', 'copy', 128), undefined);
    assert.match(validateExperts('0', 'copy', 128) ?? '', /at least 1/);
    assert.match(validateExperts('x', 'copy', 128) ?? '', /whole number/);
    assert.match(validateExperts('5000', 'copy', 128) ?? '', /At most 4096/);
    assert.equal(validateExperts('16', 'split', 128), undefined);
    assert.match(validateExperts('6', 'split', 128) ?? '', /6 does not divide 128 \(try 4 or 8\)/);
    assert.match(validateExperts('256', 'split', 128) ?? '', /does not divide 128/);
    assert.deepEqual(divisorsNear(11008, 8), [4, 8], 'the two divisors nearest 8, in order');
    assert.equal(validateTopK('2', 8), undefined);
    assert.equal(validateTopK('8', 8), undefined);
    assert.match(validateTopK('9', 8) ?? '', /at most the number of experts \(8\)/);
    assert.match(validateTopK('0', 8) ?? '', /at least 1/);
    assert.equal(defaultExperts('copy', 128), 8);
    assert.equal(defaultExperts('split', 128), 8);
    assert.equal(defaultExperts('split', 100), 10, 'the divisor of 100 nearest 8');
  });

  it('checks ratios, the noise std and the seed', () => {
    assert.equal(validateChangedRatio('0.5'), undefined);
    assert.equal(validateChangedRatio('100%'), undefined);
    assert.match(validateChangedRatio('0') ?? '', /above 0/);
    assert.match(validateChangedRatio('1.5') ?? '', /at most 1/);
    assert.equal(validateNoiseStd('0.02'), undefined);
    assert.equal(validateNoiseStd('0'), undefined);
    assert.equal(validateNoiseStd('1e-3'), undefined);
    assert.match(validateNoiseStd('-1') ?? '', /≥ 0/);
    assert.equal(validateSeed('42'), undefined);
    assert.match(validateSeed('4294967296') ?? '', /0 to 4294967295/);
  });

  it('parses layers: all, lists and ranges within the model; the whole set is "all"', () => {
    assert.deepEqual(parseLayers('all', 4), { layers: 'all' });
    assert.deepEqual(parseLayers('', 4), { layers: 'all' });
    assert.deepEqual(parseLayers('3, 1', 4), { layers: [1, 3] });
    assert.deepEqual(parseLayers('1-2', 4), { layers: [1, 2] });
    assert.deepEqual(parseLayers('0-3', 4), { layers: 'all' });
    assert.match((parseLayers('4', 4) as { error: string }).error, /Layer 4 does not exist: the model has layers 0 to 3/);
    assert.match((parseLayers('3-1', 4) as { error: string }).error, /a range goes up/);
    assert.match((parseLayers('a', 4) as { error: string }).error, /"a" is not a layer number/);
  });

  it('sends only what applies to the method, and data only when k-means needs it', () => {
    const base = { experts: 8, topK: 2, router: 'random' as const, layers: 'all' as const, seed: 0, ratio: 0.3, noiseStd: 0.1, dropMode: 'reference-code' as const, data: ['/d'] };
    assert.deepEqual(upcycleSettings({ ...base, method: 'copy' }), { experts: 8, topK: 2, method: 'copy', router: 'random', layers: 'all', seed: 0 });
    assert.deepEqual(upcycleSettings({ ...base, method: 'noise' }), { experts: 8, topK: 2, method: 'noise', ratio: 0.3, noiseStd: 0.1, router: 'random', layers: 'all', seed: 0 });
    assert.deepEqual(upcycleSettings({ ...base, method: 'drop' }), { experts: 8, topK: 2, method: 'drop', ratio: 0.3, dropMode: 'reference-code', router: 'random', layers: 'all', seed: 0 });
    assert.deepEqual(upcycleSettings({ ...base, method: 'split', balancedSplit: true }).data, ['/d']);
    assert.equal(upcycleSettings({ ...base, method: 'split' }).data, undefined);
    assert.deepEqual(upcycleSettings({ ...base, method: 'copy', router: 'kmeans' }).data, ['/d']);
    assert.equal(needsData({ router: 'random', method: 'split', balancedSplit: false }), false);
    assert.equal(needsData({ router: 'kmeans', method: 'copy' }), true);
  });

  it('names the default output folder after the model, method, E and K', () => {
    assert.equal(outputFolderName('llama', { operation: 'upcycle', method: 'copy', experts: 8, topK: 2 }), 'llama-upcycled-copy-e8k2');
  });
});
