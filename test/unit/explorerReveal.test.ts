// "Show in Explorer" highlights a token's row in the document it was made in, and in no other: switching
// editors drops it, in the host's state and in the webview's handling of it.
import * as assert from 'node:assert/strict';
import Module from 'node:module';
import { describe, it } from 'node:test';
import type { DocumentRouting } from '../../src/features/annotation/documentRouting';
import { revealStep } from '../../webview/explorer/revealStep';

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

const activeEditorChanged = new FakeEmitter<unknown>();
const fakeWindow: { activeTextEditor: { document: { uri: { toString(): string } } } | undefined; onDidChangeActiveTextEditor: FakeEmitter<unknown>['event'] } = {
  activeTextEditor: undefined,
  onDidChangeActiveTextEditor: activeEditorChanged.event,
};
const fakeVscode = { EventEmitter: FakeEmitter, window: fakeWindow, Uri: { parse: (s: string) => ({ path: new URL(s).pathname }) } };

type ModuleWithLoad = typeof Module & { _load(request: string, parent: unknown, isMain: boolean): unknown };
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

const { ExplorerModel } = withFakeVscode(() => require('../../src/features/explorer/explorerModel') as typeof import('../../src/features/explorer/explorerModel'));
const { ProfileStore } = withFakeVscode(() => require('../../src/features/profile/profileStore') as typeof import('../../src/features/profile/profileStore'));
type Ctor = ConstructorParameters<typeof ExplorerModel>;

function routing(uri: string, T: number): DocumentRouting {
  return {
    uri,
    version: 1,
    tokens: Array.from({ length: T }, (_, t) => ({ id: t, text: `t${t}`, start: t, end: t + 1 })),
    layers: [{ layer: 0, experts: new Int32Array(T * 2).map((_, i) => i % 4), weights: new Float32Array(T * 2).fill(0.5), entropy: new Float32Array(T).fill(0.3) }],
    numExperts: 4,
    topK: 2,
    complete: true,
    known: new Uint8Array(T).fill(1),
  };
}

function setup() {
  const docs = new Map([['file:///w/a.prompt', routing('file:///w/a.prompt', 30)], ['file:///w/b.prompt', routing('file:///w/b.prompt', 30)]]);
  const annotationsChanged = new FakeEmitter<string>();
  const annotations = { onDidChange: annotationsChanged.event, get: (uri: string) => docs.get(uri) } as unknown as Ctor[0];
  const none = () => ({ dispose: () => undefined });
  const models = { info: { name: 'tiny-moe', numExperts: 4, topK: 2, moeLayers: [0] }, state: { kind: 'ready' }, onDidChange: none } as unknown as Ctor[1];
  const view = { expert: undefined, mode: 'expert', onDidChange: none, layerFor: (l: readonly number[]) => l[0] } as unknown as Ctor[2];
  const model = new ExplorerModel(annotations, models, view, new ProfileStore());
  const activate = (uri: string | undefined): void => {
    fakeWindow.activeTextEditor = uri === undefined ? undefined : { document: { uri: { toString: () => uri } } };
    activeEditorChanged.fire(undefined);
  };
  return { model, activate };
}

describe('Show in Explorer highlight belongs to its document', () => {
  it('is in the state of its document only, and dropped when another document is shown', () => {
    const { model, activate } = setup();
    activate('file:///w/a.prompt');
    model.revealToken('file:///w/a.prompt', 12);
    assert.equal(model.current().document?.name, 'a.prompt');
    assert.equal(model.current().revealedToken, 12);
    activate('file:///w/b.prompt');
    assert.equal(model.current().document?.name, 'b.prompt');
    assert.equal(model.current().revealedToken, undefined, 'b.prompt has no highlight');
    activate('file:///w/a.prompt');
    assert.equal(model.current().revealedToken, undefined, 'a one-shot reveal: coming back does not scroll again');
    model.dispose();
  });

  it('stays while the active editor is one the explorer does not show (an output panel, a settings page)', () => {
    const { model, activate } = setup();
    activate('file:///w/a.prompt');
    model.revealToken('file:///w/a.prompt', 3);
    activate('output:extension-output');
    activate(undefined);
    assert.equal(model.current().document?.name, 'a.prompt');
    assert.equal(model.current().revealedToken, 3);
    model.dispose();
  });

  it('a reveal in another document switches the explorer to it', () => {
    const { model, activate } = setup();
    activate('file:///w/a.prompt');
    model.revealToken('file:///w/b.prompt', 7);
    assert.equal(model.current().document?.name, 'b.prompt');
    assert.equal(model.current().revealedToken, 7);
    model.dispose();
  });

  it('the webview scrolls once per new reveal and drops its highlight when the host sends none', () => {
    assert.deepEqual(revealStep(undefined, 12), { scroll: true, highlight: 12 });
    assert.deepEqual(revealStep(12, 12), { scroll: false, highlight: 12 }, 'a repeated state does not scroll again');
    assert.deepEqual(revealStep(12, undefined), { scroll: false, highlight: undefined }, 'another document: no row stays highlighted');
    assert.deepEqual(revealStep(12, 4), { scroll: true, highlight: 4 });
  });
});
