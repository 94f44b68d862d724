// The training panel's view model: plan → panel, panel edits → the finetune request, engine progress → steps.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrainSpec, resolveTrainSpecs } from '../../src/engine/training/trainSpec';
import { loadModelConfig } from '../../src/engine/model/parseConfig';
import { checkSelection, defaultSettings, etaMs, finetuneParams, outcomeView, planView, selectionLabel, stepPoint, trainSpecs } from '../../src/features/finetune/trainingView';
import type { FinetunePlan, FinetuneResult } from '../../src/protocol/engineProtocol';
import type { ModelInfo } from '../../src/protocol/modelInfo';
import { parseTrainingMessage } from '../../src/protocol/trainingPanelProtocol';
import { fixture } from '../support/paths';

const info = { name: 'm', path: '/models/m', moeLayers: [1, 3], numExperts: 4 } as unknown as ModelInfo;

const plan: FinetunePlan = {
  seqLen: 64,
  files: ['/d/a.txt'],
  sequences: 9,
  tokens: 576,
  trainedTargets: 567,
  chatRecords: 0,
  heldOut: 'every 10th training sequence (1 of 10)',
  selection: { method: 'esft-token', threshold: 0.2, layers: [{ layer: 1, scores: [0.5, 0.1, 0.3, 0.1], selected: [0] }, { layer: 3, scores: [0.1, 0.1, 0.1, 0.7], selected: [3] }] },
  experts: [[1, [0]], [3, [3]]],
  tensors: [],
  trainableParameters: 200,
  totalParameters: 10_000,
  otherParameters: 0,
  expertParameters: [[1, 100], [3, 100]],
  numExperts: 4,
  preview: [{ text: 'hi', masked: true }],
};

describe('training panel view model', () => {
  it('shows every MoE layer with its ESFT scores, selection and per-expert parameters', () => {
    const v = planView(info, plan, defaultSettings(plan, '/out'), 'ESFT-Token, threshold p = 0.2');
    assert.deepEqual(v.layers.map((l) => [l.layer, l.selected, l.scores, l.expertParameters]), [[1, [0], [0.5, 0.1, 0.3, 0.1], 100], [3, [3], [0.1, 0.1, 0.1, 0.7], 100]]);
    assert.equal(v.method, 'esft-token');
    assert.equal(v.settings.batchTokens, 256, 'default batch: 4 × seq-len, as the CLI');
    assert.equal(v.settings.warmup, 10);
    assert.deepEqual(v.data.preview, [{ text: 'hi', masked: true }]);
  });

  it('turns an edited selection into one experts= spec the engine parses, plus the other specs', () => {
    const specs = trainSpecs([[3, [2, 0, 2]], [1, [1]], [2, []]], ['routers']);
    assert.deepEqual(specs, ['experts=1:1,3:0,3:2', 'routers']);
    const s = parseTrainSpec(specs[0]!);
    assert.equal(s.kind, 'expert-list');
    assert.deepEqual(trainSpecs([[1, []]], []), []);
    // And a real model resolves it: mixtral fixture, layer 0 experts 1 and 3.
    const c = loadModelConfig(fixture('mixtral'));
    const set = resolveTrainSpecs(trainSpecs([[0, [3, 1]]], []), c);
    assert.deepEqual([...(set.experts.get(0) ?? [])].sort(), [1, 3]);
  });

  it('refuses selections naming missing layers or experts, or nothing at all', () => {
    assert.match(checkSelection([[2, [0]]], info, 0) ?? '', /layer 2 is not an MoE layer/);
    assert.match(checkSelection([[1, [4]]], info, 0) ?? '', /has no expert 4/);
    assert.match(checkSelection([[1, []]], info, 0) ?? '', /nothing is selected/);
    assert.equal(checkSelection([[1, []]], info, 50), undefined, 'routers alone are a selection');
    assert.equal(checkSelection([[1, [3]]], info, 0), undefined);
  });

  it('builds the finetune request from the settings', () => {
    const p = finetuneParams(['/d'], ['experts=1:0'], { ...defaultSettings(plan, '/out'), steps: 5, warmup: 1, adapterOnly: true }, 64, 'text');
    assert.equal(p.steps, 5);
    assert.equal(p.adapterOnly, true);
    assert.equal(p.document, 'text');
    assert.equal(p.seqLen, 64);
    assert.deepEqual(p.train, ['experts=1:0']);
  });

  it('reads steps from the engine progress, and only from train-stage metrics', () => {
    assert.deepEqual(stepPoint({ stage: 'train', done: 2, total: 5, metrics: { step: 2, loss: 3.5, tokensPerSecond: 100, lr: 1e-4, evalLoss: 3.6, gradNorm: 0.5 } }), { step: 2, loss: 3.5, tokensPerSecond: 100, lr: 1e-4, evalLoss: 3.6, gradNorm: 0.5 });
    assert.equal(stepPoint({ stage: 'write', done: 0, total: 1 }), undefined);
    assert.equal(stepPoint({ stage: 'train', done: 2, total: 5, metrics: { step: 2 } }), undefined);
  });

  it('estimates the time left from the pace so far', () => {
    assert.equal(etaMs(0, 10, 1000), undefined);
    assert.equal(etaMs(2, 10, 1000), 4000);
    assert.equal(etaMs(10, 10, 1000), 0);
  });

  it('summarises the outcome: stopped, report in the checkpoint, or in the adapter folder of an adapter-only run', () => {
    const r = { checkpointDir: '/out', adapterDir: '/out/adapter', steps: 3, stoppedAt: 3, trainedTensors: [], trainableParameters: 1, totalParameters: 2, experts: [], history: [], heldOut: '', routingDrift: [{ layer: 1, jaccard: 0.9 }], tokensPerSecond: 10, seconds: 2, evalBefore: 4, evalAfter: 3, top1Agreement: 0.8, meanKl: 0.01 } as FinetuneResult;
    const o = outcomeView(r, 10);
    assert.equal(o.stopped, true);
    assert.equal(o.reportFile, '/out/report.html');
    assert.equal(o.top1Agreement, 0.8);
    const a = outcomeView({ ...r, checkpointDir: undefined, adapterDir: '/ad', stoppedAt: undefined } as unknown as FinetuneResult, 10, undefined, 'adapter only');
    assert.equal(a.stopped, false);
    assert.equal(a.reportFile, '/ad/report.html');
    assert.equal(a.documentNote, 'adapter only');
  });

  it('labels the selection', () => {
    assert.equal(selectionLabel('esft-gate', 0.1, []), 'ESFT-Gate, threshold p = 0.1');
    assert.equal(selectionLabel(undefined, undefined, ['experts=1:0', 'routers']), 'experts=1:0 + routers');
  });

  it('accepts only well-formed panel messages', () => {
    const settings = defaultSettings(plan, '/out');
    assert.deepEqual(parseTrainingMessage({ type: 'start', selection: [[1, [0, 2]]], settings }), { type: 'start', selection: [[1, [0, 2]]], settings });
    assert.equal(parseTrainingMessage({ type: 'start', selection: [[1, [-1]]], settings }), undefined);
    assert.equal(parseTrainingMessage({ type: 'start', selection: [], settings: { ...settings, optimizer: 'lion' } }), undefined);
    assert.equal(parseTrainingMessage({ type: 'start', selection: [], settings: { ...settings, lr: Number.NaN } }), undefined);
    assert.deepEqual(parseTrainingMessage({ type: 'stop', extra: 1 }), { type: 'stop' });
    assert.equal(parseTrainingMessage({ type: 'eval' }), undefined);
    assert.equal(parseTrainingMessage('stop'), undefined);
  });
});
