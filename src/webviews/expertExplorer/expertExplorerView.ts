// Host side of the Expert Explorer webview view. The webview keeps only UI state; its data is replayed
// from the source on 'ready', on changes (coalesced) and whenever the view becomes visible again, because
// a hidden view's webview is destroyed (no retainContextWhenHidden: that would keep it in memory).
import * as vscode from 'vscode';
import type { HostToExplorer } from '../../protocol/explorerProtocol';
import { explorerHtml } from './explorerHtml';
import { parseExplorerMessage } from './explorerMessages';
import type { ExplorerStateSource } from './explorerStateSource';

/** Changes within this window are sent as one state message. */
const COALESCE_MS = 50;

export class ExpertExplorerView implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'moeWorkbench.explorer';

  private view: vscode.WebviewView | undefined;
  private viewListeners: vscode.Disposable[] = [];
  private readonly sourceListener: vscode.Disposable;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly source: ExplorerStateSource,
  ) {
    this.sourceListener = source.onDidChange(() => this.schedulePost());
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.releaseView();
    this.view = view;
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [root] };
    view.webview.html = explorerHtml(view.webview, vscode.Uri.joinPath(root, 'explorer.js'));
    this.viewListeners.push(
      view.webview.onDidReceiveMessage((data: unknown) => this.onMessage(data)),
      view.onDidChangeVisibility(() => {
        if (view.visible) this.postNow();
      }),
      view.onDidDispose(() => {
        if (this.view === view) this.releaseView();
      }),
    );
  }

  private onMessage(data: unknown): void {
    const msg = parseExplorerMessage(data);
    if (!msg) return;
    switch (msg.type) {
      case 'ready':
        // A (re)loaded webview has no data at all: answer at once rather than after the coalescing delay.
        this.postNow();
        break;
      case 'revealToken':
      case 'selectExpert':
      case 'selectLayer':
      case 'selectStatistic':
        break;
      default: {
        const unknown: never = msg;
        return unknown;
      }
    }
    this.source.handle(msg);
  }

  private schedulePost(): void {
    if (this.timer !== undefined || !this.view) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.postNow();
    }, COALESCE_MS);
  }

  /** Posts the current state if the view can show it; a hidden view gets it when it is shown again. */
  private postNow(): void {
    const view = this.view;
    if (!view?.visible) return;
    const msg: HostToExplorer = { type: 'state', state: this.source.current() };
    // Rejected only when the webview is gone, which onDidDispose already handles.
    view.webview.postMessage(msg).then(undefined, () => undefined);
  }

  private releaseView(): void {
    for (const d of this.viewListeners) d.dispose();
    this.viewListeners = [];
    this.view = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.sourceListener.dispose();
    this.releaseView();
  }
}
