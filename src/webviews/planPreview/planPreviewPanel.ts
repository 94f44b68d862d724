// The preview panel of a prune / merge plan: shows planPreviewHtml, answers the user's decision ("Write
// Checkpoint…" or "Cancel"; closing the tab is a cancel) and reveals clicked tokens in their editors. It
// loads no resources (localResourceRoots is empty): everything is in the HTML.
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';
import { DecisionPanel } from './decisionPanel';
import { type PlanPreview, planPreviewHtml } from './planPreviewHtml';

/** Where a clicked token of a source is: a document (or file) and a UTF-16 range in it. */
export type TokenLocator = (source: number, token: number) => { uri: vscode.Uri; start: number; end: number } | undefined;

export class PlanPreviewPanel extends DecisionPanel {
  constructor(preview: PlanPreview, private readonly locate: TokenLocator) {
    const verb = preview.plan.operation === 'prune' ? 'Prune' : 'Merge';
    super(Panels.planPreview, `${verb} preview: ${preview.modelName}`, (cspSource) => planPreviewHtml(preview, { cspSource }), (source, token) => void this.reveal(source, token));
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
}
