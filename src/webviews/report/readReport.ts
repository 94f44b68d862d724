// Reading a saved report.json back (from a checkpoint folder or the file itself), and the report tab's
// title. Pure: no vscode import.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OperationReport } from '../../protocol/expertOps';
import { MoeError } from '../../protocol/moeError';

export function reportTitle(report: OperationReport): string {
  const dir = report.written?.dir;
  return `MoE report: ${dir ? path.basename(dir) : report.title}`;
}

/** The report.json of a checkpoint folder (or the file given), checked to be a MoE Workbench report. */
export function readReport(fileOrDir: string): OperationReport {
  let file = path.resolve(fileOrDir);
  try {
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'report.json');
  } catch {
    throw new MoeError('E_INPUT', `${file} does not exist`, file);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'not found (is this a checkpoint written by MoE Workbench?)' : err instanceof SyntaxError ? `not valid JSON (${err.message})` : err.message;
    throw new MoeError('E_INPUT', `${file}: ${why}`, file);
  }
  const r = raw as Partial<OperationReport> | null;
  if (!r || typeof r !== 'object' || typeof r.title !== 'string' || r.record?.format !== 'moe-workbench.operation' || typeof r.written?.dir !== 'string' || !Array.isArray(r.notes)) {
    throw new MoeError('E_INPUT', `${file} is not a MoE Workbench operation report`, file);
  }
  return r as OperationReport;
}
