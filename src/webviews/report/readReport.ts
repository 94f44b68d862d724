// Reading a saved report.json back (from a checkpoint folder or the file itself), and the report tab's
// title. Pure: no vscode import.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OperationReport } from '../../protocol/expertOps';
import { ShapeError } from '../../protocol/jsonShape';
import { MoeError } from '../../protocol/moeError';
import { parseReport } from './reportSchema';

/** Far above a real report (its per-token lists are capped), far below what would stall the host. */
export const MAX_REPORT_BYTES = 64 * 1024 * 1024;

export function reportTitle(report: OperationReport): string {
  const dir = report.written?.dir;
  return `MoE report: ${dir ? path.basename(dir) : report.title}`;
}

/** The report.json of a checkpoint folder (or the file given), its whole schema checked (reportSchema.ts). */
export function readReport(fileOrDir: string): OperationReport {
  let file = path.resolve(fileOrDir);
  try {
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'report.json');
  } catch {
    throw new MoeError('E_INPUT', `${file} does not exist`, file);
  }
  // Reports are a few hundred KiB; a huge file is not one, and reading it would stall the editor.
  const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size > MAX_REPORT_BYTES) throw new MoeError('E_INPUT', `${file} is ${size} bytes, larger than any MoE Workbench report (at most ${MAX_REPORT_BYTES} bytes)`, file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'not found (is this a checkpoint written by MoE Workbench?)' : err instanceof SyntaxError ? `not valid JSON (${err.message})` : err.message;
    throw new MoeError('E_INPUT', `${file}: ${why}`, file);
  }
  try {
    return parseReport(raw);
  } catch (e) {
    if (e instanceof ShapeError) throw new MoeError('E_INPUT', `${file} is not a MoE Workbench operation report: ${e.message}`, file);
    throw e;
  }
}
