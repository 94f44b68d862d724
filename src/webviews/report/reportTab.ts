// The editor tab a saved report is drawn in (fine-tuning, upcycling, add-experts): no scripts, nothing loaded
// (no local resource roots), find widget on; the page is drawn for the tab's cspSource and the tab is closed
// again when the page cannot be drawn (the error goes to the caller).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Panels } from '../../features/ids';

export function showReportTab(file: string, page: (cspSource: string) => string): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(Panels.report, `MoE report: ${path.basename(path.dirname(file))}`, vscode.ViewColumn.Active, {
    enableScripts: false,
    localResourceRoots: [],
    enableFindWidget: true,
  });
  try {
    panel.webview.html = page(panel.webview.cspSource);
  } catch (e) {
    panel.dispose();
    throw e;
  }
  return panel;
}
