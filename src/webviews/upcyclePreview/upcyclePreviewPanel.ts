// The preview panel of an upcycling: shows upcyclePreviewHtml and answers the user's decision ("Write
// Checkpoint…" or "Cancel"; closing the tab is a cancel). It loads no resources (localResourceRoots is empty).
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';
import type { UpcyclePreview } from '../../protocol/engineProtocol';
import { type HostToPreview, parsePreviewMessage } from '../planPreview/planPreviewHtml';
import { upcyclePreviewHtml } from './upcyclePreviewHtml';

export class UpcyclePreviewPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private waiting: ((d: 'write' | 'cancel') => void) | undefined;
  private disposed = false;

  constructor(preview: UpcyclePreview) {
    this.panel = vscode.window.createWebviewPanel(Panels.upcyclePreview, `Upcycle preview: ${preview.source.name}`, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      enableScripts: true,
      localResourceRoots: [],
      enableFindWidget: true,
    });
    this.panel.webview.html = upcyclePreviewHtml(preview, { cspSource: this.panel.webview.cspSource });
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        const msg = parsePreviewMessage(m);
        if (msg && msg.type !== 'reveal') this.settle(msg.type);
      }),
      this.panel.onDidDispose(() => {
        this.disposed = true;
        this.settle('cancel');
        for (const d of this.disposables) d.dispose();
      }),
    );
  }

  /** Resolves when the user chooses; a closed panel is a cancel. Call again after `enable()` for a new choice. */
  decision(): Promise<'write' | 'cancel'> {
    if (this.disposed) return Promise.resolve('cancel');
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Re-enables the buttons (the output folder dialog was dismissed: the user may choose again). */
  enable(): void {
    if (this.disposed) return;
    const msg: HostToPreview = { type: 'enable' };
    this.panel.webview.postMessage(msg).then(undefined, () => undefined);
    this.panel.reveal(undefined, false);
  }

  private settle(d: 'write' | 'cancel'): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(d);
  }

  dispose(): void {
    if (!this.disposed) this.panel.dispose();
  }
}
