// The report of an upcycling in an editor tab: report.json of the checkpoint folder drawn again by
// upcycleReportHtml (no scripts; styles by nonce plus the webview's cspSource; nothing loaded). The file is
// read size-capped (readReportJson) and its shape checked before drawing, since anyone can hand over a folder.
import type * as vscode from 'vscode';
import { MoeError } from '../../protocol/moeError';
import { showReportTab } from '../report/reportTab';
import { UPCYCLE_REPORT_FORMAT, type UpcycleReport, upcycleReportHtml } from '../../report/upcycleReport';

export function isUpcycleReport(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { format?: unknown }).format === UPCYCLE_REPORT_FORMAT;
}

/** The page of an upcycling report, or MoeError when `raw` is not one upcycleReportHtml can draw. */
export function upcycleReportPage(raw: unknown, file: string, cspSource?: string): string {
  const r = raw as UpcycleReport;
  const ok = isUpcycleReport(raw) && r.version === 1 && typeof r.figures === 'object' && r.figures !== null && Array.isArray(r.experts) && Array.isArray(r.moeLayers) && typeof r.settings === 'object' && r.settings !== null && typeof r.source === 'object' && r.source !== null && typeof r.output === 'object' && r.output !== null;
  if (!ok) throw new MoeError('E_INPUT', `${file} is not a version-1 MoE Workbench upcycling report`, file);
  try {
    return upcycleReportHtml(r, cspSource ? { cspSource } : {});
  } catch (e) {
    throw new MoeError('E_INPUT', `${file} is not a well-formed MoE Workbench upcycling report (${(e as Error).message})`, file);
  }
}

export function showUpcycleReportPanel(raw: unknown, file: string): vscode.WebviewPanel {
  return showReportTab(file, (cspSource) => upcycleReportPage(raw, file, cspSource));
}
