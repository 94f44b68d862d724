// The Expert Explorer's profile section, host side: the profile reduced to one statistic per layer and
// expert, following the ProfileStore; and the webview's 'selectStatistic' message.
import * as assert from 'node:assert/strict';
import Module from 'node:module';
import { describe, it } from 'node:test';
import { expertStatistic, STATISTIC_LABELS } from '../../src/engine/experts/expertStatistics';
import { EXPLORER_STATISTICS, isExpertStatistic, profileSection, ProfileSectionCache, type ProfileSource } from '../../src/features/explorer/profileSection';
import type { ExpertProfile, ExpertStatistic, LayerProfile } from '../../src/protocol/expertOps';
import type { ExplorerState } from '../../src/protocol/explorerProtocol';
import { parseExplorerMessage } from '../../src/webviews/expertExplorer/explorerMessages';

const ALL_STATISTICS = Object.keys(STATISTIC_LABELS) as ExpertStatistic[];

/** Layer `layer` of a 4-expert top-2 model over 10 tokens; expert 3 is never selected. */
function layerProfile(layer: number, scale: number): LayerProfile {
  const E = 4;
  return {
    layer,
    numExperts: E,
    topK: 2,
    tokens: 10,
    count: [8, 7, 5, 0],
    gateSum: [5.5, 3.5, 1, 0].map((v) => v * scale),
    probSum: [4, 3, 2, 1].map((v) => v * scale),
    eanSum: [16, 21, 5, 0].map((v) => v * scale),
    reapSum: [11, 10.5, 1, 0].map((v) => v * scale),
    maxNorm: [3, 4, 1.5, 0].map((v) => v * scale),
    logitSum: [1, 2, 3, 4],
    logitGram: Array.from({ length: E * E }, (_, i) => i + 0.5),
  };
}

function profile(name = 'tiny-moe'): ExpertProfile {
  return {
    format: 'moe-workbench.profile',
    version: 1,
    createdAt: '2025-01-01T00:00:00.000Z',
    model: { sha256: 'ab'.repeat(32), name, dir: '/models/tiny', modelType: 'mixtral' },
    data: { files: ['/data/calib.jsonl'], documents: [{ source: '/data/calib.jsonl', line: 1 }, { source: '/data/calib.jsonl', line: 2 }, { source: '/data/calib.jsonl', line: 3 }], sha256: 'cd'.repeat(32), chunkTokens: 512, chunks: 1, tokens: 10, truncated: false },
    runMs: 12,
    layers: [layerProfile(0, 1), layerProfile(2, 2)],
    sample: { tokens: ['SAMPLE-TOKEN'], doc: [0], offset: [0], experts: ['AAAA'], weights: ['AAAAAA=='] },
  };
}

/** A ProfileStore stand-in: the part the section reads. */
class FakeStore implements ProfileSource {
  current: { file: string; profile: ExpertProfile } | undefined;
  statistic: ExpertStatistic = 'reap';
}

describe('explorer profile section (host)', () => {
  it('holds, per layer and expert, exactly expertStatistic for every statistic', () => {
    const p = profile();
    for (const stat of ALL_STATISTICS) {
      const s = profileSection('/work/profiles/run.profile.json', p, stat);
      assert.equal(s.statistic, stat);
      assert.equal(s.statisticLabel, STATISTIC_LABELS[stat]);
      assert.deepEqual(s.layers.map((l) => l.layer), [0, 2]);
      s.layers.forEach((l, i) => assert.deepEqual(l.values, expertStatistic(p.layers[i]!, stat), `${stat}, layer ${l.layer}`));
    }
  });

  it('describes the profile and leaves the heavy parts behind', () => {
    const s = profileSection('/work/profiles/run.profile.json', profile(), 'frequency');
    assert.equal(s.file, 'run.profile.json');
    assert.equal(s.path, '/work/profiles/run.profile.json');
    assert.equal(s.model, 'tiny-moe');
    assert.equal(s.tokens, 10);
    assert.equal(s.documents, 3);
    assert.equal(s.truncated, false);
    assert.deepEqual(s.layers[0]!.values, [0.8, 0.7, 0.5, 0]);
    const json = JSON.stringify(s);
    assert.doesNotMatch(json, /SAMPLE-TOKEN|logitGram|logitSum|sha256|calib\.jsonl/);
  });

  it('offers every statistic once, with a short name and the definition', () => {
    assert.deepEqual(EXPLORER_STATISTICS.map((o) => o.id).sort(), [...ALL_STATISTICS].sort());
    assert.equal(EXPLORER_STATISTICS[0]!.id, 'reap', 'the default first');
    for (const o of EXPLORER_STATISTICS) {
      assert.equal(o.label, STATISTIC_LABELS[o.id]);
      assert.ok(o.name.length > 0 && o.name.length <= 20, o.name);
    }
    assert.ok(isExpertStatistic('gateMean'));
    for (const bad of ['toString', 'constructor', 'REAP', '', 3, undefined]) assert.equal(isExpertStatistic(bad), false, String(bad));
  });

  it('sends 0 for values JSON cannot carry', () => {
    const p = profile();
    const broken: ExpertProfile = { ...p, layers: [{ ...p.layers[0]!, gateSum: [Number.NaN, Infinity, 1, 0] }] };
    assert.deepEqual(profileSection('x', broken, 'gate').layers[0]!.values, [0, 0, 1, 0]);
  });

  it('follows the store: no profile, a profile, another statistic, another profile', () => {
    const store = new FakeStore();
    const cache = new ProfileSectionCache(store);
    assert.equal(cache.get(), undefined, 'no profile, no section');
    const p = profile();
    store.current = { file: '/a/one.json', profile: p };
    const first = cache.get();
    assert.equal(first?.statistic, 'reap');
    assert.deepEqual(first?.layers[1]!.values, expertStatistic(p.layers[1]!, 'reap'));
    assert.equal(cache.get(), first, 'unchanged store: the same section, not recomputed');
    store.statistic = 'maxNorm';
    const second = cache.get();
    assert.equal(second?.statistic, 'maxNorm');
    assert.deepEqual(second?.layers[1]!.values, [6, 8, 3, 0]);
    store.current = { file: '/a/two.json', profile: profile('other') };
    assert.equal(cache.get()?.model, 'other');
    assert.equal(cache.get()?.file, 'two.json');
    store.current = undefined;
    assert.equal(cache.get(), undefined);
  });
});

describe('selectStatistic message', () => {
  it('accepts known statistics only and copies nothing else', () => {
    assert.deepEqual(parseExplorerMessage({ type: 'selectStatistic', statistic: 'ean' }), { type: 'selectStatistic', statistic: 'ean' });
    assert.deepEqual(parseExplorerMessage({ type: 'selectStatistic', statistic: 'frequency', extra: 1 }), { type: 'selectStatistic', statistic: 'frequency' });
    for (const bad of [{ type: 'selectStatistic' }, { type: 'selectStatistic', statistic: 'nope' }, { type: 'selectStatistic', statistic: '__proto__' }, { type: 'selectStatistic', statistic: 1 }]) {
      assert.equal(parseExplorerMessage(bad), undefined, JSON.stringify(bad));
    }
  });
});

// ExplorerModel itself, with the few vscode APIs it touches faked (it runs in the extension host only).
class FakeEmitter<T> {
  private listeners = new Set<(e: T) => void>();
  readonly event = (listener: (e: T) => void): { dispose(): void } => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

const fakeVscode = {
  EventEmitter: FakeEmitter,
  window: { activeTextEditor: undefined, onDidChangeActiveTextEditor: () => ({ dispose: () => undefined }) },
  Uri: { parse: (s: string) => ({ path: new URL(s).pathname }) },
};

type ModuleWithLoad = typeof Module & { _load(request: string, parent: unknown, isMain: boolean): unknown };

/** Loads modules that import 'vscode' with the fake in its place. */
function withFakeVscode<T>(load: () => T): T {
  const M = Module as ModuleWithLoad;
  const original = M._load;
  M._load = function (request: string, parent: unknown, isMain: boolean): unknown {
    return request === 'vscode' ? fakeVscode : original.call(this, request, parent, isMain);
  };
  try {
    return load();
  } finally {
    M._load = original;
  }
}

describe('ExplorerModel with a profile', () => {
  const { ExplorerModel } = withFakeVscode(() => require('../../src/features/explorer/explorerModel') as typeof import('../../src/features/explorer/explorerModel'));
  const { ProfileStore } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));
  type Ctor = ConstructorParameters<typeof ExplorerModel>;

  function setup(withModel: boolean) {
    const none = () => ({ dispose: () => undefined });
    const annotations = { onDidChange: none, get: () => undefined } as unknown as Ctor[0];
    const info = { name: 'tiny-moe', numExperts: 4, topK: 2, moeLayers: [0, 2] };
    const models = { info: withModel ? info : undefined, state: { kind: 'idle' }, onDidChange: none } as unknown as Ctor[1];
    const selections: [number, number | undefined][] = [];
    const view = {
      expert: undefined,
      mode: 'expert',
      onDidChange: none,
      layerFor: (layers: readonly number[]) => layers[0],
      selectExpert: (layer: number, expert: number | undefined) => selections.push([layer, expert]),
      setLayer: () => undefined,
    } as unknown as Ctor[2];
    const profiles = new ProfileStore();
    const model = new ExplorerModel(annotations, models, view, profiles);
    let changes = 0;
    model.onDidChange(() => changes++);
    return { model, profiles, selections, changes: () => changes };
  }

  it('has no profile section without a profile', () => {
    const { model } = setup(true);
    const state: ExplorerState = model.current();
    assert.equal(state.profile, undefined);
    assert.ok(!('profile' in JSON.parse(JSON.stringify(state))));
  });

  it('adds the section when the store gets a profile, and follows the statistic', () => {
    const { model, profiles, changes } = setup(true);
    const p = profile();
    profiles.set({ file: '/w/run.profile.json', profile: p });
    assert.equal(changes(), 1, 'a profile change is a state change');
    let s = model.current().profile;
    assert.equal(s?.file, 'run.profile.json');
    assert.equal(s?.statistic, profiles.statistic);
    s?.layers.forEach((l, i) => assert.deepEqual(l.values, expertStatistic(p.layers[i]!, profiles.statistic)));
    model.handle({ type: 'selectStatistic', statistic: 'frequency' });
    assert.equal(profiles.statistic, 'frequency', 'the webview\'s choice goes to the store');
    assert.equal(changes(), 2);
    s = model.current().profile;
    assert.equal(s?.statistic, 'frequency');
    assert.deepEqual(s?.layers[0]!.values, [0.8, 0.7, 0.5, 0]);
    profiles.set(undefined);
    assert.equal(model.current().profile, undefined);
    model.dispose();
  });

  it('keeps the section without a model or document, and selects experts of any layer', () => {
    const { model, profiles, selections } = setup(false);
    profiles.set({ file: '/w/run.profile.json', profile: profile() });
    const state = model.current();
    assert.equal(state.model, undefined);
    assert.equal(state.profile?.layers.length, 2);
    model.handle({ type: 'selectExpert', layer: 2, expert: 1 });
    assert.deepEqual(selections, [[2, 1]]);
    model.dispose();
  });
});
