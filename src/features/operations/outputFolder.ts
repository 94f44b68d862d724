// Where a new checkpoint goes: what is at a path now, and the default folder for an operation's output
// (beside the model, or in the workspace for the bundled demo model, which lives inside the extension).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelInfo } from '../../protocol/modelInfo';
import { type OperationNaming, defaultOutputDir, isInside, validateOutputDir } from './operationInputs';

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

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Asks for a new checkpoint's folder: beside the model by default (the workspace for the bundled demo model, or
 * when the model's folder is read-only, as a shared cache or fixtures are), validated as a new output folder.
 */
export async function askNewCheckpointFolder(info: ModelInfo, naming: OperationNaming, extensionPath: string, title: string, prompt: string): Promise<string | undefined> {
  let def = defaultOutputFolder(info, naming, extensionPath);
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (root && !writable(path.dirname(def))) def = defaultOutputDir(info.path, naming, (p) => pathState(p) !== 'missing', root);
  const v = await vscode.window.showInputBox({
    title,
    prompt,
    value: def,
    valueSelection: [def.length - path.basename(def).length, def.length],
    validateInput: (t) => validateOutputDir(t, info.path, pathState),
    ignoreFocusOut: true,
  });
  return v === undefined ? undefined : path.resolve(v.trim());
}
