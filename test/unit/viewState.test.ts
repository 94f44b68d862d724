// What the user is looking at survives selecting and clearing an expert: the colour mode comes back.
import * as assert from 'node:assert/strict';
import Module from 'node:module';
import { describe, it } from 'node:test';

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

type ModuleWithLoad = typeof Module & { _load(request: string, parent: unknown, isMain: boolean): unknown };

/** Loads a module that imports 'vscode' with the few APIs it uses faked. */
function withFakeVscode<T>(load: () => T): T {
  const M = Module as ModuleWithLoad;
  const original = M._load;
  M._load = function (request: string, parent: unknown, isMain: boolean): unknown {
    return request === 'vscode' ? { EventEmitter: FakeEmitter } : original.call(this, request, parent, isMain);
  };
  try {
    return load();
  } finally {
    M._load = original;
  }
}

const { ViewState } = withFakeVscode(() => require('../../src/features/viewState') as typeof import('../../src/features/viewState'));
const { COLOUR_MODES } = withFakeVscode(() => require('../../src/features/commands/viewCommands') as typeof import('../../src/features/commands/viewCommands'));

function memento(initial: Record<string, unknown> = {}) {
  const store = new Map(Object.entries(initial));
  return {
    store,
    get: <T>(key: string, fallback?: T): T => (store.has(key) ? (store.get(key) as T) : (fallback as T)),
    update: (key: string, value: unknown): Promise<void> => {
      store.set(key, value);
      return Promise.resolve();
    },
    keys: () => [...store.keys()],
  };
}

describe('view state', () => {
  it('selecting and clearing an expert returns to the colour mode the user had', () => {
    const m = memento();
    const v = new ViewState(m);
    v.setMode('entropy');
    v.selectExpert(2, 5);
    assert.equal(v.mode, 'selectedExpert');
    assert.equal(v.expert, 5);
    v.selectExpert(2, 6);
    v.selectExpert(2, undefined);
    assert.equal(v.mode, 'entropy', 'entropy colouring is kept');
    assert.equal(v.expert, undefined);
    v.setMode('expert');
    v.selectExpert(0, 1);
    v.selectExpert(0, undefined);
    assert.equal(v.mode, 'expert');
  });

  it('a mode chosen while an expert is selected stays when the selection is cleared', () => {
    const v = new ViewState(memento());
    v.selectExpert(0, 3);
    v.setMode('entropy');
    v.selectExpert(0, undefined);
    assert.equal(v.mode, 'entropy');
  });

  it('persists the mode to come back to, not the selection-only mode (the expert is not persisted)', () => {
    const m = memento();
    const v = new ViewState(m);
    v.setMode('entropy');
    v.selectExpert(1, 4);
    assert.deepEqual(m.store.get('moeWorkbench.viewState'), { layer: 1, mode: 'entropy' });
    const reloaded = new ViewState(m);
    assert.equal(reloaded.mode, 'entropy');
    assert.equal(reloaded.layer, 1);
  });

  it('the Colour By picker describes the entropy tint in words true in every theme', () => {
    const entropy = COLOUR_MODES.find((c) => c.mode === 'entropy')!;
    assert.doesNotMatch(entropy.detail, /darker/i, 'in dark themes a stronger tint is lighter');
    assert.match(entropy.detail, /Stronger tint = the router hesitates \(higher entropy\)/);
  });
});
