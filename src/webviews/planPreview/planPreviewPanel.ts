// The preview panel of a prune / merge plan: shows planPreviewHtml, answers the user's decision ("Write
// Checkpoint…" or "Cancel"; closing the tab is a cancel) and reveals clicked tokens in their editors. It
// loads no resources (localResourceRoots is empty): everything is in the HTML.
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';
import { type HostToPreview, type PlanPreview, parsePreviewMessage, planPreviewHtml } from './planPreviewHtml';

/** Where a clicked token of a source is: a document (or file) and a UTF-16 range in it. */
export type TokenLocator = (source: number, token: number) => { uri: vscode.Uri; start: number; end: number } | undefined;

export class PlanPreviewPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private waiting: ((d: 'write' | 'cancel') => void) | undefined;
  private disposed = false;

  constructor(preview: PlanPreview, private readonly locate: TokenLocator) {
    const verb = preview.plan.operation === 'prune' ? 'Prune' : 'Merge';
    this.panel = vscode.window.createWebviewPanel(Panels.planPreview, `${verb} preview: ${preview.modelName}`, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      enableScripts: true,
      localResourceRoots: [],
      enableFindWidget: true,
    });
    this.panel.webview.html = planPreviewHtml(preview, { cspSource: this.panel.webview.cspSource });
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
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

  private onMessage(data: unknown): void {
    const msg = parsePreviewMessage(data);
    if (!msg) return;
    if (msg.type === 'reveal') void this.reveal(msg.source, msg.token);
    else this.settle(msg.type);
  }

  private async reveal(source: number, token: number): Promise<void> {
    const at = this.locate(source, token);
    if (!at) return;
    try {
      const doc = await vscode.workspace.openTextDocument(at.uri);
      const shown = vscode.window.visibleTextEditors.find((e) => e.document === doc);
      const column = shown?.viewColumn ?? (this.panel.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Beside : vscode.ViewColumn.One);
      const editor = await vscode.window.showTextDocument(doc, { viewColumn: column, preserveFocus: false, preview: false });
      const len = doc.getText().length;
      const range = new vscode.Range(doc.positionAt(Math.min(at.start, len)), doc.positionAt(Math.min(at.end, len)));
      editor.selection = new vscode.Selection(range.start, range.end);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    } catch (e) {
      void vscode.window.showErrorMessage(`MoE Workbench could not show the token: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (!this.disposed) this.panel.dispose();
  }
}
