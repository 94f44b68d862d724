// Pure logic of the training panel's webview (webview/training/*: no DOM): the selection draft and the
// trainable parameters it means, the settings checks, the loss chart's columns, the theme palette, the
// host messages and the figures' wording.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StepPoint, TrainingPlanView, TrainingSettings } from '../../src/protocol/trainingPanelProtocol';
import { parseTrainingMessage } from '../../src/protocol/trainingPanelProtocol';
import { chartPalette, GRID_PERCENT } from '../../webview/training/chartPalette';
import { chipScore, etaText, formatDuration, lossText, lrText, progressPercent, scorePercent, speedText, stepText } from '../../webview/training/format';
import { parseHostMessage } from '../../webview/training/hostMessages';
import { appendPoint, emptySeries, evalCount, lastEval, pointCount, recentRows, seriesFromPoints } from '../../webview/training/lossSeries';
import { agreementText, barPercent, lossChangeText, speedAndTimeText, stepsText } from '../../webview/training/outcomeText';
import { maskRuns } from '../../webview/training/previewRuns';
import { editedSelection, planKey, sameSelection, selectedCount, selectionEmpty, selectionFromPlan, toggleExpert, trainableParameters } from '../../webview/training/selection';
import { checkSettings, settingsInput, type SettingsInput } from '../../webview/training/settingsForm';

const SETTINGS: TrainingSettings = { steps: 100, lr: 1e-4, optimizer: 'adamw', schedule: 'cosine', warmup: 10, batchTokens: 1024, seed: 0, outDir: '/w/out', adapterOnly: false };

function plan(over: Partial<TrainingPlanView> = {}): TrainingPlanView {
  return {
    modelName: 'demo',
    modelDir: '/m/demo',
    selectionLabel: 'ESFT-Token, threshold p = 0.2',
    method: 'esft-token',
    threshold: 0.2,
    layers: [
      { layer: 1, numExperts: 4, scores: [0.5, 0.1, 0.3, 0.1], selected: [0, 2], expertParameters: 1000 },
      { layer: 3, numExperts: 4, selected: [1], expertParameters: 250 },
    ],
    otherParameters: 0,
    otherTensors: [],
    totalParameters: 100_000,
    data: { files: ['/d/a.txt'], sequences: 4, tokens: 512, trainedTargets: 500, chatRecords: 0, seqLen: 128, heldOut: 'every 10th', preview: [] },
    settings: SETTINGS,
    ...over,
  };
}

describe('selection draft', () => {
  it('starts from the host\'s proposal and counts the trainable parameters of what is selected', () => {
    const p = plan();
    const d = selectionFromPlan(p);
    assert.deepEqual(editedSelection(d), [[1, [0, 2]], [3, [1]]]);
    // 2 experts × 1000 + 1 × 250, of 100,000.
    assert.deepEqual(trainableParameters(p, d), { trainable: 2250, total: 100_000, share: 0.0225, experts: 3 });
  });

  it('toggles one expert at a time without touching the previous draft, and ignores chips the plan lacks', () => {
    const p = plan();
    const d0 = selectionFromPlan(p);
    const d1 = toggleExpert(p, d0, 3, 3);
    assert.deepEqual(editedSelection(d1), [[1, [0, 2]], [3, [1, 3]]]);
    assert.deepEqual(editedSelection(d0), [[1, [0, 2]], [3, [1]]], 'the old draft is unchanged');
    assert.equal(trainableParameters(p, d1).trainable, 2500);
    const d2 = toggleExpert(p, d1, 1, 0);
    assert.deepEqual(editedSelection(d2), [[1, [2]], [3, [1, 3]]]);
    assert.equal(trainableParameters(p, d2).trainable, 1500);
    assert.equal(toggleExpert(p, d2, 2, 0), d2, 'layer 2 is not an MoE layer of the plan');
    assert.equal(toggleExpert(p, d2, 1, 4), d2, 'layer 1 has 4 experts');
    assert.equal(toggleExpert(p, d2, 1, -1), d2);
    assert.equal(toggleExpert(p, d2, 1, 1.5), d2);
  });

  it('leaves out layers with no expert, sorts what the user clicked in any order, and passes the protocol check', () => {
    const p = plan();
    let d = selectionFromPlan(p);
    for (const [l, e] of [[1, 0], [1, 2], [3, 3], [3, 0], [3, 1]] as const) d = toggleExpert(p, d, l, e);
    const sel = editedSelection(d);
    assert.deepEqual(sel, [[3, [0, 3]]]);
    const msg = parseTrainingMessage(JSON.parse(JSON.stringify({ type: 'start', selection: sel, settings: SETTINGS })));
    assert.deepEqual(msg, { type: 'start', selection: [[3, [0, 3]]], settings: SETTINGS });
  });

  it('is empty only when no expert and no other tensor would train', () => {
    const p = plan();
    let d = selectionFromPlan(p);
    for (const [l, e] of [[1, 0], [1, 2], [3, 1]] as const) d = toggleExpert(p, d, l, e);
    assert.equal(selectedCount(d), 0);
    assert.equal(selectionEmpty(p, d), true);
    assert.equal(selectionEmpty(plan({ otherParameters: 64, otherTensors: ['routers'] }), d), false, 'the routers still train');
    assert.equal(trainableParameters(plan({ otherParameters: 64 }), d).trainable, 64);
  });

  it('tells a changed draft from the proposal (Reset) and drops out-of-range proposals', () => {
    const p = plan();
    const d = selectionFromPlan(p);
    assert.equal(sameSelection(d, selectionFromPlan(p)), true);
    const t = toggleExpert(p, d, 1, 1);
    assert.equal(sameSelection(t, d), false);
    assert.equal(sameSelection(toggleExpert(p, t, 1, 1), d), true);
    const bad = plan({ layers: [{ layer: 0, numExperts: 2, selected: [1, 5, -1], expertParameters: 10 }] });
    assert.deepEqual(editedSelection(selectionFromPlan(bad)), [[0, [1]]]);
  });

  it('keys a plan by what it proposes, not by its settings', () => {
    assert.equal(planKey(plan()), planKey(plan({ settings: { ...SETTINGS, steps: 5 } })));
    assert.notEqual(planKey(plan()), planKey(plan({ selectionLabel: 'listed experts (1:1)' })));
    assert.notEqual(planKey(plan()), planKey(plan({ layers: [{ layer: 1, numExperts: 4, selected: [0], expertParameters: 1000 }] })));
  });
});

describe('settings checks', () => {
  const ok = settingsInput(SETTINGS);
  const check = (over: Partial<SettingsInput>) => checkSettings({ ...ok, ...over });

  it('gives back the host\'s settings unchanged', () => {
    assert.deepEqual(checkSettings(ok), { errors: {}, settings: SETTINGS });
    assert.deepEqual(check({ lr: ' 3e-5 ', steps: ' 7 ', warmup: '0', outDir: '  /x/y  ', optimizer: 'sgd', schedule: 'constant', adapterOnly: true }).settings, { ...SETTINGS, lr: 3e-5, steps: 7, warmup: 0, outDir: '/x/y', optimizer: 'sgd', schedule: 'constant', adapterOnly: true });
    assert.equal(check({ lr: '.5' }).settings?.lr, 0.5);
  });

  it('wants whole positive step and batch counts in plain digits', () => {
    for (const steps of ['0', '-1', '1.5', '1e3', '0x10', '', ' ', 'ten', '99999999999999999999']) {
      const r = check({ steps });
      assert.equal(r.settings, undefined, steps);
      assert.match(r.errors.steps ?? '', /whole number/, steps);
    }
    assert.match(check({ batchTokens: '0' }).errors.batchTokens ?? '', /at least 1/);
    assert.match(check({ seed: '-3' }).errors.seed ?? '', /whole number/);
    assert.equal(check({ seed: '0' }).errors.seed, undefined);
  });

  it('wants a finite learning rate above 0', () => {
    for (const lr of ['0', '-1e-4', 'NaN', 'Infinity', '1e999', '', 'abc', '0x1', '1e-4e2']) assert.ok(check({ lr }).errors.lr, lr);
    assert.equal(check({ lr: '1E-3' }).errors.lr, undefined);
  });

  it('wants a warm-up shorter than the run, and names both', () => {
    assert.equal(check({ steps: '10', warmup: '9' }).errors.warmup, undefined);
    assert.equal(check({ steps: '10', warmup: '10' }).errors.warmup, 'Warm-up must be fewer steps than the run (10).');
    assert.match(check({ warmup: '-1' }).errors.warmup ?? '', /whole number/);
    assert.deepEqual(Object.keys(check({ steps: 'x', warmup: '500' }).errors), ['steps'], 'no warm-up complaint against a missing step count');
  });

  it('wants an output folder and a known optimizer and schedule', () => {
    assert.ok(check({ outDir: '   ' }).errors.outDir);
    assert.ok(check({ optimizer: 'adam' }).errors.optimizer);
    assert.ok(check({ schedule: 'linear' }).errors.schedule);
    assert.ok(check({ optimizer: '' }).errors.optimizer, 'a select that has not rendered its value');
  });
});

const pt = (step: number, loss: number, evalLoss?: number): StepPoint => ({ step, loss, tokensPerSecond: 100, lr: 1e-4, ...(evalLoss === undefined ? {} : { evalLoss }) });

describe('loss chart columns', () => {
  it('appends steps with held-out loss only where it was evaluated', () => {
    const s = seriesFromPoints([pt(1, 3), pt(2, 2.5), pt(3, 2.2, 2.4)]);
    assert.deepEqual(s.steps, [1, 2, 3]);
    assert.deepEqual(s.train, [3, 2.5, 2.2]);
    assert.deepEqual(s.evalLoss, [null, null, 2.4]);
    assert.deepEqual(s.lr, [1e-4, 1e-4, 1e-4]);
    assert.equal(pointCount(s), 3);
    assert.equal(evalCount(s), 1);
    assert.deepEqual(lastEval(s), { step: 3, loss: 2.4 });
    appendPoint(s, pt(4, 2));
    assert.equal(pointCount(s), 4);
    assert.deepEqual(lastEval(s), { step: 3, loss: 2.4 }, 'the last evaluated step, not the last step');
  });

  it('merges a replayed step instead of plotting it twice; a later held-out loss fills its gap, never erases one', () => {
    const s = seriesFromPoints([pt(1, 3), pt(2, 2.5)]);
    appendPoint(s, pt(2, 2.5, 2.7));
    assert.deepEqual(s.steps, [1, 2]);
    assert.deepEqual(s.evalLoss, [null, 2.7]);
    appendPoint(s, pt(2, 2.5));
    assert.deepEqual(s.evalLoss, [null, 2.7]);
  });

  it('keeps x ascending when a step arrives out of order', () => {
    const s = seriesFromPoints([pt(1, 3), pt(4, 2), pt(2, 2.8), pt(3, 2.5, 2.6)]);
    assert.deepEqual(s.steps, [1, 2, 3, 4]);
    assert.deepEqual(s.train, [3, 2.8, 2.5, 2]);
    assert.deepEqual(s.evalLoss, [null, null, 2.6, null]);
  });

  it('plots a diverged (NaN / infinite) loss as a gap, and ignores a step that is not a number', () => {
    const s = seriesFromPoints([pt(1, 3), pt(2, Number.NaN), pt(3, Number.POSITIVE_INFINITY, Number.NaN)]);
    assert.deepEqual(s.train, [3, null, null]);
    assert.deepEqual(s.evalLoss, [null, null, null]);
    appendPoint(s, pt(Number.NaN, 1));
    assert.equal(pointCount(s), 3);
  });

  it('gives the text alternative the last rows, newest last', () => {
    const s = seriesFromPoints(Array.from({ length: 8 }, (_, i) => pt(i + 1, 10 - i, i === 6 ? 5 : undefined)));
    assert.deepEqual(recentRows(s, 3), [{ step: 6, train: 5, evalLoss: null }, { step: 7, train: 4, evalLoss: 5 }, { step: 8, train: 3, evalLoss: null }]);
    assert.deepEqual(recentRows(emptySeries(), 3), []);
  });
});

describe('chart palette', () => {
  it('takes the theme\'s chart colours and mixes a faint grid from foreground and background', () => {
    const vars: Record<string, string> = { '--vscode-charts-blue': '#3794ff', '--vscode-charts-orange': ' #d18616 ', '--vscode-foreground': '#ffffff', '--vscode-editor-background': '#000000', '--vscode-descriptionForeground': '#9d9d9d' };
    const p = chartPalette((n) => vars[n] ?? '');
    assert.equal(p.train, '#3794ff');
    assert.equal(p.evalLoss, '#d18616');
    assert.equal(p.axis, '#9d9d9d');
    const g = Math.round((255 * GRID_PERCENT) / 100);
    assert.equal(p.grid, `rgb(${g}, ${g}, ${g})`);
  });

  it('falls back to visible colours when the variables are missing', () => {
    const p = chartPalette(() => '');
    for (const c of [p.train, p.evalLoss, p.lr, p.axis, p.grid, p.font]) assert.notEqual(c.trim(), '');
    assert.notEqual(p.train, p.evalLoss);
  });
});

describe('host messages', () => {
  const state = { phase: 'setup', plan: plan() };
  it('accepts the three message types', () => {
    assert.equal(parseHostMessage({ type: 'state', state })?.type, 'state');
    assert.equal(parseHostMessage({ type: 'state', state: { phase: 'planning' } })?.type, 'state');
    assert.equal(parseHostMessage({ type: 'step', point: pt(3, 2), etaMs: 500 })?.type, 'step');
    assert.equal(parseHostMessage({ type: 'step', point: pt(3, Number.NaN) })?.type, 'step', 'a NaN loss is news, not a malformed message');
    assert.equal(parseHostMessage({ type: 'stage', stage: 'writing the checkpoint' })?.type, 'stage');
  });

  it('drops malformed ones', () => {
    for (const bad of [
      null, 'state', [], {}, { type: 'nope' }, { type: 'state' }, { type: 'state', state: { phase: 'training' } },
      { type: 'state', state: { phase: 'setup', plan: { layers: 'x' } } },
      { type: 'state', state: { phase: 'running', run: { totalSteps: 3, startedAt: 0, points: [{ step: 1 }] } } },
      { type: 'state', state: { phase: 'done', outcome: { steps: 1 } } },
      { type: 'state', state: { phase: 'failed', error: 42 } },
      { type: 'step', point: { step: '1', loss: 1, tokensPerSecond: 1, lr: 1 } }, { type: 'step', point: pt(1, 1), etaMs: '3' },
      { type: 'stage' }, { type: 'stage', stage: 3 },
    ]) assert.equal(parseHostMessage(bad), undefined, JSON.stringify(bad));
  });
});

describe('figures', () => {
  it('formats durations and counts the ETA down from when it was estimated', () => {
    assert.equal(formatDuration(42_400), '42 s');
    assert.equal(formatDuration(185_000), '3 min 05 s');
    assert.equal(formatDuration(3_720_000), '1 h 02 min');
    assert.equal(formatDuration(undefined), '—');
    assert.equal(formatDuration(-1), '—');
    assert.equal(etaText(185_000, 0), 'about 3 min 05 s left');
    assert.equal(etaText(185_000, 60_000), 'about 2 min 05 s left');
    assert.equal(etaText(5_000, 9_000), 'finishing');
    assert.equal(etaText(undefined, 0), '—');
  });

  it('says where the run is', () => {
    assert.equal(stepText(12, 1000), 'step 12 of 1,000');
    assert.equal(progressPercent(12, 1000), 1);
    assert.equal(progressPercent(37, 50), 74);
    assert.equal(progressPercent(60, 50), 100);
    assert.equal(progressPercent(3, 0), 0);
    assert.equal(speedText(1234.6), '1,235 tokens/s');
    assert.equal(speedText(Number.NaN), '—');
    assert.equal(lossText(2.34567), '2.3457');
    assert.equal(lossText(Number.NaN), 'NaN');
    assert.equal(lossText(Number.POSITIVE_INFINITY), '∞');
    assert.equal(lrText(1e-4), '1e-4');
    assert.equal(lrText(2.5e-5), '2.5e-5');
    assert.equal(lrText(0.05), '0.05');
    assert.equal(lrText(0), '0');
  });

  it('shows ESFT scores on chips and scales their bars to the layer\'s best', () => {
    assert.equal(chipScore(0.2345), '0.23');
    assert.equal(chipScore(0.004), '<0.01');
    assert.equal(chipScore(0), '0');
    assert.equal(chipScore(undefined), '—');
    assert.equal(scorePercent(0.25, 0.5), 50);
    assert.equal(scorePercent(0.5, 0.5), 100);
    assert.equal(scorePercent(0.0001, 0.5), 1, 'a non-zero score stays visible');
    assert.equal(scorePercent(0, 0.5), 0);
    assert.equal(scorePercent(0.3, 0), 0);
  });

  it('words the outcome', () => {
    assert.equal(stepsText({ steps: 37, totalSteps: 400, stopped: true }), 'Stopped by you after step 37 of 400');
    assert.equal(stepsText({ steps: 1, totalSteps: 1, stopped: false }), '1 step');
    assert.equal(stepsText({ steps: 1000, totalSteps: 1000, stopped: false }), '1,000 steps');
    assert.equal(lossChangeText(2, 1), `2.0000 → 1.0000 (-50.0%), perplexity ${Math.exp(2).toFixed(3)} → ${Math.exp(1).toFixed(3)}`);
    assert.equal(lossChangeText(undefined, 1), undefined);
    assert.equal(agreementText({ top1Agreement: 0.931, meanKl: 0.0123 }), '93.1% of next-token predictions unchanged, mean KL 0.0123 nats');
    assert.equal(agreementText({}), undefined);
    assert.equal(speedAndTimeText({ tokensPerSecond: 830, seconds: 95 }), '830 tokens/s · 1 min 35 s');
    assert.equal(barPercent(0.934), 93);
    assert.equal(barPercent(1.5), 100);
    assert.equal(barPercent(Number.NaN), 0);
  });

  it('groups the preview by the chat mask', () => {
    const runs = maskRuns([
      { text: '<|user|>', masked: true }, { text: ' hi', masked: true }, { text: '<|assistant|>', masked: true }, { text: ' Hello', masked: false }, { text: '!', masked: false }, { text: '<|user|>', masked: true },
    ]);
    assert.deepEqual(runs, [{ masked: true, text: '<|user|> hi<|assistant|>' }, { masked: false, text: ' Hello!' }, { masked: true, text: '<|user|>' }]);
    assert.deepEqual(maskRuns([]), []);
  });
});
