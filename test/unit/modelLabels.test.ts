// How the views name a model and its experts (issue #8, 4.3 and 4.8): "(untrained)" wherever the demo model
// is named, "orig. 5" / "orig. 5+7" beside a pruned or merged model's renumbered experts. The Model tree, its
// view title and the status bar run here with the few vscode APIs they touch faked.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelState } from '../../src/features/model/modelManager';
import { escapeMarkdown, layerOrigins, modelDisplayName, modelNotes, originLine, originSuffix, sourceIds } from '../../src/features/model/modelLabels';
import type { ExpertOrigins, ModelInfo } from '../../src/protocol/modelInfo';
import { FakeEmitter, statusBarItems, treeViews, withFakeVscode } from '../support/fakeVscode';

const { ModelTreeProvider } = withFakeVscode(() => require('../../src/features/modelTree/modelTreeProvider') as typeof import('../../src/features/modelTree/modelTreeProvider'));
const { createModelTreeView } = withFakeVscode(() => require('../../src/features/modelTree/modelTreeView') as typeof import('../../src/features/modelTree/modelTreeView'));
const { ModelStatusBar } = withFakeVscode(() => require('../../src/features/model/modelStatusBar') as typeof import('../../src/features/model/modelStatusBar'));
const { ProfileStore } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));

const merged: ExpertOrigins = { operation: 'merge', source: '/m/src', layers: [{ layer: 0, experts: [[5, 7], [2], [0, 1, 3]] }, { layer: 1, experts: [[1], [4, 6], [3]] }] };
const pruned: ExpertOrigins = { operation: 'prune', source: '/m/src_model', layers: [{ layer: 0, experts: [[3], [0], [5]] }, { layer: 1, experts: [[1], [2], [7]] }] };

function info(extra: Partial<ModelInfo> = {}): ModelInfo {
  return { name: 'tiny', path: '/m/tiny', architecture: 'MixtralForCausalLM', moeLayers: [0, 1], numExperts: 3, topK: 2, routing: 'softmax -> top-2 -> renormalise', ...extra } as ModelInfo;
}

describe('model and expert labels', () => {
  it('names an untrained model as such, and a trained one by its name', () => {
    assert.equal(modelDisplayName(info({ untrained: { note: 'random weights' } })), 'tiny (untrained)');
    assert.equal(modelDisplayName(info()), 'tiny');
    const notes = modelNotes(info({ untrained: { note: 'random weights' } }));
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /^Untrained model \(random weights\)/);
    assert.deepEqual(modelNotes(info()), []);
  });

  it('gives source ids of pruned and merged experts', () => {
    assert.deepEqual(sourceIds(merged, 0, 0), [5, 7]);
    assert.equal(sourceIds(merged, 2, 0), undefined, 'not a MoE layer');
    assert.equal(sourceIds(undefined, 0, 0), undefined);
    assert.equal(originSuffix(merged, 0, 0), ' (orig. 5+7)');
    assert.equal(originSuffix(pruned, 0, 1), ' (orig. 0)');
    assert.equal(originSuffix(undefined, 0, 1), '');
    assert.deepEqual(layerOrigins(merged, 1), ['1', '4+6', '3']);
    assert.equal(layerOrigins(merged, undefined), undefined);
    assert.equal(layerOrigins(undefined, 0), undefined);
    assert.equal(originLine(pruned, 1, 2), 'Expert 7 of layer 1 in /m/src_model.');
    assert.equal(originLine(merged, 0, 2), "Merged from experts 0+1+3 of layer 0 in /m/src (routed by expert 0's router row).");
    assert.match(modelNotes(info({ expertOrigins: merged }))[0]!, /^Merged from \/m\/src: experts are renumbered/);
  });

  it('escapes Markdown in names and paths', () => {
    assert.equal(escapeMarkdown('my_model*[x](y)'), 'my\\_model\\*\\[x\\]\\(y\\)');
  });
});

function fakeModels(i: ModelInfo | undefined) {
  const emitter = new FakeEmitter<ModelState>();
  const state: ModelState = i ? { kind: 'ready', dir: i.path, info: i } : { kind: 'none' };
  return { info: i, state, onDidChange: emitter.event, emitter };
}

const stats = { tokens: 0, counts: (_l: number, E: number) => new Array<number>(E).fill(0), onDidChange: new FakeEmitter<void>().event };

function tree(i: ModelInfo) {
  type Ctor = ConstructorParameters<typeof ModelTreeProvider>;
  return new ModelTreeProvider(fakeModels(i) as unknown as Ctor[0], stats as unknown as Ctor[1], new ProfileStore());
}

describe('Model tree', () => {
  it('shows a pruned model\'s experts with their source ids', () => {
    const t = tree(info({ expertOrigins: pruned }));
    const items = t.getChildren({ kind: 'layer', layer: 0 }).map((n) => t.getTreeItem(n));
    assert.deepEqual(items.map((x) => x.label), ['Expert 0 (orig. 3)', 'Expert 1 (orig. 0)', 'Expert 2 (orig. 5)']);
    const tip = (items[0]!.tooltip as { value: string }).value;
    assert.match(tip, /Expert 3 of layer 0 in \/m\/src\\_model\./);
    const layer = t.getTreeItem({ kind: 'layer', layer: 1 });
    assert.match(String(layer.tooltip), /Pruned from \/m\/src_model: experts are renumbered/);
  });

  it('shows a merged model\'s groups', () => {
    const t = tree(info({ expertOrigins: merged }));
    assert.deepEqual(t.getChildren({ kind: 'layer', layer: 1 }).map((n) => t.getTreeItem(n).label), ['Expert 0 (orig. 1)', 'Expert 1 (orig. 4+6)', 'Expert 2 (orig. 3)']);
  });

  it('shows plain ids for a model that was not pruned or merged', () => {
    const t = tree(info());
    assert.deepEqual(t.getChildren({ kind: 'layer', layer: 0 }).map((n) => t.getTreeItem(n).label), ['Expert 0', 'Expert 1', 'Expert 2']);
  });

  it('titles the view with the model name, "(untrained)" and a message saying what that means', () => {
    const i = info({ name: 'demo-model', untrained: { note: 'random weights, not trained' } });
    const models = fakeModels(i);
    type Ctor = ConstructorParameters<typeof ModelTreeProvider>;
    const d = createModelTreeView('moeWorkbench.modelTree', new ModelTreeProvider(models as unknown as Ctor[0], stats as unknown as Ctor[1], new ProfileStore()), models as unknown as Ctor[0]);
    const view = treeViews.at(-1)!;
    assert.equal(view.description, 'demo-model (untrained)');
    assert.match(view.message ?? '', /Untrained model \(random weights, not trained\)/);
    models.info = undefined;
    models.emitter.fire({ kind: 'none' });
    assert.equal(view.description, undefined);
    assert.equal(view.message, undefined);
    d.dispose();
  });
});

describe('status bar', () => {
  it('says "untrained" after the name and shape, and explains it in the tooltip', () => {
    const i = info({ name: 'demo-model', numExperts: 8, moeLayers: [0, 1, 2, 3], untrained: { note: 'random weights, not trained' }, warnings: ['/m/x/moe_workbench.json is not valid JSON'] });
    type Ctor = ConstructorParameters<typeof ModelStatusBar>;
    const bar = new ModelStatusBar(fakeModels(i) as unknown as Ctor[0]);
    const item = statusBarItems.at(-1)!;
    assert.equal(item.text, '$(circuit-board) demo-model · 8×4 top-2 · untrained');
    const tip = (item.tooltip as { value: string }).value;
    assert.match(tip, /^\*\*demo-model \\\(untrained\\\)\*\*/);
    assert.match(tip, /Untrained model \\\(random weights, not trained\\\)/);
    assert.match(tip, /⚠ \/m\/x\/moe\\_workbench\.json is not valid JSON/);
    bar.dispose();
  });

  it('names a trained model without a note', () => {
    type Ctor = ConstructorParameters<typeof ModelStatusBar>;
    const bar = new ModelStatusBar(fakeModels(info()) as unknown as Ctor[0]);
    const item = statusBarItems.at(-1)!;
    assert.equal(item.text, '$(circuit-board) tiny · 3×2 top-2');
    assert.doesNotMatch((item.tooltip as { value: string }).value, /ntrained/);
    bar.dispose();
  });
});
