// The few vscode APIs that host-side feature classes touch at construction and render time, faked so
// those classes run in plain Node (the real behaviour is covered by the e2e suite in VS Code).
import Module from 'node:module';

export class FakeEmitter<T> {
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

class MarkdownString {
  constructor(public value = '') {}
}

class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string | MarkdownString;
  contextValue?: string;
  iconPath?: unknown;
  command?: unknown;
  constructor(
    public label: string,
    public collapsibleState?: number,
  ) {}
}

class ThemeIcon {
  constructor(
    public id: string,
    public color?: unknown,
  ) {}
}

class ThemeColor {
  constructor(public id: string) {}
}

/** A status bar item that records what it was last given. */
export interface FakeStatusBarItem {
  text: string;
  tooltip: string | MarkdownString | undefined;
  name?: string;
  command?: unknown;
  backgroundColor?: unknown;
  show(): void;
  dispose(): void;
}

export const statusBarItems: FakeStatusBarItem[] = [];

/** A tree view that records its title description and message. */
export interface FakeTreeView {
  readonly id: string;
  readonly provider: unknown;
  description: string | undefined;
  message: string | undefined;
  dispose(): void;
}

export const treeViews: FakeTreeView[] = [];

/** A webview panel: `receive` plays a message from its page; `posted` holds what the host sent it. */
export interface FakeWebviewPanel {
  readonly viewType: string;
  readonly webview: { html: string; readonly cspSource: string; readonly posted: unknown[]; onDidReceiveMessage: FakeEmitter<unknown>['event']; postMessage(m: unknown): Promise<boolean> };
  readonly options: unknown;
  revealed: number;
  disposed: boolean;
  onDidDispose: FakeEmitter<void>['event'];
  receive(m: unknown): void;
  reveal(): void;
  dispose(): void;
}

export const webviewPanels: FakeWebviewPanel[] = [];

function createWebviewPanel(viewType: string, _title: string, _column: unknown, options: unknown): FakeWebviewPanel {
  const messages = new FakeEmitter<unknown>();
  const disposed = new FakeEmitter<void>();
  const posted: unknown[] = [];
  const panel: FakeWebviewPanel = {
    viewType,
    options,
    webview: { html: '', cspSource: 'vscode-webview://fake', posted, onDidReceiveMessage: messages.event, postMessage: (m) => (posted.push(m), Promise.resolve(true)) },
    revealed: 0,
    disposed: false,
    onDidDispose: disposed.event,
    receive: (m) => messages.fire(m),
    reveal: () => void panel.revealed++,
    dispose: () => {
      if (panel.disposed) return;
      panel.disposed = true;
      disposed.fire();
    },
  };
  webviewPanels.push(panel);
  return panel;
}

export const fakeVscode = {
  EventEmitter: FakeEmitter,
  MarkdownString,
  TreeItem,
  ThemeIcon,
  ThemeColor,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ViewColumn: { Active: -1 },
  window: {
    createWebviewPanel,
    activeTextEditor: undefined,
    /** Messages shown, newest last: [kind, text]. */
    shown: [] as [string, string][],
    showInformationMessage(text: string): Promise<undefined> {
      this.shown.push(['info', text]);
      return Promise.resolve(undefined);
    },
    showErrorMessage(text: string): Promise<undefined> {
      this.shown.push(['error', text]);
      return Promise.resolve(undefined);
    },
    onDidChangeActiveTextEditor: () => ({ dispose: () => undefined }),
    createTreeView: (id: string, opts: { treeDataProvider: unknown }): FakeTreeView => {
      const view: FakeTreeView = { id, provider: opts.treeDataProvider, description: undefined, message: undefined, dispose: () => undefined };
      treeViews.push(view);
      return view;
    },
    createStatusBarItem: (): FakeStatusBarItem => {
      const item: FakeStatusBarItem = { text: '', tooltip: undefined, show: () => undefined, dispose: () => undefined };
      statusBarItems.push(item);
      return item;
    },
  },
  Uri: { parse: (s: string) => ({ path: new URL(s).pathname }) },
};

type ModuleWithLoad = typeof Module & { _load(request: string, parent: unknown, isMain: boolean): unknown };

/** Loads modules that import 'vscode' with the fake in its place (use with require inside `load`). */
export function withFakeVscode<T>(load: () => T): T {
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
