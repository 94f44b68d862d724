// The report of an add-experts in an editor tab: report.json of the checkpoint folder drawn again by
// addExpertsReportHtml (no scripts; styles by nonce plus the webview's cspSource; nothing loaded). The file is
// read size-capped (readReportJson) and its shape checked before drawing, since anyone can hand over a folder.
import type * as vscode from 'vscode';
import { MoeError } from '../../protocol/moeError';
import { showReportTab } from '../report/reportTab';
import { ADD_EXPERTS_REPORT_FORMAT, type AddExpertsReport, addExpertsReportHtml } from '../../report/addExpertsReport';

export function isAddExpertsReport(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { format?: unknown }).format === ADD_EXPERTS_REPORT_FORMAT;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null;

/** The page of an add-experts report, or MoeError when `raw` is not one addExpertsReportHtml can draw. */
export function addExpertsReportPage(raw: unknown, file: string, cspSource?: string): string {
  const r = raw as AddExpertsReport;
  const ok =
    isAddExpertsReport(raw) && r.version === 1 && isObject(r.figures) && isObject(r.figures.parameters) && isObject(r.figures.bytes) && isObject(r.settings) && isObject(r.source) && isObject(r.output) && isObject(r.functionPreservation) && Array.isArray(r.moeLayers) &&
    Array.isArray(r.layers) && r.layers.every((l) => isObject(l) && Array.isArray(l.added) && l.added.every(isObject));
  if (!ok) throw new MoeError('E_INPUT', `${file} is not a version-1 MoE Workbench add-experts report`, file);
  try {
    return addExpertsReportHtml(r, cspSource ? { cspSource } : {});
  } catch (e) {
    throw new MoeError('E_INPUT', `${file} is not a well-formed MoE Workbench add-experts report (${(e as Error).message})`, file);
  }
}

export function showAddExpertsReportPanel(raw: unknown, file: string): vscode.WebviewPanel {
  return showReportTab(file, (cspSource) => addExpertsReportPage(raw, file, cspSource));
}
