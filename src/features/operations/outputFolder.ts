// Where a new checkpoint goes: what is at a path now, and the default folder for an operation's output
// (beside the model, or in the workspace for the bundled demo model, which lives inside the extension).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelInfo } from '../../protocol/modelInfo';
import { type OperationNaming, defaultOutputDir, isInside } from './operationInputs';

export function pathState(p: string): 'missing' | 'emptyDir' | 'nonEmptyDir' | 'file' {
  try {
    const st = fs.statSync(p);
    if (!st.isDirectory()) return 'file';
    return fs.readdirSync(p).length === 0 ? 'emptyDir' : 'nonEmptyDir';
  } catch {
    return 'missing';
  }
}

export function defaultOutputFolder(info: ModelInfo, naming: OperationNaming, extensionPath: string): string {
  const inExtension = isInside(path.resolve(info.path), path.resolve(extensionPath));
  const parent = inExtension ? (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir()) : path.dirname(info.path);
  return defaultOutputDir(info.path, naming, (p) => pathState(p) !== 'missing', parent);
}
