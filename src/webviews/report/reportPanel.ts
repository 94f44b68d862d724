// The report of a finished prune / merge in an editor tab: reportHtml (no scripts; styles by nonce plus the
// webview's cspSource; nothing loaded, so no local resource roots).
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';
import type { OperationReport } from '../../protocol/expertOps';
import { reportHtml } from '../../report/reportHtml';
import { reportTitle } from './readReport';

export { readReport } from './readReport';

export function showReportPanel(report: OperationReport): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(Panels.report, reportTitle(report), vscode.ViewColumn.Active, {
    enableScripts: false,
    localResourceRoots: [],
    enableFindWidget: true,
  });
  panel.webview.html = reportHtml(report, { cspSource: panel.webview.cspSource });
  return panel;
}
