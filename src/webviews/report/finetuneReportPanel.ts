// The report of a fine-tuning run in an editor tab: report.json of the checkpoint (or adapter) folder drawn again by
// finetuneReportHtml (no scripts; styles by nonce plus the webview's cspSource, so VS Code's own theme styles
// apply; nothing loaded). The file is read defensively: size-capped, its format checked, and any shape
// finetuneReportHtml cannot draw is reported as not being a fine-tuning report.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { MoeError } from '../../protocol/moeError';
import { showReportTab } from './reportTab';
import { type FinetuneReport, finetuneReportHtml } from '../../report/finetuneReport';
import { checkGrowth } from '../../report/growthReport';
import { MAX_REPORT_BYTES } from './readReport';

export const FINETUNE_REPORT_FORMAT = 'moe-workbench.finetune-report';

/** The JSON of report.json (in `fileOrDir`, or the file itself), size-capped; MoeError naming the file otherwise. */
export function readReportJson(fileOrDir: string): { file: string; raw: unknown } {
  let file = path.resolve(fileOrDir);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new MoeError('E_INPUT', `${file} does not exist`, file);
  if (st.isDirectory()) file = path.join(file, 'report.json');
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (size === undefined) throw new MoeError('E_INPUT', `${file}: not found (is this a checkpoint written by MoE Workbench?)`, file);
  if (size > MAX_REPORT_BYTES) throw new MoeError('E_INPUT', `${file} is ${size} bytes, larger than any MoE Workbench report (at most ${MAX_REPORT_BYTES} bytes)`, file);
  try {
    return { file, raw: JSON.parse(fs.readFileSync(file, 'utf8')) as unknown };
  } catch (e) {
    throw new MoeError('E_INPUT', `${file}: not valid JSON (${(e as Error).message})`, file);
  }
}

export function isFinetuneReport(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { format?: unknown }).format === FINETUNE_REPORT_FORMAT;
}

/** The page of a fine-tuning report, or MoeError when `raw` is not one finetuneReportHtml can draw. */
export function finetuneReportPage(raw: unknown, file: string, cspSource: string): string {
  const r = raw as FinetuneReport;
  if (!isFinetuneReport(raw) || r.version !== 1 || !Array.isArray(r.history) || !Array.isArray(r.routingDrift) || !Array.isArray(r.expertChanges)) {
    throw new MoeError('E_INPUT', `${file} is not a version-1 MoE Workbench fine-tuning report`, file);
  }
  try {
    if (r.growth !== undefined) checkGrowth(r.growth);
    return finetuneReportHtml(r, { cspSource });
  } catch (e) {
    throw new MoeError('E_INPUT', `${file} is not a well-formed MoE Workbench fine-tuning report (${(e as Error).message})`, file);
  }
}

export function showFinetuneReportPanel(raw: unknown, file: string): vscode.WebviewPanel {
  return showReportTab(file, (cspSource) => finetuneReportPage(raw, file, cspSource));
}
