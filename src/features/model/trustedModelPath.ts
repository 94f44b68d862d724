// moeWorkbench.modelPath is a restricted setting (package.json capabilities.untrustedWorkspaces): a
// workspace must not make the extension load a model folder of its choosing until the user trusts it.
// VS Code already hides a restricted workspace value from getConfiguration(); this reads the user's value
// explicitly in Restricted Mode anyway, and finds the workspace value that was held back so we can say so.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Settings } from '../ids';

/** The model path to load: any scope when the workspace is trusted, only the user's (or the default) when not. */
export function modelPathSetting(): string {
  const config = vscode.workspace.getConfiguration(Settings.section);
  if (vscode.workspace.isTrusted) return config.get<string>(Settings.modelPath, '').trim();
  const scopes = config.inspect<string>(Settings.modelPath);
  return (scopes?.globalValue ?? scopes?.defaultValue ?? '').trim();
}

/** The workspace's (or a folder's) moeWorkbench.modelPath that Restricted Mode holds back; undefined when trusted or unset. */
export function heldBackWorkspaceModelPath(): string | undefined {
  if (vscode.workspace.isTrusted) return undefined;
  const scopes = vscode.workspace.getConfiguration(Settings.section).inspect<string>(Settings.modelPath);
  const fromApi = [scopes?.workspaceFolderValue, scopes?.workspaceValue].find((v) => typeof v === 'string' && v.trim() !== '');
  if (fromApi !== undefined) return fromApi.trim();
  // VS Code leaves a restricted workspace value out of inspect() too, so look at the settings files.
  const files = [
    ...(vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.vscode', 'settings.json')),
    ...(vscode.workspace.workspaceFile?.scheme === 'file' ? [vscode.workspace.workspaceFile.fsPath] : []),
  ];
  for (const file of files) {
    const value = settingInFile(file, `${Settings.section}.${Settings.modelPath}`);
    if (value) return value;
  }
  return undefined;
}

/** A string setting's value in a JSONC settings file, found by key (good enough to tell the user; never used to load). */
function settingInFile(file: string, key: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`"${key.replace(/\./g, '\\.')}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(text);
  if (!m) return undefined;
  try {
    const v = JSON.parse(m[1]!) as string;
    return v.trim() || undefined;
  } catch {
    return undefined;
  }
}
