// The Expert Explorer names an untrained model as such and gives a pruned or merged model's experts their
// source ids (issue #8, 4.3 and 4.8): the host's state, and the heatmap's column hover card and label.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExpertOrigins, ModelInfo } from '../../src/protocol/modelInfo';
import { EMPTY_HEATMAP, originOf, tooltipLines, type HeatmapData } from '../../webview/explorer/heatmapData';
import { FakeEmitter, withFakeVscode } from '../support/fakeVscode';

const { ExplorerModel } = withFakeVscode(() => require('../../src/features/explorer/explorerModel') as typeof import('../../src/features/explorer/explorerModel'));
const { ProfileStore } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));

const origins: ExpertOrigins = { operation: 'merge', source: '/m/src', layers: [{ layer: 0, experts: [[5, 7], [2], [0, 1]] }, { layer: 2, experts: [[3], [4], [6]] }] };

function state(extra: Partial<ModelInfo>, layer: number) {
  type Ctor = ConstructorParameters<typeof ExplorerModel>;
  const none = new FakeEmitter<unknown>().event;
  const info = { name: 'tiny', path: '/m/tiny', numExperts: 3, topK: 2, moeLayers: [0, 2], ...extra };
  const annotations = { onDidChange: none, get: () => undefined } as unknown as Ctor[0];
  const models = { info, state: { kind: 'ready', dir: info.path, info }, onDidChange: none } as unknown as Ctor[1];
  const view = { expert: undefined, mode: 'expert', onDidChange: none, layerFor: () => layer } as unknown as Ctor[2];
  const m = new ExplorerModel(annotations, models, view, new ProfileStore());
  const s = m.current();
  m.dispose();
  return s;
}

describe('explorer state: model notes', () => {
  it('carries the selected layer\'s source ids of a merged model', () => {
    assert.deepEqual(state({ expertOrigins: origins }, 0).model?.origins, ['5+7', '2', '0+1']);
    assert.deepEqual(state({ expertOrigins: origins }, 2).model?.origins, ['3', '4', '6']);
  });

  it('says when the model is untrained', () => {
    assert.match(state({ untrained: { note: 'random weights' } }, 0).model?.untrained ?? '', /^Untrained model \(random weights\)/);
  });

  it('has neither for an ordinary model (and no keys in the message)', () => {
    const model = JSON.parse(JSON.stringify(state({}, 0).model)) as Record<string, unknown>;
    assert.ok(!('origins' in model) && !('untrained' in model), JSON.stringify(model));
  });
});

describe('heatmap: source ids', () => {
  const data: HeatmapData = {
    ...EMPTY_HEATMAP,
    tokens: [{ text: 'a', id: 1 }],
    known: [true],
    routing: [[[0, 0.75], [2, 0.25]]],
    load: [1, 0, 1],
    numExperts: 3,
    layer: 0,
    origins: ['5+7', '2', '0+1'],
  };
  it('names the column\'s source experts in its hover card and cells', () => {
    assert.equal(tooltipLines(data, { row: 0, col: 1 })[0]?.text, 'Expert 0 (orig. 5+7)');
    assert.equal(tooltipLines(data, { row: 1, col: 3 })[1]?.text, 'Expert 2 (orig. 0+1) · weight 0.250');
    assert.equal(tooltipLines(data, { row: 1, col: 2 })[1]?.text, 'Expert 1 (orig. 2) · not selected');
  });

  it('adds nothing without origins', () => {
    const plain = { ...data, origins: undefined };
    assert.equal(tooltipLines(plain, { row: 0, col: 1 })[0]?.text, 'Expert 0');
    assert.equal(originOf(plain, 0), '');
    assert.equal(originOf(data, 9), '', 'an expert beyond the list');
  });
});
