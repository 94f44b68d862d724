// A preview tab that waits for the user's decision ("Write Checkpoint…" or "Cancel"; closing the tab is a
// cancel) and can be asked again after a dismissed dialog (writeChoice). The prune / merge preview
// (planPreviewPanel.ts), the upcycling preview (upcyclePreviewPanel.ts) and the add-experts preview
// (growPreview/addExpertsPreviewPanel.ts) are this with their own HTML; all speak the messages of planPreviewHtml.ts. It loads no resources (localResourceRoots is empty).
import * as vscode from 'vscode';
import { type HostToPreview, parsePreviewMessage } from './planPreviewHtml';

export class DecisionPanel implements vscode.Disposable {
  protected readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private waiting: ((d: 'write' | 'cancel') => void) | undefined;
  private disposed = false;

  /** `html` gets the webview's cspSource; `onReveal` answers a clicked token (source, token index). */
  constructor(viewType: string, title: string, html: (cspSource: string) => string, onReveal?: (source: number, token: number) => void) {
    this.panel = vscode.window.createWebviewPanel(viewType, title, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      enableScripts: true,
      localResourceRoots: [],
      enableFindWidget: true,
    });
    this.panel.webview.html = html(this.panel.webview.cspSource);
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        const msg = parsePreviewMessage(m);
        if (!msg) return;
        if (msg.type === 'reveal') onReveal?.(msg.source, msg.token);
        else this.settle(msg.type);
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

  /**
   * Waits for Write, then asks `choose` (the output folder, …): its answer, or undefined once the user cancels
   * (the Cancel button or a closed tab). A dismissed question re-enables the buttons for a new choice.
   */
  async writeChoice<T>(choose: () => Promise<T | undefined>): Promise<T | undefined> {
    for (;;) {
      if ((await this.decision()) === 'cancel') return undefined;
      const chosen = await choose();
      if (chosen !== undefined) return chosen;
      this.enable();
    }
  }

  /** Re-enables the buttons (the write dialog was dismissed: the user may choose again). */
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
